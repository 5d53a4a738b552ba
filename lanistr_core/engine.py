"""One training engine for pretraining and fine-tuning.

AdamW over parameter groups with their own learning rates (:mod:`lanistr_core.optim`), decoupled
weight decay on matrices only, linear warmup + cosine decay, gradient clipping, bf16 autocast on
CUDA, a data-scaled schedule (:mod:`lanistr_core.schedule`), per-epoch validation with early stopping
that cannot fire before ``min_epochs`` (best weights restored), a wall-clock ``time_limit``,
deterministic per-epoch seeding (so a resumed run matches an uninterrupted one), TensorBoard scalars,
progress bars, and an atomic checkpoint after every epoch. Under torchrun (see
:mod:`lanistr_core.distributed`) only rank 0 logs, prints and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.distributed.algorithms import Join
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from lanistr_core import distributed
from lanistr_core.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from lanistr_core.config import TrainConfig
from lanistr_core.data import MultimodalBatch
from lanistr_core.optim import build_optimizer, warmup_cosine
from lanistr_core.schedule import Schedule, resolve_schedule
from lanistr_core.serialization import save_tensors

StepFn = Callable[[MultimodalBatch, int], tuple[torch.Tensor, dict[str, float]]]
EvalFn = Callable[[DataLoader], dict[str, float]]


class TimeLimitWarning(UserWarning):
    """Training ended at ``time_limit`` before its schedule was complete."""


def is_main_process() -> bool:
    """True on rank 0 (or when not distributed)."""
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or torch.distributed.get_rank() == 0


def autocast_for(device: torch.device, enabled: bool = True) -> torch.autocast:
    """bf16 autocast on CUDA when ``enabled``; a no-op context elsewhere."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


class Trainer:
    """Runs one phase (``"pretrain"`` or ``"finetune"``) over a module that owns every trainable parameter.

    ``monitor`` names the validation metric for early stopping; ``mode`` is ``"min"`` or ``"max"``.
    ``lr_scales`` maps parameter names to learning-rate multipliers (absent: 1). After :meth:`train`,
    ``schedule`` holds the resolved length of the run and ``stop_reason`` why it ended
    (``"completed"``, ``"early_stopping"`` or ``"time_limit"``).
    """

    def __init__(
        self,
        *,
        module: torch.nn.Module,
        config: TrainConfig,
        phase: str,
        device: torch.device,
        run_dir: str | Path | None = None,
        seed: int = 0,
        monitor: str = "val/loss",
        mode: str = "min",
        verbose: bool = True,
        lr_scales: Mapping[str, float] | None = None,
    ) -> None:
        self.module, self.config, self.phase, self.device = module, config, phase, device
        self.lr_scales = dict(lr_scales or {})
        self.schedule: Schedule | None = None
        self.stop_reason: str | None = None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.seed, self.monitor, self.mode, self.verbose = seed, monitor, mode, verbose
        self.history: list[dict[str, float]] = []
        self._writer = None
        self._joinables: list[Any] | None = None
        self._schedule_steps = 0

    # -- small overridable pieces ---------------------------------------------------

    def autocast(self) -> torch.autocast:
        """bf16 autocast on CUDA when ``config.amp``; a no-op elsewhere."""
        return autocast_for(self.device, self.config.amp)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler: Any) -> float:
        """Backpropagate, clip, step; returns the gradient norm before clipping."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in optimizer.param_groups for p in g["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        optimizer.step()
        scheduler.step()
        return float(norm)

    def log(self, scalars: dict[str, float], step: int) -> None:
        """Write scalars to TensorBoard (rank 0, when a run_dir is set)."""
        if self.run_dir is None or not is_main_process():
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard" / self.phase))
        for key, value in scalars.items():
            self._writer.add_scalar(f"{self.phase}/{key}", value, step)

    def is_better(self, value: float, best: float | None) -> bool:
        """Compare a monitored metric with the best so far."""
        return best is None or (value < best if self.mode == "min" else value > best)

    # -- the loop ---------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path | None:
        """``run_dir/checkpoints/<phase>.safetensors`` (None without run_dir)."""
        return None if self.run_dir is None else self.run_dir / "checkpoints" / f"{self.phase}.safetensors"

    def train(
        self, *, train_loader: DataLoader, step: StepFn, val_loader: DataLoader | None = None,
        evaluate: EvalFn | None = None, resume: bool = False, started: float | None = None,
        joinables: list[Any] | None = None,
    ) -> list[dict[str, float]]:
        """Train for the resolved schedule (or until early stopping or ``time_limit``); returns the
        per-epoch history. ``started`` (a ``time.perf_counter()`` value) is when the time limit's
        clock started, by default now; the caller passes its own start to count its set-up too.
        ``joinables`` (the DDP module under torchrun) let ranks with fewer batches in an epoch (a
        stream's row groups rarely split evenly) finish it without stalling the others
        (``torch.distributed.algorithms.Join``)."""
        cfg = self.config
        local_steps = len(train_loader) if cfg.max_steps_per_epoch is None else min(len(train_loader), cfg.max_steps_per_epoch)
        # one schedule for all ranks: the longest rank's epoch
        steps_per_epoch = max(distributed.gather(local_steps))
        self._joinables, self._schedule_steps = joinables, steps_per_epoch
        if steps_per_epoch == 0:
            raise ValueError(f"{self.phase}: no training batch (too few rows for batch size {cfg.batch_size}?)")
        self.schedule = sched = resolve_schedule(cfg, steps_per_epoch)
        optimizer = build_optimizer(self.module.named_parameters(), cfg, self.lr_scales)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(sched.total_steps, int(cfg.warmup_ratio * sched.total_steps)))
        state: dict[str, Any] = {"epoch": -1, "global_step": 0, "best": None, "bad_epochs": 0, "history": []}
        best_weights = None
        if resume and self.checkpoint_path is not None and checkpoint_exists(self.checkpoint_path):
            state = load_checkpoint(self.checkpoint_path, module=self.module, optimizer=optimizer, scheduler=scheduler)
            best_file = self.checkpoint_path.with_name(f"{self.phase}-best.safetensors")
            if best_file.exists():
                from lanistr_core.serialization import load_tensors

                best_weights = load_tensors(best_file, device=str(self.device))
            self._say(f"resuming after epoch {state['epoch'] + 1} (step {state['global_step']})")
        self._say(sched.describe())
        self.history = list(state["history"])
        self.stop_reason = "completed"
        started, epoch_seconds = time.perf_counter() if started is None else started, 0.0
        for epoch in range(state["epoch"] + 1, sched.epochs):
            if state["bad_epochs"] >= sched.patience:
                self.stop_reason = "early_stopping"
                self._say(f"early stopping: no better val {self.monitor.removeprefix('val/')} for "
                          f"{sched.patience} epochs after epoch {sched.min_epochs}")
                break
            elapsed = time.perf_counter() - started
            # Stop before an epoch that would end past the limit (estimated from the slowest so far);
            # the first epoch always runs, so a usable model comes back. Under torchrun rank 0's clock
            # decides for every rank: ranks that stopped at different epochs would deadlock in DDP.
            over_time = bool(cfg.time_limit is not None and epoch_seconds and elapsed + epoch_seconds > cfg.time_limit)
            if distributed.broadcast(over_time) if cfg.time_limit is not None else False:
                self.stop_reason = "time_limit"
                warnings.warn(f"{self.phase}: time_limit={cfg.time_limit:g}s reached: stopped after epoch {epoch} of "
                              f"{sched.epochs} ({elapsed:.1f}s elapsed; the next epoch would end past the limit)",
                              TimeLimitWarning, stacklevel=2)
                break
            t0 = time.perf_counter()
            record = self._run_epoch(epoch, train_loader, step, optimizer, scheduler, state, local_steps)
            distributed.broadcast_buffers(self.module)  # rank 0's BatchNorm statistics on every rank
            if val_loader is not None and evaluate is not None and len(val_loader) > 0:
                self.module.eval()
                with torch.no_grad(), self.autocast():
                    metrics = evaluate(val_loader)
                record.update({f"val/{k}" if not k.startswith("val/") else k: v for k, v in metrics.items()})
                value = record[self.monitor]
                if self.is_better(value, state["best"]):
                    state["best"], state["bad_epochs"] = value, 0
                    best_weights = copy.deepcopy(self.module.state_dict())
                    self._save_best(best_weights)
                elif epoch + 1 > sched.min_epochs:  # patience counts only once learning had its chance
                    state["bad_epochs"] += 1
            record["epoch_seconds"] = time.perf_counter() - t0  # training + validation of this epoch
            epoch_seconds = max(epoch_seconds, record["epoch_seconds"])
            self.log({k: v for k, v in record.items() if k != "epoch"}, state["global_step"])
            self.history.append(record)
            state["epoch"], state["history"] = epoch, self.history
            if self.verbose and is_main_process():
                print(f"[{self.phase}] epoch {epoch + 1}/{sched.epochs} " + " ".join(
                    f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
            if self.checkpoint_path is not None and is_main_process():
                save_checkpoint(self.checkpoint_path, module=self.module, optimizer=optimizer, scheduler=scheduler, state=state)
        if best_weights is not None:
            self.module.load_state_dict(best_weights)
        if self._writer is not None:
            self._writer.flush()
        return self.history

    def _say(self, message: str) -> None:
        """Print a line about the run (verbose, rank 0)."""
        if self.verbose and is_main_process():
            print(f"[{self.phase}] {message}", flush=True)

    def _save_best(self, weights: dict[str, torch.Tensor]) -> None:
        if self.checkpoint_path is not None and is_main_process():
            save_tensors(self.checkpoint_path.with_name(f"{self.phase}-best.safetensors"), weights)

    def _run_epoch(
        self, epoch: int, loader: DataLoader, step: StepFn, optimizer: torch.optim.Optimizer, scheduler: Any,
        state: dict[str, Any], steps_per_epoch: int,
    ) -> dict[str, float]:
        # Seed dropout and shuffling from (seed, epoch): a resumed run replays exactly.
        torch.manual_seed(self.seed * 100_003 + epoch)
        if loader.generator is not None:
            loader.generator.manual_seed(self.seed * 100_003 + epoch)
        for source in (loader.sampler, loader.dataset):  # DistributedSampler, or a streamed dataset
            if hasattr(source, "set_epoch"):
                source.set_epoch(epoch)
        self.module.train()
        sums: dict[str, float] = {}
        bar = tqdm(loader, total=steps_per_epoch, desc=f"{self.phase} {epoch + 1}/{self.schedule.epochs}",
                   disable=None if (self.verbose and is_main_process()) else True, leave=False)
        with Join(self._joinables) if self._joinables else contextlib.nullcontext():
            for i, batch in enumerate(bar):
                if i >= steps_per_epoch:
                    break
                batch = batch.to(self.device)
                with self.autocast():
                    loss, logs = step(batch, state["global_step"])
                grad_norm = self.backward_step(loss, optimizer, scheduler)
                logs = {**logs, "lr": scheduler.get_last_lr()[0], "grad_norm": grad_norm}
                self.log({f"step/{k}": v for k, v in logs.items()}, state["global_step"])
                state["global_step"] += 1
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        done = min(steps_per_epoch, len(loader))
        # a rank that joined early skips the steps it had no batch for, so that every rank's learning
        # rate and step count agree (DDP's join hook re-syncs the weights at the end of the epoch)
        for _ in range(max(0, self._schedule_steps - done)):
            scheduler.step()
            state["global_step"] += 1
        n = max(1, done)
        return {"epoch": epoch, **{f"train/{k}": v / n for k, v in sums.items()}}
