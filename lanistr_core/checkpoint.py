"""Training checkpoints in one safetensors file (weights + optimizer tensors; JSON state in metadata)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from lanistr_core.serialization import save_tensors


def save_checkpoint(
    path: str | os.PathLike,
    *,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
) -> None:
    """Atomically write module weights, optimizer state and a JSON ``state`` dict to ``path``."""
    tensors = {f"module.{k}": v for k, v in module.state_dict().items()}
    opt = optimizer.state_dict()
    plain: dict[str, dict[str, Any]] = {}
    for pid, slots in opt["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                plain.setdefault(str(pid), {})[key] = value
    meta = {"state": state, "param_groups": opt["param_groups"], "optim_plain": plain, "scheduler": scheduler.state_dict()}
    save_tensors(path, tensors, metadata={"lanistr_checkpoint": json.dumps(meta)})


def load_checkpoint(
    path: str | os.PathLike,
    *,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON ``state`` dict."""
    device = next(module.parameters()).device
    with safe_open(str(path), framework="pt", device=str(device)) as fh:
        meta = json.loads(fh.metadata()["lanistr_checkpoint"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    module.load_state_dict({k[len("module."):]: v for k, v in tensors.items() if k.startswith("module.")})
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, slot = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[slot] = value
    for pid, slots in meta["optim_plain"].items():
        opt_state.setdefault(int(pid), {}).update(slots)
    optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return meta["state"]


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """True when a checkpoint file is present."""
    return Path(path).is_file()
