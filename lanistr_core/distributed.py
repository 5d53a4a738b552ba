"""Multi-process training with PyTorch's own DistributedDataParallel, launched by ``torchrun``.

Nothing here is a distributed layer of its own: the process group comes from the environment that
``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), gradients
are synchronised by ``torch.nn.parallel.DistributedDataParallel``, rows are split by
``torch.utils.data.DistributedSampler``, and the few collective calls the facade needs (fitted
preprocessor state from rank 0, validation rows gathered from every rank, one rank-0 decision) are
``torch.distributed`` object collectives. Without ``torchrun`` (``WORLD_SIZE`` unset or 1) every
function here is a no-op and training runs in one process exactly as before.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


def launched() -> bool:
    """True when the process was started by torchrun (or an equivalent launcher) with world size > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True when a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group if launched and not yet joined; returns this rank's device.

    Backend: NCCL for CUDA devices (one GPU per process, ``cuda:LOCAL_RANK``), gloo on CPU.
    """
    if not launched():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if "TORCHELASTIC_RESTART_COUNT" in os.environ:
            dist.init_process_group(backend=backend, store=_attempt_store(), rank=int(os.environ["RANK"]),
                                    world_size=int(os.environ["WORLD_SIZE"]))
        else:  # another launcher that sets the env:// variables
            dist.init_process_group(backend=backend)
    return device


def _attempt_store() -> dist.Store:
    """torchrun's store, with keys private to this restart attempt.

    After ``--max-restarts`` restarts a group, the store still holds the previous attempt's keys; with
    torch 2.14's default env:// init a restarted gloo rank could read a dead peer's address from them
    and fail to connect ("Connection refused"). A per-attempt prefix makes every attempt start clean.
    """
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                          timeout=timedelta(minutes=10))
    return dist.PrefixStore(f"lanistr/attempt-{os.environ['TORCHELASTIC_RESTART_COUNT']}", store)


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` under DistributedDataParallel when distributed, else ``module`` itself.

    ``find_unused_parameters=True`` on purpose: with missing modalities a batch may hold no row of
    some modality, and a masking objective then returns a zero loss without running its
    reconstruction head, so those parameters get no gradient on that rank for that step. Plain DDP
    would wait for them forever (or raise); with the flag DDP marks them ready and all-reduces zeros.
    """
    if not active():
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def broadcast(obj: T, src: int = 0) -> T:
    """``obj`` from rank ``src`` on every rank (pickled; for small things such as preprocessor state)."""
    if not active():
        return obj
    box = [obj if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. BatchNorm running statistics) to every rank, in place.

    DDP broadcasts buffers from rank 0 at the start of each forward, so rank 0's are the run's
    buffers; the last forward of an epoch still updates each rank's own copy. Syncing them before
    validation and at the end makes every rank evaluate (and finish) with identical models.
    """
    if not active():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=src)


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if active():
        dist.barrier()


def shard(n_rows: int) -> list[int]:
    """This rank's positions of ``n_rows`` evaluation rows: a strided split with no padding, so
    gathering every rank's share gives each row exactly once."""
    return list(range(rank(), n_rows, world_size()))
