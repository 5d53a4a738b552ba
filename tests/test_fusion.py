"""Contract tests for every registered fusion, with every CPU attention backend."""

import pytest
import torch

from lanistr_core import create_fusion, list_fusions
from lanistr_core.fusion import PerceiverFusion
from lanistr_core.testing import check_fusion_contract

ATTENTION_FUSIONS = {"perceiver", "concat_transformer"}


@pytest.mark.parametrize("name", list_fusions())
@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_fusion_contract(name, backend):
    config = {"attention": backend} if name in ATTENTION_FUSIONS else {}
    check_fusion_contract(create_fusion(name, dim=32, n_modalities=2, **config))


def test_builtin_fusions_registered():
    assert {"perceiver", "concat_transformer", "late"} <= set(list_fusions())


@pytest.mark.parametrize("name", sorted(ATTENTION_FUSIONS))
def test_sdpa_fusion_matches_math_fusion(name):
    torch.manual_seed(0)
    a = create_fusion(name, dim=32, n_modalities=2, attention="math").eval()
    b = create_fusion(name, dim=32, n_modalities=2, attention="sdpa").eval()
    b.load_state_dict(a.state_dict())
    tokens, mask = torch.randn(4, 20, 32), torch.rand(4, 20) > 0.3
    mask[:, 0] = True
    assert (a(tokens, mask).pooled - b(tokens, mask).pooled).abs().max() < 1e-5


def test_perceiver_output_size_is_independent_of_input_tokens():
    fusion = PerceiverFusion(dim=16, num_latents=8, depth=1, heads=2, attention="math")
    for n in (3, 50):
        out = fusion(torch.randn(2, n, 16), torch.ones(2, n, dtype=torch.bool))
        assert out.tokens.shape == (2, 8, 16)


def test_bad_width_raises():
    with pytest.raises(ValueError, match="divisible"):
        create_fusion("perceiver", dim=30, heads=4)


@pytest.mark.parametrize("pooling", ["mean", "query"])
def test_perceiver_pooling_modes_meet_the_contract(pooling):
    check_fusion_contract(create_fusion("perceiver", dim=32, n_modalities=2, attention="math", pooling=pooling))


def test_perceiver_mean_pooling_is_the_normalised_latent_mean():
    fusion = PerceiverFusion(dim=16, num_latents=8, depth=1, heads=2, attention="math", pooling="mean").eval()
    out = fusion(torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.bool))
    expected = torch.nn.functional.layer_norm(out.tokens.mean(1), (16,), fusion.norm_out.weight, fusion.norm_out.bias)
    assert torch.allclose(out.pooled, expected, atol=1e-6)


def test_perceiver_unknown_pooling_raises():
    with pytest.raises(ValueError, match="pooling must be one of"):
        PerceiverFusion(dim=16, pooling="cls")
