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


def test_perceiver_cpu_shared_query_kernel_matches_math_in_values_and_gradients(monkeypatch):
    import lanistr_core.fusion.blocks as blocks

    calls = []
    kernel = blocks.shared_query_attention
    monkeypatch.setattr(blocks, "shared_query_attention", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    torch.manual_seed(0)
    a = create_fusion("perceiver", dim=32, n_modalities=2, heads=4, attention="math")
    b = create_fusion("perceiver", dim=32, n_modalities=2, heads=4, attention="sdpa")
    b.load_state_dict(a.state_dict())
    mask = torch.rand(4, 20) > 0.3
    mask[:, 0], mask[2] = True, False  # row 2 has no key at all: zero attention output, no NaN
    for keys in (mask, torch.ones_like(mask)):  # masked path and the every-key-present path
        tokens = torch.randn(4, 20, 32)
        outs = []
        for fusion in (a, b):
            fusion.zero_grad()
            x = tokens.clone().requires_grad_(True)
            out = fusion(x, keys)
            (out.pooled.square().sum() + out.tokens.sum()).backward()
            outs.append((out.tokens, x.grad, {n: p.grad for n, p in fusion.named_parameters()}))
        (ta, xa, ga), (tb, xb, gb) = outs
        assert torch.isfinite(tb).all() and (ta - tb).abs().max() < 1e-5
        assert (xa - xb).abs().max() < 1e-5
        for name in ga:  # float32 sums of large gradients: relative tolerance
            scale = max(1.0, ga[name].abs().max().item())
            torch.testing.assert_close(gb[name], ga[name], rtol=1e-4, atol=1e-4 * scale, msg=lambda m: f"{name}: {m}")
    assert len(calls) == 2  # the sdpa perceiver's cross-attention went through the kernel both times


def test_shared_query_attention_float64_matches_attend_with_value_bias():
    from lanistr_core.attention import attend
    from lanistr_core.fusion.shared_query import shared_query_attention

    torch.manual_seed(1)
    B, N, L, H, dh = 3, 11, 5, 2, 4
    q = torch.randn(L, H * dh, dtype=torch.float64, requires_grad=True)
    kv = torch.randn(B, N, 2 * H * dh, dtype=torch.float64, requires_grad=True)
    vb = torch.randn(H * dh, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(B, N) > 0.3
    mask[1] = False
    got = shared_query_attention(q, kv, mask, heads=H, value_bias=vb)
    k, v = kv.chunk(2, -1)
    heads = lambda t: t.reshape(B, -1, H, dh).transpose(1, 2)  # noqa: E731
    ref = attend(heads(q.expand(B, -1, -1)), heads(k), heads(v + vb), key_mask=mask, backend="math")
    ref = ref.transpose(1, 2).reshape(B, L, H * dh)
    g = torch.randn_like(ref)
    for x, y in zip(torch.autograd.grad(got, (q, kv, vb), g), torch.autograd.grad(ref, (q, kv, vb), g)):
        assert (x - y).abs().max() < 1e-10
    assert (got - ref).abs().max() < 1e-12
