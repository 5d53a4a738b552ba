"""``Lanistr``: the thin, scikit-learn-like facade over assembly, data, engine and persistence."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from lanistr_core import assembly, distributed, streaming
from lanistr_core.config import MONITOR_MODES, TASK_MONITORS, LanistrConfig, TrainConfig
from lanistr_core.columns import check_columns, resolve_columns
from lanistr_core.data import Collator, MultimodalBatch, check_rows_have_a_modality, make_loader
from lanistr_core.engine import Trainer, autocast_for
from lanistr_core.metrics import classification_metrics, decide, decision_offset, regression_metrics
from lanistr_core.optim import encoder_lr_scales
from lanistr_core.report import ModalityReport, modality_report
from lanistr_core.serialization import load_state, save_state
from lanistr_core.validation import ValidationPlan, hold_out


def _train_config(default: TrainConfig, value: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
    if value is None:
        return default
    return value if isinstance(value, TrainConfig) else attrs.evolve(default, **value)


class Lanistr:
    """Multimodal model over DataFrame columns: ``pretrain`` on unlabeled rows, ``fit`` on labels.

    Args:
        modalities: ``["text", "tabular"]`` (columns detected) or ``{"text": [cols], ...}``.
        label: target column (needed by ``fit``/``evaluate``).
        task: ``"auto"``, ``"classification"`` or ``"regression"``.
        fusion: registered fusion name (``perceiver``, ``concat_transformer``, ``late``).
        preset: ``tiny`` / ``small`` / ``base`` for every modality and the fusion.
        **config: any other :class:`LanistrConfig` field; ``pretrain``/``finetune`` accept a
            dict of :class:`TrainConfig` overrides, e.g. ``finetune={"epochs": 10}``.

    Fitted state ends in ``_``: ``columns_``, ``preprocessors_``, ``model_``,
    ``pretraining_loss_``, ``classes_``, ``task_``, ``history_``, and ``training_`` (per phase: the
    resolved schedule, the validation split used and why, which encoders trained at the lower
    pretrained rate, and why training stopped).
    """

    def __init__(
        self,
        modalities: Mapping[str, Sequence[str]] | Sequence[str],
        label: str | None = None,
        task: str = "auto",
        fusion: str = "perceiver",
        preset: str = "small",
        **config: Any,
    ) -> None:
        known = {f.name for f in attrs.fields(LanistrConfig)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise TypeError(f"unknown Lanistr options {unknown}; known: {sorted(known - {'modalities'})}")
        defaults = LanistrConfig(modalities=modalities)
        config["pretrain"] = _train_config(defaults.pretrain, config.get("pretrain"))
        config["finetune"] = _train_config(defaults.finetune, config.get("finetune"))
        if isinstance(modalities, Mapping):
            modalities = {k: [v] if isinstance(v, str) else list(v) for k, v in modalities.items()}
        elif not isinstance(modalities, str):
            modalities = list(modalities)
        self.config = LanistrConfig(modalities=modalities, label=label, task=task, fusion=fusion, preset=preset, **config)
        self.history_: dict[str, list[dict[str, float]]] = {}
        self.training_: dict[str, dict[str, Any]] = {}
        self.classes_: list[Any] | None = None
        self.task_: str | None = None
        self.target_stats_: dict[str, float] | None = None
        self.class_prior_: list[float] | None = None  # class frequencies of the fit labels (logit_adjustment)

    # -- set-up ------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """The configured device (``auto``: CUDA when available); under torchrun, this rank's device
        (``cuda:LOCAL_RANK``), the process group joined on first use."""
        name = self.config.device
        return distributed.setup(torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name))

    def _is_built(self) -> bool:
        return hasattr(self, "model_")

    def _build(self, frame: pd.DataFrame, run_dir: Path | None = None, resume: bool = False) -> None:
        """Assign columns, fit (or, when resuming, reload) preprocessors, build the networks."""
        exclude = [self.config.label] if self.config.label else []
        self.columns_ = resolve_columns(self.config.modalities, frame, exclude=exclude)
        if self.config.label and any(self.config.label in cols for cols in self.columns_.values()):
            raise ValueError(f"the label column {self.config.label!r} is also assigned as an input modality")
        self.modality_configs_ = assembly.modality_configs(self.config, list(self.columns_))
        self.preprocessors_ = assembly.build_preprocessors(self.columns_, self.modality_configs_)
        saved = None if run_dir is None else run_dir / "preprocessors"
        if resume and saved is not None and saved.is_dir():
            # a resumed run must see exactly the vocabularies/statistics its checkpoint was trained with
            for name, pre in self.preprocessors_.items():
                pre.load_state_dict(load_state(saved, name))
        else:
            # Under torchrun rank 0 fits and every rank loads its state: identical vocabularies and
            # statistics everywhere (a WordPiece vocabulary trained per rank could differ).
            if distributed.rank() == 0:
                assembly.fit_preprocessors(self.preprocessors_, frame)
            states = distributed.broadcast({n: p.state_dict() for n, p in self.preprocessors_.items()}
                                           if distributed.rank() == 0 else None)
            if distributed.rank() != 0:
                for name, pre in self.preprocessors_.items():
                    pre.load_state_dict(states[name])
            if saved is not None and distributed.rank() == 0:
                for name, pre in self.preprocessors_.items():
                    save_state(saved, name, pre.state_dict())
        self._build_networks()

    def _build_networks(self) -> None:
        torch.manual_seed(self.config.seed)  # same seed, same initial weights: the scratch baseline matches
        model, loss = assembly.build_networks(self.config, self.modality_configs_, self.preprocessors_)
        self.model_, self.pretraining_loss_ = model.to(self.device), loss.to(self.device)

    def _check_frame(self, frame: pd.DataFrame) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        check_columns(self.columns_, frame)
        check_rows_have_a_modality(frame, self.columns_)

    def _loader(self, frame: pd.DataFrame, cfg: TrainConfig, *, targets: torch.Tensor | None = None, train: bool,
                sharded: bool = False) -> Any:
        """Training loaders (and ``sharded`` validation loaders) split rows across torchrun ranks."""
        sampler = None
        if train and distributed.active():
            # every rank sees 1/world of the rows per epoch; the engine calls set_epoch to reshuffle
            sampler = DistributedSampler(range(len(frame)), num_replicas=distributed.world_size(),
                                         rank=distributed.rank(), shuffle=True, seed=self.config.seed,
                                         drop_last=len(frame) >= distributed.world_size() * cfg.batch_size)
        elif sharded and distributed.active():
            rows = distributed.shard(len(frame))
            frame, targets = frame.iloc[rows], None if targets is None else targets[rows]
        return make_loader(frame, self.preprocessors_, targets=targets, batch_size=cfg.batch_size, shuffle=train,
                           drop_last=train, seed=self.config.seed, sampler=sampler, training=train)

    def _chunk_batch(self, chunk: pd.DataFrame, *, training: bool, with_targets: bool) -> MultimodalBatch:
        """One streamed chunk -> a batch (rows with no modality raise, naming their positions)."""
        check_rows_have_a_modality(chunk, self.columns_)
        targets = self._targets(chunk) if with_targets else None
        return Collator(chunk, self.preprocessors_, targets, training=training)(range(len(chunk)))

    def _stream_loader(self, source: streaming.ParquetSource, cfg: TrainConfig, *, with_targets: bool) -> DataLoader:
        """Training batches streamed from Parquet: row groups sharded over ranks, a shuffle buffer."""
        frames = streaming.StreamingFrames(source, batch_size=cfg.batch_size, shuffle=True,
                                           shuffle_buffer=self.config.shuffle_buffer, seed=self.config.seed)
        collate = streaming.FrameCollator(lambda chunk: self._chunk_batch(chunk, training=True, with_targets=with_targets))
        return DataLoader(frames, batch_size=None, collate_fn=collate)

    def _open(self, data: pd.DataFrame | str | os.PathLike, columns: Sequence[str] | None = None
              ) -> tuple[pd.DataFrame, streaming.ParquetSource | None]:
        """A DataFrame as is; a Parquet path/dir/glob as (uniform sample of ``sample_rows`` rows, source)."""
        if not streaming.is_source(data):
            return data, None
        source = streaming.ParquetSource(data, columns=columns)
        return source.sample(self.config.sample_rows, seed=self.config.seed), source

    def _run_dir(self, run_dir: str | os.PathLike | None) -> Path | None:
        return Path(run_dir) if run_dir is not None else None

    def _phase_config(self, cfg: TrainConfig, time_limit: float | None) -> TrainConfig:
        return cfg if time_limit is None else attrs.evolve(cfg, time_limit=time_limit)

    def pretrained_encoders(self) -> list[str]:
        """Modalities whose encoder starts the next phase from pretrained weights: every encoder once
        ``pretrain`` or ``fit`` has trained it, else those loaded from pretrained weights
        (an encoder's ``pretrained`` attribute). They train at ``lr * encoder_lr_scale``."""
        self._require("built")
        if getattr(self, "pretrained_", False) or getattr(self, "fitted_", False):
            return list(self.model_.modalities)
        return [n for n in self.model_.modalities if getattr(self.model_.encoders[n], "pretrained", False)]

    def _trainer(self, cfg: TrainConfig, phase: str, module: torch.nn.Module, run_dir: Path | None,
                 prefix: str, **kwargs: Any) -> Trainer:
        scales = encoder_lr_scales(self.model_.encoders, self.pretrained_encoders(), scale=cfg.encoder_lr_scale,
                                   layer_decay=cfg.layer_decay, prefix=prefix)
        return Trainer(module=module, config=cfg, phase=phase, device=self.device, run_dir=run_dir,
                       seed=self.config.seed, verbose=self.config.verbose, lr_scales=scales, **kwargs)

    def _record(self, phase: str, trainer: Trainer, plan: ValidationPlan | None, n_train: int, n_val: int) -> None:
        sched = trainer.schedule
        self.training_[phase] = {
            "epochs": sched.epochs, "epochs_derived": sched.epochs_derived, "steps_per_epoch": sched.steps_per_epoch,
            "patience": sched.patience, "min_epochs": sched.min_epochs, "epochs_run": len(trainer.history),
            "stop_reason": trainer.stop_reason, "train_rows": n_train, "validation_rows": n_val,
            "validation": plan.reason if plan is not None else "given by the caller",
            "pretrained_encoders": self.pretrained_encoders(),
            "frozen_encoders": phase == "finetune" and self.config.freeze_encoders,
            "lr": trainer.config.lr, "encoder_lr": trainer.config.lr * trainer.config.encoder_lr_scale,
        }

    def reset_weights(self, *, seed: int | None = None) -> Lanistr:
        """Re-initialise every network weight (keeping the fitted preprocessors): the no-pretraining baseline."""
        self._require("built")
        self.config = attrs.evolve(self.config, seed=self.config.seed if seed is None else seed)
        self._build_networks()
        self.pretrained_ = self.fitted_ = False
        return self

    # -- pretraining -------------------------------------------------------------------

    def pretrain(
        self, frame: pd.DataFrame | str | os.PathLike, *, validation: pd.DataFrame | None = None,
        run_dir: str | os.PathLike | None = None, resume: bool = False, time_limit: float | None = None,
    ) -> Lanistr:
        """Self-supervised pretraining: every modality's masking loss + the multimodal similarity loss.

        ``time_limit`` (seconds, overrides ``pretrain={"time_limit": ...}``) ends training after the
        last epoch that finishes within it, counted from this call. ``frame`` may be a Parquet path,
        directory or glob: rows then stream (:mod:`lanistr_core.streaming`), preprocessors are fitted
        on a sample of ``sample_rows`` rows, and only ``validation`` (if given) is used to validate.
        """
        started = time.perf_counter()
        frame, source = self._open(frame)
        if not self._is_built():
            self._build(frame, self._run_dir(run_dir), resume)
        self._check_frame(frame)
        cfg = self._phase_config(self.config.pretrain, time_limit)
        if cfg.monitor != "loss":
            raise ValueError(f"pretrain.monitor must be 'loss' (pretraining has no task metric), got {cfg.monitor!r}")
        plan = None
        if validation is None and source is None:
            frame, validation, plan = hold_out(frame, cfg, seed=self.config.seed, phase="pretrain")
        validation = frame.iloc[:0] if validation is None else validation  # a stream is not split
        if len(validation):
            self._check_frame(validation)
        module = _PretrainStep(self.model_, self.pretraining_loss_)  # state_dict keys model.*, loss.*
        trainer = self._trainer(cfg, "pretrain", module, self._run_dir(run_dir), prefix="model.encoders.")
        runner = distributed.wrap(module, self.device)  # DistributedDataParallel under torchrun
        seed = self.config.seed

        def step(batch: MultimodalBatch, global_step: int) -> tuple[torch.Tensor, dict[str, float]]:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + global_step)
            return runner(batch, generator)

        def evaluate(loader: Any) -> dict[str, float]:
            totals: dict[str, float] = {}
            for i, batch in enumerate(loader):
                _, logs = self.pretraining_loss_(self.model_, batch.to(self.device), torch.Generator().manual_seed(i))
                for k, v in logs.items():
                    totals[k] = totals.get(k, 0.0) + v
            # under torchrun every rank evaluated its own share of the rows: combine batch sums and counts
            shares = distributed.gather((totals, len(loader))) if val_sharded else [(totals, len(loader))]
            n = sum(count for _, count in shares)
            return {k.replace("loss/", "loss_") if k != "loss/total" else "loss": sum(t.get(k, 0.0) for t, _ in shares) / max(1, n)
                    for k in totals}

        val_sharded = distributed.active() and len(validation) >= 2 * distributed.world_size()
        val_loader = self._loader(validation, cfg, train=False, sharded=val_sharded) if len(validation) >= 2 else None
        train_loader = (self._loader(frame, cfg, train=True) if source is None
                        else self._stream_loader(source, cfg, with_targets=False))
        self.history_["pretrain"] = trainer.train(
            train_loader=train_loader, step=step, val_loader=val_loader, evaluate=evaluate, resume=resume,
            started=started, joinables=[runner] if distributed.active() else None)
        self._record("pretrain", trainer, plan, len(frame) if source is None else source.num_rows, len(validation))
        self.pretrained_ = True
        return self

    # -- fine-tuning -------------------------------------------------------------------

    def _check_labels(self, frame: pd.DataFrame) -> None:
        label = self.config.label
        if label is None:
            raise ValueError("no label column: pass label='column' to Lanistr(...)")
        if label not in frame.columns:
            raise ValueError(f"the data lacks the label column {label!r}")
        y = frame[label]
        if y.isna().any():
            raise ValueError(f"label column {label!r} has {int(y.isna().sum())} missing value(s), e.g. rows "
                             f"{y.index[y.isna()].tolist()[:10]}; drop them (unlabeled rows belong in pretrain)")

    def _targets(self, frame: pd.DataFrame) -> torch.Tensor:
        self._check_labels(frame)
        label, y = self.config.label, frame[self.config.label]
        if self.task_ == "regression":
            try:
                values = y.astype(float).to_numpy()
            except (TypeError, ValueError) as err:
                raise ValueError(f"label column {label!r} must be numeric for regression: {err}") from err
            stats = self.target_stats_
            return torch.tensor((values - stats["mean"]) / stats["std"], dtype=torch.float32)
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted({v for v in y.tolist() if _py(v) not in index}, key=str)
        if unknown:
            raise ValueError(f"label column {label!r} holds classes {unknown[:10]} not seen in fit; known: {self.classes_}")
        return torch.tensor([index[_py(v)] for v in y.tolist()], dtype=torch.long)

    def _set_task(self, frame: pd.DataFrame) -> None:
        y = frame[self.config.label].dropna()
        task = self.config.task
        if task == "auto":
            numeric_float = pd.api.types.is_float_dtype(y) and y.nunique() > 20
            task = "regression" if numeric_float else "classification"
        self.task_ = task
        if task == "classification":
            self.classes_ = sorted({_py(v) for v in y.tolist()}, key=lambda v: (str(type(v)), v))
            if len(self.classes_) < 2:
                raise ValueError(f"label column {self.config.label!r} has a single class {self.classes_}; need 2 or more")
            counts = pd.Series([_py(v) for v in y.tolist()]).value_counts()
            self.class_prior_ = [float(counts.get(c, 0)) / len(y) for c in self.classes_]
        else:
            values = y.astype(float)
            self.target_stats_ = {"mean": float(values.mean()), "std": float(values.std()) or 1.0}

    def fit(
        self, frame: pd.DataFrame | str | os.PathLike, *, validation: pd.DataFrame | None = None,
        run_dir: str | os.PathLike | None = None, resume: bool = False, time_limit: float | None = None,
    ) -> Lanistr:
        """Fine-tune (from pretrained weights when ``pretrain`` ran) with a task head on labeled rows.

        Without ``validation``, a validation split is held out by the small-data rule of
        :mod:`lanistr_core.validation` (or none, with a :class:`SmallDataWarning`). ``time_limit``
        (seconds) ends training after the last epoch that finishes within it, counted from this call.
        ``frame`` may be a Parquet path, directory or glob: rows then stream as in :meth:`pretrain`
        (the classes come from one pass over the label column).
        """
        started = time.perf_counter()
        frame, source = self._open(frame)
        if self.config.label is None or self.config.label not in frame.columns:
            raise ValueError(f"fit needs the label column {self.config.label!r} in the data")
        if not self._is_built():
            self._build(frame, self._run_dir(run_dir), resume)
        self._check_frame(frame)
        self._check_labels(frame)
        self._set_task(frame if source is None else source.label_values(self.config.label).to_frame())
        cfg = self._phase_config(self.config.finetune, time_limit)
        allowed = ("loss", *TASK_MONITORS[self.task_])
        if cfg.monitor not in allowed:
            raise ValueError(f"finetune.monitor={cfg.monitor!r} does not apply to {self.task_}; use one of {allowed}")
        plan = None
        if validation is None and source is None:
            labels = frame[self.config.label] if self.task_ == "classification" else None
            frame, validation, plan = hold_out(frame, cfg, seed=self.config.seed, phase="finetune", labels=labels)
        validation = frame.iloc[:0] if validation is None else validation  # a stream is not split
        n_out = len(self.classes_) if self.task_ == "classification" else 1
        torch.manual_seed(self.config.seed)
        self.model_.head = assembly.build_head(self.config, n_out).to(self.device)
        for encoder in self.model_.encoders.values():
            if callable(getattr(encoder, "set_trainable", None)):
                encoder.set_trainable(not self.config.freeze_encoders)
            else:  # a duck-typed encoder outside the Encoder base class
                encoder.requires_grad_(not self.config.freeze_encoders)
        y_train = self._targets(frame)
        weight = self._class_weights(y_train, n_out)
        trainer = self._trainer(cfg, "finetune", self.model_, self._run_dir(run_dir), prefix="encoders.",
                                monitor=f"val/{cfg.monitor}", mode=MONITOR_MODES[cfg.monitor])

        runner = distributed.wrap(_Logits(self.model_), self.device)  # DistributedDataParallel under torchrun

        def step(batch: MultimodalBatch, global_step: int) -> tuple[torch.Tensor, dict[str, float]]:
            loss = self._task_loss(runner(batch.batches, batch.row_ids), batch.targets, weight)
            return loss, {"loss/task": float(loss.detach())}

        def evaluate(loader: Any) -> dict[str, float]:
            all_logits, all_targets = [], []
            for batch in loader:
                batch = batch.to(self.device)
                all_logits.append(self.model_(batch.batches, row_ids=batch.row_ids).logits.float().cpu())
                all_targets.append(batch.targets.cpu())
            local = (torch.cat(all_logits), torch.cat(all_targets))
            # metrics over the whole validation set: every rank's rows, each exactly once
            shares = distributed.gather(local) if val_sharded else [local]
            logits, targets = torch.cat([s[0] for s in shares]), torch.cat([s[1] for s in shares])
            loss = self._task_loss(logits.to(self.device), targets.to(self.device), weight)
            return {"loss": float(loss), **self._metrics(logits, targets)}

        val_loader = None
        # too few rows to give every rank one: each rank evaluates them all (same result everywhere)
        val_sharded = distributed.active() and len(validation) >= distributed.world_size()
        if len(validation) >= 1:
            self._check_frame(validation)
            val_loader = self._loader(validation, cfg, targets=self._targets(validation), train=False,
                                      sharded=val_sharded)
        train_loader = (self._loader(frame, cfg, targets=y_train, train=True) if source is None
                        else self._stream_loader(source, cfg, with_targets=True))
        self.history_["finetune"] = trainer.train(
            train_loader=train_loader, step=step, val_loader=val_loader, evaluate=evaluate, resume=resume,
            started=started, joinables=[runner] if distributed.active() else None)
        self._record("finetune", trainer, plan, len(frame) if source is None else source.num_rows, len(validation))
        self.fitted_ = True
        return self

    def _class_weights(self, y: torch.Tensor, n_out: int) -> torch.Tensor | None:
        if self.task_ != "classification" or self.config.class_weights is None:
            return None
        counts = torch.bincount(y, minlength=n_out).float().clamp_min(1.0)
        return (counts.sum() / (n_out * counts)).to(self.device)

    def _task_loss(self, logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        logits = logits.float()
        if self.task_ == "classification":
            return F.cross_entropy(logits, targets, weight=weight)
        return F.mse_loss(logits.squeeze(-1), targets.float())

    # -- inference ---------------------------------------------------------------------

    def _require(self, what: str) -> None:
        if what == "fitted" and not getattr(self, "fitted_", False):
            raise RuntimeError("this Lanistr model is not fitted yet: call fit(df) first (or Lanistr.load(path))")
        if what == "built" and not self._is_built():
            raise RuntimeError("this Lanistr model has no encoders yet: call pretrain(df) or fit(df) first")

    @torch.no_grad()
    def _forward_all(self, frame: pd.DataFrame, *, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_frame(frame)
        self.model_.eval()
        cfg = attrs.evolve(self.config.finetune, batch_size=batch_size or max(64, self.config.finetune.batch_size))
        pooled, logits = [], []
        for batch in self._loader(frame, cfg, train=False):
            batch = batch.to(self.device)
            with autocast_for(self.device, cfg.amp):
                out = self.model_(batch.batches, row_ids=batch.row_ids)
            pooled.append(out.pooled.float().cpu())
            if out.logits is not None:
                logits.append(out.logits.float().cpu())
        return torch.cat(pooled).numpy(), torch.cat(logits).numpy() if logits else None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n_rows, n_classes) class probabilities, columns ordered as ``classes_``."""
        self._require("fitted")
        if self.task_ != "classification":
            raise RuntimeError("predict_proba is for classification; this model does regression")
        _, logits = self._forward_all(frame)
        return torch.from_numpy(logits).softmax(-1).numpy()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted class labels (classification; argmax, or the ``logit_adjustment`` rule) or values
        (regression), one per row."""
        self._require("fitted")
        _, logits = self._forward_all(frame)
        if self.task_ == "classification":
            proba = torch.from_numpy(logits).softmax(-1).numpy()
            return np.asarray(self.classes_, dtype=object)[decide(proba, self.decision_offset())]
        stats = self.target_stats_
        return logits[:, 0] * stats["std"] + stats["mean"]

    def evaluate(self, frame: pd.DataFrame) -> dict[str, float]:
        """Classification: accuracy, macro_f1, auroc. Regression: mae, rmse, r2."""
        self._require("fitted")
        _, logits = self._forward_all(frame)
        return self._metrics(torch.from_numpy(logits), self._targets(frame))

    def _metrics(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """Task metrics of (n, n_out) logits against encoded targets (class indices / standardised values)."""
        logits, y = logits.float().cpu(), targets.cpu().numpy()
        if self.task_ == "classification":
            return classification_metrics(y, logits.softmax(-1).numpy(), self.decision_offset())
        stats = self.target_stats_
        return regression_metrics(y * stats["std"] + stats["mean"], logits[:, 0].numpy() * stats["std"] + stats["mean"])

    def decision_offset(self) -> np.ndarray | None:
        """What classification decisions subtract from the log-probabilities (``logit_adjustment`` times
        the log class prior of the fit labels), or None for plain argmax."""
        prior = getattr(self, "class_prior_", None)
        if self.task_ != "classification" or prior is None:
            return None
        return decision_offset(np.asarray(prior), self.config.logit_adjustment)  # every fit class has a count

    def embed(self, frame: pd.DataFrame) -> np.ndarray:
        """(n_rows, dim) pooled fused embeddings."""
        self._require("built")
        pooled, _ = self._forward_all(frame)
        return pooled

    def modality_report(
        self, frame: pd.DataFrame, *, metric: str | None = None, n_bootstrap: int = 200, seed: int = 0,
        run_dir: str | os.PathLike | None = None, **options: Any,
    ) -> ModalityReport:
        """Which modalities this fitted model relies on, from inference alone (presence masks): the
        metric of every subset of modalities, the empty-set prior, Shapley values with bootstrap
        intervals, the drop when each modality is removed, and the data's missingness pattern.

        ``options`` are the other :class:`lanistr_core.report.ReportConfig` fields (``confidence``,
        ``method``, ``n_permutations``, ``batch_size``, ...); ``run_dir`` adds TensorBoard scalars.
        """
        return modality_report(self, frame, metric=metric, n_bootstrap=n_bootstrap, seed=seed, run_dir=run_dir,
                               **options)

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write config JSON, safetensors weights and preprocessor state to directory ``path``."""
        from lanistr_core.persistence import save_model

        self._require("built")
        path = Path(path)
        if distributed.rank() == 0:  # one writer under torchrun; the barrier means "saved" on every rank
            save_model(self, path)
        distributed.barrier()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> Lanistr:
        """Load a model written by :meth:`save` (no pickle is ever read)."""
        from lanistr_core.persistence import load_model

        return load_model(cls, Path(path), device=device)


class _PretrainStep(torch.nn.Module):
    """Model + pretraining loss as one module whose forward is a training step's loss, so that
    DistributedDataParallel sees (and synchronises) the whole step."""

    def __init__(self, model: torch.nn.Module, loss: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch: MultimodalBatch, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """(total loss, scalar logs) of one masked batch."""
        return self.loss(self.model, batch, generator)


class _Logits(torch.nn.Module):
    """The model's logits as a plain tensor output (what DistributedDataParallel traces for unused parameters)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batches: Mapping[str, Any], row_ids: Sequence[Any]) -> torch.Tensor:
        """(B, n_out) logits."""
        return self.model(batches, row_ids=row_ids).logits


def _py(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-able, hashable consistently)."""
    return value.item() if isinstance(value, np.generic) else value
