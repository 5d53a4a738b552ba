"""compile=True: the fusion runs through torch.compile, matches eager, and falls back when it cannot compile."""

from __future__ import annotations

import warnings

import pytest
import torch

from lanistr_core.compilation import CompileFallbackWarning, compile_module
from lanistr_core.fusion import PerceiverFusion


def _pair(seed: int = 0) -> tuple[PerceiverFusion, PerceiverFusion]:
    torch.manual_seed(seed)
    eager = PerceiverFusion(dim=32, num_latents=8, depth=1, heads=2, attention="sdpa")
    other = PerceiverFusion(dim=32, num_latents=8, depth=1, heads=2, attention="sdpa")
    other.load_state_dict(eager.state_dict())
    return eager, other


def test_compiled_perceiver_matches_eager_forward_and_backward():
    eager, compiled = _pair()
    compile_module(compiled, name="perceiver")
    x = torch.randn(3, 20, 32)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[0, 5:], mask[2] = False, False  # a partly and a wholly absent row: the branch-free masked path
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)  # must really compile on this torch
        out = compiled(x, mask)
    ref = eager(x, mask)
    torch.testing.assert_close(out.tokens, ref.tokens, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.pooled, ref.pooled, atol=1e-5, rtol=1e-5)
    out.pooled.sum().backward(), ref.pooled.sum().backward()
    for (name, a), b in zip(compiled.named_parameters(), eager.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # saved models load either way


def test_compile_failure_falls_back_to_eager_once_with_a_warning(monkeypatch):
    eager, module = _pair()
    calls = []

    def broken_compile(fn, **options):
        def run(*args, **kwargs):
            calls.append(1)
            raise torch._dynamo.exc.InternalTorchDynamoError("cannot trace this")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    compile_module(module, name="fusion 'perceiver'")
    x, mask = torch.randn(2, 6, 32), torch.ones(2, 6, dtype=torch.bool)
    with pytest.warns(CompileFallbackWarning, match="fusion 'perceiver': torch.compile failed .InternalTorchDynamoError"):
        out = module(x, mask)
    torch.testing.assert_close(out.pooled, eager(x, mask).pooled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module(x, mask)  # eager from now on: no second attempt, no second warning
    assert len(calls) == 1


def test_unavailable_compile_warns_and_errors_of_the_model_itself_propagate(monkeypatch):
    _, module = _pair()

    def unavailable(fn, **options):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", unavailable)
    with pytest.warns(CompileFallbackWarning, match="unavailable"):
        compile_module(module, name="fusion")
    monkeypatch.undo()

    _, module = _pair()
    monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)  # "compiled" = eager: real model errors
    compile_module(module, name="fusion")
    with pytest.raises(RuntimeError):
        module(torch.randn(2, 6, 31), torch.ones(2, 6, dtype=torch.bool))  # wrong width: the model's own error


def test_lanistr_compile_option_compiles_the_fusion(monkeypatch):
    from lanistr_core import Lanistr
    from lanistr_core.testing import make_multimodal_frame

    seen = []
    monkeypatch.setattr(torch, "compile", lambda fn, **options: seen.append(fn) or fn)
    frame = make_multimodal_frame(24, seed=0, modalities=("tabular", "timeseries"))
    model = Lanistr({"tabular": ["age", "size"], "timeseries": ["vitals"]}, label="label", preset="tiny",
                    device="cpu", verbose=False, compile=True, finetune={"epochs": 1, "validation": "none"})
    model.fit(frame)
    assert len(seen) == 1 and seen[0].__self__ is model.model_.fusion
