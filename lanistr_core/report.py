"""Modality report: which modalities a trained model relies on, per subset and by Shapley value.

A fitted model already handles any subset of its modalities through the presence masks, so the
metric of every subset comes from inference alone (no retraining):

* the encoders run **once per row batch**; for every subset ``S`` only the fusion and the head run
  again, with the presence of the modalities outside ``S`` set to absent (``LanistrModel.fuse``,
  the same path a row with missing cells takes). With ``missing="mask"`` (the default) a hidden
  modality is then exactly a missing one; with ``missing="zero"`` its tokens are zero-filled like a
  missing one's, but their count follows the real input.
* a row with no modality of ``S`` present gets the **empty-set prediction** (the prior): class
  frequencies of the evaluated frame's labels (classification; a model does not store its training
  class counts) or the training-label mean the model stores (regression).
* Shapley values are exact over all ``2^k`` subsets for ``k <= max_exact`` (6) modalities; above, a
  Monte-Carlo permutation estimate (``n_permutations`` random orders, ``seed``) that evaluates only
  the subsets those orders visit, plus every singleton and leave-one-out set. Both are linear in the
  subset scores and sum to ``score(all) - score(empty)`` up to float rounding.
* Confidence intervals are percentile intervals of a bootstrap over rows: per-row predictions are
  computed once per subset, then the rows are resampled ``n_bootstrap`` times and every subset's
  metric recomputed from the stored predictions (cheap). With the permutation estimate the same
  orders are reused, so the interval covers row sampling only, not permutation noise.

Metrics are higher-is-better: ``auroc`` (default), ``macro_f1`` or ``accuracy`` for classification
(the definitions of :func:`lanistr_core.metrics.classification_metrics`; AUROC through torchmetrics,
which agrees with scikit-learn to ~1e-7); ``r2`` (default), ``neg_rmse`` or ``neg_mae`` for regression.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd
import torch
from attrs import validators as v

from lanistr_core.contracts import PRESENT, EncodedTokens
from lanistr_core.engine import autocast_for
from lanistr_core.metrics import decide

if TYPE_CHECKING:
    from lanistr_core.facade import Lanistr

REPORT_METRICS: dict[str, tuple[str, ...]] = {"classification": ("auroc", "macro_f1", "accuracy"),
                                              "regression": ("r2", "neg_rmse", "neg_mae")}
METHODS = ("auto", "exact", "permutation")
EMPTY = "(none)"  # how the empty subset is named in tables and plots


@attrs.frozen(kw_only=True)
class ReportConfig:
    """Options of :func:`modality_report`.

    Attributes:
        metric: higher-is-better metric (see :data:`REPORT_METRICS`); ``None``: ``auroc`` for
            classification, ``r2`` for regression.
        n_bootstrap: row resamples for the confidence intervals (0: no intervals).
        confidence: level of the percentile intervals.
        method: ``exact`` (all ``2^k - 1`` subsets), ``permutation`` (Monte-Carlo over orders), or
            ``auto``: exact up to ``max_exact`` modalities.
        max_exact: the most modalities ``auto`` still computes exactly.
        n_permutations: random modality orders of the permutation estimate.
        batch_size: rows per inference batch.
        seed: seeds the bootstrap and the permutations.
    """

    metric: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    n_bootstrap: int = attrs.field(default=200, validator=[v.instance_of(int), v.ge(0)])
    confidence: float = attrs.field(default=0.95, validator=[v.gt(0.0), v.lt(1.0)])
    method: str = attrs.field(default="auto", validator=v.in_(METHODS))
    max_exact: int = attrs.field(default=6, validator=[v.instance_of(int), v.ge(1)])
    n_permutations: int = attrs.field(default=200, validator=[v.instance_of(int), v.ge(1)])
    batch_size: int = attrs.field(default=256, validator=[v.instance_of(int), v.ge(1)])
    seed: int = attrs.field(default=0, validator=v.instance_of(int))


Interval = tuple[float, float]
Subset = tuple[str, ...]


@attrs.frozen(kw_only=True)
class ModalityReport:
    """What :func:`modality_report` returns; ``to_frame``/``to_dict``/``to_json``/``to_markdown``/``plot``.

    Subsets are tuples of modality names in the model's order; ``()`` is the empty set (the prior).

    Attributes:
        task: ``classification`` or ``regression``.
        metric: the metric every score is in (higher is better).
        modalities: the model's modalities, in its order.
        n_rows: rows evaluated.
        method: ``exact`` or ``permutation`` (Monte-Carlo estimate of the Shapley values).
        scores: metric of every evaluated subset, ``()`` included.
        score_ci: bootstrap interval of every subset's metric.
        shapley: Shapley value of each modality (sums to ``full_score - empty_score``).
        shapley_ci: bootstrap interval of each Shapley value.
        drop_ci: bootstrap interval of ``full_score - score(all but the modality)``.
        missingness: rows per combination of present modalities in the data.
        baseline: how the empty-set prediction was made.
        confidence, n_bootstrap, n_permutations, seed: the options used (``n_permutations`` is
            ``None`` for the exact method).
        failed_resamples: resamples where the metric was undefined (e.g. one class), left out.
    """

    task: str
    metric: str
    modalities: tuple[str, ...]
    n_rows: int
    method: str
    scores: dict[Subset, float]
    score_ci: dict[Subset, Interval]
    shapley: dict[str, float]
    shapley_ci: dict[str, Interval]
    drop_ci: dict[str, Interval]
    missingness: dict[Subset, int]
    baseline: str
    confidence: float
    n_bootstrap: int
    n_permutations: int | None
    seed: int
    failed_resamples: int = 0

    @property
    def full_score(self) -> float:
        """The metric with every modality."""
        return self.scores[self.modalities]

    @property
    def empty_score(self) -> float:
        """The metric of the empty-set prediction (the prior)."""
        return self.scores[()]

    def drop(self, modality: str) -> float:
        """``full_score`` minus the metric with ``modality`` alone removed."""
        return self.full_score - self.scores[tuple(m for m in self.modalities if m != modality)]

    def alone(self, modality: str) -> float:
        """The metric with ``modality`` alone."""
        return self.scores[(modality,)]

    def present_fraction(self, modality: str) -> float:
        """Fraction of the rows where ``modality`` is present."""
        return sum(n for s, n in self.missingness.items() if modality in s) / max(1, self.n_rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per modality: Shapley value and interval, metric alone, drop when removed, presence."""
        rows = []
        for m in self.modalities:
            low, high = self.shapley_ci.get(m, (math.nan, math.nan))
            d_low, d_high = self.drop_ci.get(m, (math.nan, math.nan))
            rows.append({"modality": m, "shapley": self.shapley[m], "shapley_low": low, "shapley_high": high,
                         "alone": self.alone(m), "drop_when_removed": self.drop(m), "drop_low": d_low,
                         "drop_high": d_high, "present_fraction": self.present_fraction(m)})
        return pd.DataFrame(rows).set_index("modality")

    def subsets_frame(self) -> pd.DataFrame:
        """One row per evaluated subset (empty set first): its metric and interval, how many rows
        hold exactly that combination, and how many fell back to the prior (nothing of it present)."""
        rows = []
        for s in sorted(self.scores, key=lambda s: (len(s), [self.modalities.index(m) for m in s])):
            low, high = self.score_ci.get(s, (math.nan, math.nan))
            rows.append({"subset": _name(s), "size": len(s), "score": self.scores[s], "low": low, "high": high,
                         "rows_with_exactly_this": self.missingness.get(s, 0),
                         "rows_on_prior": sum(n for p, n in self.missingness.items() if not set(p) & set(s))})
        return pd.DataFrame(rows).set_index("subset")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (subset-keyed maps become lists of records); :meth:`from_dict` inverts it."""
        return {
            "task": self.task, "metric": self.metric, "modalities": list(self.modalities), "n_rows": self.n_rows,
            "method": self.method, "baseline": self.baseline, "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap, "n_permutations": self.n_permutations, "seed": self.seed,
            "failed_resamples": self.failed_resamples,
            "full_score": self.full_score, "empty_score": self.empty_score,
            "shapley": [{"modality": m, "value": self.shapley[m], "ci": list(self.shapley_ci.get(m, _NAN_CI)),
                         "drop_when_removed": self.drop(m), "drop_ci": list(self.drop_ci.get(m, _NAN_CI)),
                         "alone": self.alone(m)} for m in self.modalities],
            "subsets": [{"modalities": list(s), "score": self.scores[s], "ci": list(self.score_ci.get(s, _NAN_CI))}
                        for s in self.scores],
            "missingness": [{"present": list(s), "rows": n} for s, n in self.missingness.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModalityReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            task=data["task"], metric=data["metric"], modalities=tuple(data["modalities"]), n_rows=data["n_rows"],
            method=data["method"], baseline=data["baseline"], confidence=data["confidence"],
            n_bootstrap=data["n_bootstrap"], n_permutations=data["n_permutations"], seed=data["seed"],
            failed_resamples=data.get("failed_resamples", 0),
            scores={tuple(r["modalities"]): r["score"] for r in data["subsets"]},
            score_ci={tuple(r["modalities"]): tuple(r["ci"]) for r in data["subsets"]},
            shapley={r["modality"]: r["value"] for r in data["shapley"]},
            shapley_ci={r["modality"]: tuple(r["ci"]) for r in data["shapley"]},
            drop_ci={r["modality"]: tuple(r["drop_ci"]) for r in data["shapley"]},
            missingness={tuple(r["present"]): r["rows"] for r in data["missingness"]},
        )

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text (NaN written as ``NaN``); also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> ModalityReport:
        """Read what :meth:`to_json` wrote (JSON text or a file path)."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    def to_markdown(self, digits: int = 3) -> str:
        """Two markdown tables: per modality, and per subset with the data's missingness pattern."""
        pct = round(100 * self.confidence)
        head = (f"Metric: {self.metric} on {self.n_rows} rows; all modalities {self.full_score:.{digits}f}, "
                f"none (prior) {self.empty_score:.{digits}f}; Shapley values "
                f"{'exact' if self.method == 'exact' else f'Monte-Carlo ({self.n_permutations} permutations)'}, "
                f"{pct}% bootstrap intervals ({self.n_bootstrap} resamples).")
        f = self.to_frame()
        per_modality = _markdown_table(
            ["modality", f"Shapley [{pct}% CI]", "alone", f"drop when removed [{pct}% CI]", "present in rows"],
            [[m, f"{r.shapley:.{digits}f} {_ci(r.shapley_low, r.shapley_high, digits)}", f"{r.alone:.{digits}f}",
              f"{r.drop_when_removed:.{digits}f} {_ci(r.drop_low, r.drop_high, digits)}", f"{r.present_fraction:.1%}"]
             for m, r in f.iterrows()])
        s = self.subsets_frame()
        per_subset = _markdown_table(
            ["subset", f"{self.metric} [{pct}% CI]", "rows with exactly this", "rows on prior"],
            [[name, f"{r.score:.{digits}f} {_ci(r.low, r.high, digits)}", str(int(r.rows_with_exactly_this)),
              str(int(r.rows_on_prior))] for name, r in s.iterrows()])
        return f"{head}\n\n{per_modality}\n\n{per_subset}\n"

    def plot(self, path: str | os.PathLike) -> Path:
        """Write a PNG bar chart: Shapley values with intervals, and the metric of every subset."""
        from lanistr_core.report_plot import plot_report

        return plot_report(self, Path(path))

    def log_tensorboard(self, run_dir: str | os.PathLike, step: int = 0) -> Path:
        """Write the report as TensorBoard scalars under ``run_dir/tensorboard/report``."""
        from torch.utils.tensorboard import SummaryWriter

        log_dir = Path(run_dir) / "tensorboard" / "report"
        writer = SummaryWriter(log_dir=str(log_dir))
        try:
            for m in self.modalities:
                low, high = self.shapley_ci.get(m, _NAN_CI)
                for key, value in (("shapley", self.shapley[m]), ("shapley_low", low), ("shapley_high", high),
                                   ("drop", self.drop(m)), ("present", self.present_fraction(m))):
                    writer.add_scalar(f"report/{key}/{m}", value, step)
            for s, value in self.scores.items():
                writer.add_scalar(f"report/{self.metric}/{_name(s, sep='+')}", value, step)
        finally:
            writer.close()
        return log_dir


_NAN_CI = (math.nan, math.nan)


def _name(subset: Subset, sep: str = " + ") -> str:
    return sep.join(subset) if subset else EMPTY


def _ci(low: float, high: float, digits: int) -> str:
    return "" if math.isnan(low) else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


# -- metrics -----------------------------------------------------------------------------


def resolve_metric(task: str, metric: str | None) -> str:
    """The metric to report: ``metric`` checked against the task, or the task's default."""
    allowed = REPORT_METRICS[task]
    if metric is None:
        return allowed[0]
    if metric not in allowed:
        hint = f" (the report needs higher-is-better scores: use neg_{metric})" if metric in ("rmse", "mae") else ""
        raise ValueError(f"metric {metric!r} does not apply to {task}; use one of {list(allowed)}{hint}")
    return metric


def score(metric: str, y: np.ndarray, pred: np.ndarray, offset: np.ndarray | None = None) -> float:
    """Higher-is-better ``metric`` of predictions ``pred`` against ``y``.

    Classification: ``y`` holds class indices, ``pred`` is (n, n_classes) probabilities; AUROC is
    binary, or one-vs-rest macro over the classes present in ``y`` (NaN with a single class);
    accuracy and macro-F1 score the decisions of :func:`lanistr_core.metrics.decide` with ``offset``
    (the model's ``decision_offset()``).
    Regression: ``y`` and ``pred`` are (n,) values.
    """
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score

    if metric == "auroc":
        from torchmetrics.functional.classification import binary_auroc

        seen = np.unique(y)
        if seen.size < 2:
            return math.nan
        scores = torch.from_numpy(np.ascontiguousarray(pred))
        target = torch.from_numpy(y)
        # binary: the positive column; multiclass: one-vs-rest over the classes present (as evaluate())
        classes = [1] if pred.shape[1] == 2 else seen.tolist()
        return float(np.mean([float(binary_auroc(scores[:, c], (target == c).long(), validate_args=False))
                              for c in classes]))
    if metric == "macro_f1":
        return float(f1_score(y, decide(pred, offset), average="macro", labels=np.arange(pred.shape[1]), zero_division=0))
    if metric == "accuracy":
        return float(accuracy_score(y, decide(pred, offset)))
    if metric == "r2":
        return float(r2_score(y, pred)) if len(y) > 1 else math.nan
    if metric == "neg_rmse":
        return -float(np.sqrt(mean_squared_error(y, pred)))
    if metric == "neg_mae":
        return -float(mean_absolute_error(y, pred))
    raise ValueError(f"unknown metric {metric!r}; known: {sorted({m for ms in REPORT_METRICS.values() for m in ms})}")


# -- subsets and Shapley weights -----------------------------------------------------------


def exact_weights(k: int) -> tuple[list[int], np.ndarray]:
    """All ``2^k`` subsets (bit ``i`` = modality ``i``) and the (k, 2^k) matrix ``W`` with
    ``shapley = W @ scores``: weight ``|S|!(k-|S|-1)!/k!`` on ``v(S+i) - v(S)``."""
    subsets = list(range(2**k))
    weights = np.zeros((k, len(subsets)))
    for i in range(k):
        bit = 1 << i
        for s in subsets:
            if s & bit:
                continue
            size = s.bit_count()
            w = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            weights[i, s | bit] += w
            weights[i, s] -= w
    return subsets, weights


def permutation_weights(k: int, n_permutations: int, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """Monte-Carlo Shapley: subsets visited by ``n_permutations`` random orders (every prefix), plus
    each singleton and leave-one-out set, and ``W`` averaging the marginal contributions."""
    full = 2**k - 1
    orders = [rng.permutation(k) for _ in range(n_permutations)]
    visited = {0, full} | {1 << i for i in range(k)} | {full ^ (1 << i) for i in range(k)}
    for order in orders:
        prefix = 0
        for i in order:
            prefix |= 1 << int(i)
            visited.add(prefix)
    subsets = sorted(visited)
    column = {s: j for j, s in enumerate(subsets)}
    weights = np.zeros((k, len(subsets)))
    for order in orders:
        prefix = 0
        for i in order:
            bit = 1 << int(i)
            weights[i, column[prefix | bit]] += 1.0 / n_permutations
            weights[i, column[prefix]] -= 1.0 / n_permutations
            prefix |= bit
    return subsets, weights


# -- inference ------------------------------------------------------------------------------


@torch.no_grad()
def subset_predictions(
    model: Lanistr, frame: pd.DataFrame, subsets: Sequence[int], *, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row predictions of ``model`` seeing only the modalities of each subset.

    Returns ``(pred, present)``: ``pred`` is (n_subsets, n_rows, n_out) class probabilities (or
    (n_subsets, n_rows, 1) values in label units for regression), NaN where the row has no modality
    of the subset present; ``present`` is the data's own (n_rows, k) presence. The encoders run once
    per row batch; each subset re-runs only ``fuse`` and the head.
    """
    net = model.model_
    names = list(net.modalities)
    cfg = attrs.evolve(model.config.finetune, batch_size=max(2, batch_size))
    n_out = len(model.classes_) if model.task_ == "classification" else 1
    pred = np.full((len(subsets), len(frame), n_out), np.nan)
    present_all = np.zeros((len(frame), len(names)), dtype=bool)
    keeps = torch.tensor([[bool(s >> i & 1) for i in range(len(names))] for s in subsets], dtype=torch.bool)  # (S, k)
    was_training = net.training
    net.eval()
    start = 0
    try:
        for batch in model._loader(frame, cfg, train=False):
            batch = batch.to(model.device)
            present = torch.stack([batch.batches[n][PRESENT].to(torch.bool) for n in names], 1)  # (B, k)
            present_all[start:start + len(batch)] = present.cpu().numpy()
            with autocast_for(model.device, cfg.amp):
                encoded = net.encode(batch.batches)
            for j, keep in enumerate(keeps):
                seen = present & keep.to(present.device)  # (B, k): present and inside the subset
                rows = seen.any(1).nonzero().flatten()  # rows with something left to see
                if rows.numel() == 0:
                    continue
                sub = {n: EncodedTokens(tokens=e.tokens[rows], mask=e.mask[rows]) for n, e in encoded.items()}
                with autocast_for(model.device, cfg.amp):
                    fused = net.fuse(sub, {n: seen[rows, i] for i, n in enumerate(names)},
                                     row_ids=[batch.row_ids[r] for r in rows.tolist()])
                    logits = net.head(fused.pooled).float()
                out = logits.softmax(-1) if model.task_ == "classification" else logits
                pred[j, start + rows.cpu().numpy()] = out.double().cpu().numpy()
            start += len(batch)
    finally:
        net.train(was_training)
    if model.task_ == "regression":
        pred = pred * model.target_stats_["std"] + model.target_stats_["mean"]
    return pred, present_all


def _labels_and_prior(model: Lanistr, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """Encoded labels, the empty-set prediction (n_out,), and how it was made."""
    y = model._targets(frame).numpy()
    if model.task_ == "classification":
        freq = np.bincount(y, minlength=len(model.classes_)) / len(y)
        return y, freq, "class frequencies of the evaluated rows' labels"
    stats = model.target_stats_
    y = y.astype(np.float64) * stats["std"] + stats["mean"]
    return y, np.array([stats["mean"]]), "the training-label mean stored by the model"


# -- the report ------------------------------------------------------------------------------


def modality_report(model: Lanistr, frame: pd.DataFrame, *, run_dir: str | os.PathLike | None = None,
                    **options: Any) -> ModalityReport:
    """Which modalities a fitted model relies on: the metric of every subset of modalities (presence
    masks only, no retraining), the empty-set baseline, Shapley values with bootstrap intervals, the
    drop when each modality alone is removed, and the data's missingness pattern.

    ``options`` are :class:`ReportConfig` fields (``metric``, ``n_bootstrap``, ``confidence``,
    ``method``, ``max_exact``, ``n_permutations``, ``batch_size``, ``seed``). With ``run_dir`` the
    report is also written as TensorBoard scalars under ``run_dir/tensorboard/report``.
    """
    model._require("fitted")
    config = ReportConfig(**options)
    metric = resolve_metric(model.task_, config.metric)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    model._check_frame(frame)
    y, prior, baseline = _labels_and_prior(model, frame)
    names = tuple(model.model_.modalities)
    k = len(names)
    rng = np.random.default_rng(config.seed)
    exact = config.method == "exact" or (config.method == "auto" and k <= config.max_exact)
    if exact:
        subsets, weights = exact_weights(k)
    else:
        subsets, weights = permutation_weights(k, config.n_permutations, rng)

    offset = model.decision_offset()
    pred, present = subset_predictions(model, frame, subsets, batch_size=config.batch_size)
    pred = np.where(np.isnan(pred), prior, pred)  # nothing of the subset present: the prior
    if model.task_ == "regression":
        pred = pred[..., 0]  # (S, n)

    def all_scores(rows: np.ndarray | None) -> np.ndarray:
        yy = y if rows is None else y[rows]
        return np.array([score(metric, yy, p if rows is None else p[rows], offset) for p in pred])

    values = all_scores(None)  # (S,)
    shapley = weights @ values  # (k,)
    full, column = 2**k - 1, {s: j for j, s in enumerate(subsets)}
    drop_cols = [column[full ^ (1 << i)] for i in range(k)]

    boot_values = np.empty((config.n_bootstrap, len(subsets)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an undefined metric in one resample is counted, not warned about
        for b in range(config.n_bootstrap):
            boot_values[b] = all_scores(rng.integers(0, len(y), len(y)))
    ok = ~np.isnan(boot_values).any(1)
    failed = int((~ok).sum())
    boot_values = boot_values[ok]
    alpha = 100 * (1 - config.confidence) / 2

    def interval(samples: np.ndarray) -> list[Interval]:  # (n_ok, m) -> m intervals
        if len(samples) == 0:
            return [_NAN_CI] * samples.shape[1]
        low, high = np.percentile(samples, [alpha, 100 - alpha], axis=0)
        return [(float(a), float(b)) for a, b in zip(low, high)]

    as_tuple = {s: tuple(n for i, n in enumerate(names) if s >> i & 1) for s in subsets}
    combos, counts = np.unique(present, axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")  # most common combination first
    report = ModalityReport(
        task=model.task_, metric=metric, modalities=names, n_rows=len(frame),
        method="exact" if exact else "permutation",
        scores={as_tuple[s]: float(values[j]) for j, s in enumerate(subsets)},
        score_ci=dict(zip((as_tuple[s] for s in subsets), interval(boot_values))),
        shapley={n: float(shapley[i]) for i, n in enumerate(names)},
        shapley_ci=dict(zip(names, interval(boot_values @ weights.T))),
        drop_ci=dict(zip(names, interval(boot_values[:, [column[full]]] - boot_values[:, drop_cols]))),
        missingness={tuple(n for n, p in zip(names, combos[i]) if p): int(counts[i]) for i in order},
        baseline=baseline, confidence=config.confidence, n_bootstrap=config.n_bootstrap,
        n_permutations=None if exact else config.n_permutations, seed=config.seed, failed_resamples=failed,
    )
    if run_dir is not None:
        report.log_tensorboard(run_dir)
    return report
