"""Opt-in ``torch.compile`` of a module's forward, falling back to eager where compilation fails.

``LanistrConfig.compile=True`` compiles the fusion (the part whose cost grows with the number of
tokens). Compilation can be unavailable (an unsupported Python or platform, no C++ compiler for
inductor on CPU) or can fail on a construct the installed torch cannot trace; a model must still
train then, so the first failure is reported once as a ``CompileFallbackWarning`` and the module
runs eagerly from then on. Errors that are not compilation errors propagate unchanged.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import torch
from torch import nn


class CompileFallbackWarning(UserWarning):
    """``compile=True`` was asked for but compilation failed; the module runs eagerly instead."""


def _is_compile_error(err: BaseException) -> bool:
    """Errors raised by dynamo / inductor themselves (not by the model's own code)."""
    dynamo_exc = getattr(getattr(torch, "_dynamo", None), "exc", None)
    base = getattr(dynamo_exc, "TorchDynamoException", None)
    return (base is not None and isinstance(err, base)) or type(err).__module__.startswith(("torch._dynamo", "torch._inductor"))


def compile_module(module: nn.Module, *, name: str, **options: Any) -> nn.Module:
    """Make ``module.forward`` a ``torch.compile``-d forward with an eager fallback; returns ``module``.

    Parameters and ``state_dict`` keys are unchanged (only the instance's ``forward`` is replaced),
    so saved models load with or without compilation. ``options`` go to ``torch.compile``.
    """
    eager = module.forward
    try:
        compiled = torch.compile(eager, **options)
    except Exception as err:  # e.g. RuntimeError: Dynamo is not supported on this Python
        warnings.warn(f"{name}: torch.compile is unavailable ({err}); running eagerly", CompileFallbackWarning, stacklevel=2)
        return module
    failed = False

    @functools.wraps(eager)
    def forward(*args: Any, **kwargs: Any) -> Any:
        nonlocal failed
        if not failed:
            try:
                return compiled(*args, **kwargs)
            except Exception as err:
                if not _is_compile_error(err):
                    raise
                failed = True
                warnings.warn(f"{name}: torch.compile failed ({type(err).__name__}: {str(err).splitlines()[0]}); "
                              "running eagerly from now on", CompileFallbackWarning, stacklevel=2)
        return eager(*args, **kwargs)

    module.forward = forward
    return module
