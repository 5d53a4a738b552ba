"""PNG chart of a :class:`~lanistr_core.report.ModalityReport` (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lanistr_core.report import ModalityReport


def plot_report(report: ModalityReport, path: Path, *, dpi: int = 100) -> Path:
    """Left: Shapley value of each modality with its bootstrap interval. Right: the metric of every
    evaluated subset (with intervals), the full set and the empty-set prior as reference lines."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display needed; a backend already chosen by the user stays
    import matplotlib.pyplot as plt

    frame, subsets = report.to_frame(), report.subsets_frame()
    pct = round(100 * report.confidence)
    height = max(2.6, 0.32 * max(len(frame), len(subsets)) + 1.2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, height), gridspec_kw={"width_ratios": [1, 1.4]})

    y = np.arange(len(frame))
    err = _errors(frame["shapley"], frame["shapley_low"], frame["shapley_high"])
    left.barh(y, frame["shapley"], xerr=err, color="#4c72b0", capsize=4)
    left.set_yticks(y, frame.index)
    left.invert_yaxis()
    left.axvline(0, color="black", linewidth=0.8)
    method = "exact" if report.method == "exact" else f"Monte-Carlo, {report.n_permutations} orders"
    left.set_title(f"Shapley value ({method}), {pct}% CI", fontsize=10)
    left.set_xlabel(f"share of {report.metric} gain over the prior")

    y = np.arange(len(subsets))
    err = _errors(subsets["score"], subsets["low"], subsets["high"])
    colors = ["#999999" if size == 0 else "#55a868" for size in subsets["size"]]
    right.barh(y, subsets["score"], xerr=err, color=colors, capsize=3)
    right.set_yticks(y, subsets.index, fontsize=8)
    right.invert_yaxis()
    right.axvline(report.full_score, color="#c44e52", linestyle="--", linewidth=1, label="all modalities")
    right.axvline(report.empty_score, color="#999999", linestyle=":", linewidth=1, label="prior (none)")
    low = min(float(np.nanmin(subsets["low"].fillna(subsets["score"]))), report.empty_score)
    high = max(float(np.nanmax(subsets["high"].fillna(subsets["score"]))), report.full_score)
    pad = 0.05 * (high - low or 1.0)
    right.set_xlim(low - pad, high + pad)
    right.set_title(f"{report.metric} per subset of modalities ({report.n_rows} rows)", fontsize=10)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _errors(value: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray | None:
    """(2, n) non-negative error-bar lengths, or None when there are no intervals."""
    if low.isna().all():
        return None
    return np.clip(np.vstack([value - low, high - value]).astype(float), 0, None)
