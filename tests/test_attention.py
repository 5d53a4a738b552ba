"""The attention backends agree with the math reference and honour key masks."""

import pytest
import torch

from lanistr_core.attention import attend, resolve_backend, xformers_available


def _qkv(B=3, H=2, Lq=5, Lk=7, Dh=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, L, Dh, generator=g) for L in (Lq, Lk, Lk)]


@pytest.mark.parametrize("backend", ["sdpa", "auto"])
@pytest.mark.parametrize("masked", [False, True])
def test_backends_agree_with_math(backend, masked):
    q, k, v = _qkv()
    key_mask = None
    if masked:
        key_mask = torch.rand(3, 7, generator=torch.Generator().manual_seed(1)) > 0.4
        key_mask[:, 0] = True
    ref = attend(q, k, v, key_mask=key_mask, backend="math")
    out = attend(q, k, v, key_mask=key_mask, backend=backend)
    assert (out - ref).abs().max() < 1e-5


@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_masked_keys_have_no_effect(backend):
    q, k, v = _qkv()
    key_mask = torch.tensor([[1, 1, 0, 0, 1, 0, 1]] * 3, dtype=torch.bool)
    out = attend(q, k, v, key_mask=key_mask, backend=backend)
    k2, v2 = k.clone(), v.clone()
    k2[..., ~key_mask[0], :] = 1e3
    v2[..., ~key_mask[0], :] = -1e3
    assert (attend(q, k2, v2, key_mask=key_mask, backend=backend) - out).abs().max() < 1e-6


@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_row_without_keys_gives_zero_not_nan(backend):
    q, k, v = _qkv()
    key_mask = torch.ones(3, 7, dtype=torch.bool)
    key_mask[1] = False
    out = attend(q, k, v, key_mask=key_mask, backend=backend)
    assert torch.isfinite(out).all()
    assert out[1].abs().max() == 0
    assert (out[0] - attend(q, k, v, backend="math")[0]).abs().max() < 1e-5


def test_backend_errors_are_clear():
    with pytest.raises(ValueError, match="unknown attention backend 'flash'.*sdpa"):
        resolve_backend("flash", torch.device("cpu"))
    with pytest.raises(RuntimeError, match="xformers"):
        resolve_backend("xformers", torch.device("cpu"))
    assert resolve_backend("auto", torch.device("cpu")) == "sdpa"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("backend", ["sdpa", "xformers", "auto"])
def test_cuda_backends_agree_with_math(backend):
    if backend == "xformers" and not xformers_available():
        pytest.skip("xformers not installed (pip install 'lanistr[cuda]')")
    q, k, v = (t.cuda() for t in _qkv(B=4, H=4, Lq=16, Lk=40, Dh=32))
    key_mask = torch.rand(4, 40, device="cuda") > 0.3
    key_mask[2] = False  # a row with no key at all
    ref = attend(q, k, v, key_mask=key_mask, backend="math")
    out = attend(q, k, v, key_mask=key_mask, backend=backend)
    assert (out - ref).abs().max() < 1e-4  # float32 on GPU kernels (TF32 off by default for attention)
    k2 = torch.where(key_mask[:, None, :, None], k, torch.randn_like(k) * 100)
    assert (attend(q, k2, v, key_mask=key_mask, backend=backend) - out).abs().max() < 1e-5
