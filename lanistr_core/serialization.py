"""Pickle-free persistence: JSON for plain data, safetensors for tensors, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    # no sort_keys: key order carries meaning (the modality order of a saved model)
    atomic_write_bytes(path, json.dumps(obj, indent=2).encode())


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Atomically write a safetensors file (tensors are made contiguous, shared storage is cloned)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, tmp, metadata=dict(metadata or {}))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file."""
    return load_file(str(path), device=device)


def save_state(directory: str | os.PathLike, stem: str, state: Mapping[str, Any]) -> None:
    """Split ``state`` into ``stem.json`` (plain values) and ``stem.safetensors`` (tensors)."""
    directory = Path(directory)
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    plain = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    try:
        json.dumps(plain)
    except TypeError as err:
        raise TypeError(f"state {stem!r} holds a value that is neither JSON-able nor a tensor: {err}") from err
    write_json(directory / f"{stem}.json", plain)
    if tensors:
        save_tensors(directory / f"{stem}.safetensors", tensors)


def load_state(directory: str | os.PathLike, stem: str) -> dict[str, Any]:
    """Inverse of :func:`save_state`."""
    directory = Path(directory)
    state: dict[str, Any] = read_json(directory / f"{stem}.json")
    tensor_file = directory / f"{stem}.safetensors"
    if tensor_file.exists():
        state.update(load_tensors(tensor_file))
    return state
