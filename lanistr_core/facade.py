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

from lanistr_core import assembly
from lanistr_core.config import MONITOR_MODES, TASK_MONITORS, LanistrConfig, TrainConfig
from lanistr_core.columns import check_columns, resolve_columns
from lanistr_core.data import MultimodalBatch, check_rows_have_a_modality, make_loader
from lanistr_core.engine import Trainer, autocast_for
from lanistr_core.metrics import classification_metrics, regression_metrics
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

    # -- set-up ------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """The configured device (``auto``: CUDA when available)."""
        name = self.config.device
        return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)

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
            assembly.fit_preprocessors(self.preprocessors_, frame)
            if saved is not None:
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

    def _loader(self, frame: pd.DataFrame, cfg: TrainConfig, *, targets: torch.Tensor | None = None, train: bool) -> Any:
        return make_loader(frame, self.preprocessors_, targets=targets, batch_size=cfg.batch_size, shuffle=train,
                           drop_last=train, seed=self.config.seed)

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
        self, frame: pd.DataFrame, *, validation: pd.DataFrame | None = None,
        run_dir: str | os.PathLike | None = None, resume: bool = False, time_limit: float | None = None,
    ) -> Lanistr:
        """Self-supervised pretraining: every modality's masking loss + the multimodal similarity loss.

        ``time_limit`` (seconds, overrides ``pretrain={"time_limit": ...}``) ends training after the
        last epoch that finishes within it, counted from this call.
        """
        started = time.perf_counter()
        if not self._is_built():
            self._build(frame, self._run_dir(run_dir), resume)
        self._check_frame(frame)
        cfg = self._phase_config(self.config.pretrain, time_limit)
        if cfg.monitor != "loss":
            raise ValueError(f"pretrain.monitor must be 'loss' (pretraining has no task metric), got {cfg.monitor!r}")
        plan = None
        if validation is None:
            frame, validation, plan = hold_out(frame, cfg, seed=self.config.seed, phase="pretrain")
        if len(validation):
            self._check_frame(validation)
        module = torch.nn.ModuleDict({"model": self.model_, "loss": self.pretraining_loss_})
        trainer = self._trainer(cfg, "pretrain", module, self._run_dir(run_dir), prefix="model.encoders.")
        seed = self.config.seed

        def step(batch: MultimodalBatch, global_step: int) -> tuple[torch.Tensor, dict[str, float]]:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + global_step)
            return self.pretraining_loss_(self.model_, batch, generator)

        def evaluate(loader: Any) -> dict[str, float]:
            totals: dict[str, float] = {}
            for i, batch in enumerate(loader):
                _, logs = self.pretraining_loss_(self.model_, batch.to(self.device), torch.Generator().manual_seed(i))
                for k, v in logs.items():
                    totals[k] = totals.get(k, 0.0) + v
            return {k.replace("loss/", "loss_") if k != "loss/total" else "loss": v / max(1, len(loader))
                    for k, v in totals.items()}

        val_loader = self._loader(validation, cfg, train=False) if len(validation) >= 2 else None
        self.history_["pretrain"] = trainer.train(
            train_loader=self._loader(frame, cfg, train=True), step=step, val_loader=val_loader,
            evaluate=evaluate, resume=resume, started=started)
        self._record("pretrain", trainer, plan, len(frame), len(validation))
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
        else:
            values = y.astype(float)
            self.target_stats_ = {"mean": float(values.mean()), "std": float(values.std()) or 1.0}

    def fit(
        self, frame: pd.DataFrame, *, validation: pd.DataFrame | None = None,
        run_dir: str | os.PathLike | None = None, resume: bool = False, time_limit: float | None = None,
    ) -> Lanistr:
        """Fine-tune (from pretrained weights when ``pretrain`` ran) with a task head on labeled rows.

        Without ``validation``, a validation split is held out by the small-data rule of
        :mod:`lanistr_core.validation` (or none, with a :class:`SmallDataWarning`). ``time_limit``
        (seconds) ends training after the last epoch that finishes within it, counted from this call.
        """
        started = time.perf_counter()
        if self.config.label is None or self.config.label not in frame.columns:
            raise ValueError(f"fit needs the label column {self.config.label!r} in the data")
        if not self._is_built():
            self._build(frame, self._run_dir(run_dir), resume)
        self._check_frame(frame)
        self._check_labels(frame)
        self._set_task(frame)
        cfg = self._phase_config(self.config.finetune, time_limit)
        allowed = ("loss", *TASK_MONITORS[self.task_])
        if cfg.monitor not in allowed:
            raise ValueError(f"finetune.monitor={cfg.monitor!r} does not apply to {self.task_}; use one of {allowed}")
        plan = None
        if validation is None:
            labels = frame[self.config.label] if self.task_ == "classification" else None
            frame, validation, plan = hold_out(frame, cfg, seed=self.config.seed, phase="finetune", labels=labels)
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

        def step(batch: MultimodalBatch, global_step: int) -> tuple[torch.Tensor, dict[str, float]]:
            loss = self._task_loss(self.model_(batch.batches, row_ids=batch.row_ids).logits, batch.targets, weight)
            return loss, {"loss/task": float(loss.detach())}

        def evaluate(loader: Any) -> dict[str, float]:
            all_logits, all_targets = [], []
            for batch in loader:
                batch = batch.to(self.device)
                all_logits.append(self.model_(batch.batches, row_ids=batch.row_ids).logits.float())
                all_targets.append(batch.targets)
            logits, targets = torch.cat(all_logits), torch.cat(all_targets)
            return {"loss": float(self._task_loss(logits, targets, weight)), **self._metrics(logits, targets)}

        val_loader = None
        if len(validation) >= 1:
            self._check_frame(validation)
            val_loader = self._loader(validation, cfg, targets=self._targets(validation), train=False)
        self.history_["finetune"] = trainer.train(
            train_loader=self._loader(frame, cfg, targets=y_train, train=True), step=step,
            val_loader=val_loader, evaluate=evaluate, resume=resume, started=started)
        self._record("finetune", trainer, plan, len(frame), len(validation))
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
        """Predicted class labels (classification) or values (regression), one per row."""
        self._require("fitted")
        _, logits = self._forward_all(frame)
        if self.task_ == "classification":
            return np.asarray(self.classes_, dtype=object)[logits.argmax(-1)]
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
            return classification_metrics(y, logits.softmax(-1).numpy())
        stats = self.target_stats_
        return regression_metrics(y * stats["std"] + stats["mean"], logits[:, 0].numpy() * stats["std"] + stats["mean"])

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
        return save_model(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> Lanistr:
        """Load a model written by :meth:`save` (no pickle is ever read)."""
        from lanistr_core.persistence import load_model

        return load_model(cls, Path(path), device=device)


def _py(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-able, hashable consistently)."""
    return value.item() if isinstance(value, np.generic) else value
