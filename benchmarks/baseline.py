"""``baseline``: the conventional pipeline a practitioner tries first, on the quality benchmark's splits.

Two scikit-learn models on TF-IDF text + tabular features, each with a small grid whose best point
is chosen on the validation rows (never the test rows):

* ``logreg``: TF-IDF (1-2 grams, sublinear tf) + median-imputed scaled numbers + one-hot categories
  into logistic regression, C in {0.1, 0.3, 1, 3, 10, 30} (``lanistr_core.reference``);
* ``hgb``: TF-IDF (1-2 grams, 20k features) reduced to 64 dimensions by truncated SVD (gradient
  boosting needs dense inputs) + raw numbers + ordinal categories (native categorical splits) into
  ``HistGradientBoostingClassifier``, learning_rate in {0.05, 0.1} x max_leaf_nodes in {7, 31},
  200 iterations, L2 1.0;
* ``best``: whichever of the two scored higher on validation.

Selection metric: validation AUROC (what every LANISTR arm early-stops on), ties broken by the lower
validation log-loss.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (DEFAULT_TEST_ROWS, mean_sd, output_dir, parse_list, provenance, review_splits,
                               write_results)

# (task label, metric) pairs every review table reports
HEADLINE = (("Rating", "macro_f1"), ("Rating", "accuracy"), ("Recommended IND", "auroc"))
TASK_LABELS = ("Rating", "Recommended IND")
HGB_GRID = {"learning_rate": (0.05, 0.1), "max_leaf_nodes": (7, 31)}
SVD_DIM = 64
HGB_ITERATIONS = 200
# --quick: one point per model, fewer trees (a smoke test of the pipeline, not a result)
QUICK_GRIDS = {"logreg": [{"C": 1.0}], "hgb": [{"learning_rate": 0.1, "max_leaf_nodes": 7}]}


def hgb_pipeline(text: Sequence[str], tabular: Sequence[str], frame: pd.DataFrame, **params: Any) -> Any:
    """TF-IDF -> truncated SVD for the text, numbers as they are, ordinal-encoded categories (native
    categorical splits) -> histogram gradient boosting with ``params``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import TruncatedSVD
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    from lanistr_core.reference import _joined_text

    numeric = [c for c in tabular if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in tabular if c not in numeric]
    text_part = make_pipeline(FunctionTransformer(_joined_text(text)),
                              TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=20000),
                              TruncatedSVD(n_components=SVD_DIM, random_state=0))
    parts = [("text", text_part, list(text)), ("numeric", "passthrough", numeric),
             ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                            encoded_missing_value=np.nan), categorical)]
    n_text = SVD_DIM
    is_cat = [False] * (n_text + len(numeric)) + [True] * len(categorical)
    model = HistGradientBoostingClassifier(max_iter=HGB_ITERATIONS, l2_regularization=1.0, categorical_features=is_cat,
                                           random_state=0, **params)
    return make_pipeline(ColumnTransformer(parts), model)


def _fit_grid(
    name: str, train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame, label: str,
    text: Sequence[str], tabular: Sequence[str], grid: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Best grid point of ``name`` on validation AUROC (ties: lower log-loss); its test metrics."""
    from sklearn.metrics import log_loss

    from lanistr_core.metrics import classification_metrics
    from lanistr_core.reference import C_GRID, class_probabilities, reference_pipeline

    classes = sorted(train[label].unique().tolist())
    index = {c: i for i, c in enumerate(classes)}
    columns = [*text, *tabular]

    def proba(model: Any, frame: pd.DataFrame) -> np.ndarray:
        return class_probabilities(model, frame[columns], classes)

    if name == "logreg":
        grid = grid or [{"C": c} for c in C_GRID]
        make = lambda p: reference_pipeline(text, tabular, train, p["C"])  # noqa: E731
    else:
        grid = grid or [dict(zip(HGB_GRID, values)) for values in itertools.product(*HGB_GRID.values())]
        make = lambda p: hgb_pipeline(text, tabular, train, **p)  # noqa: E731
    y_val = val[label].map(index).to_numpy()
    best: tuple[tuple[float, float], dict[str, Any], Any] | None = None
    for params in grid:
        model = make(params).fit(train[columns], train[label])
        p_val = proba(model, val)
        key = (classification_metrics(y_val, p_val)["auroc"], -log_loss(y_val, p_val, labels=range(len(classes))))
        if best is None or key > best[0]:
            best = (key, params, model)
    (val_auroc, _), params, model = best
    test_scores = classification_metrics(test[label].map(index).to_numpy(), proba(model, test))
    return {**test_scores, "val_auroc": val_auroc, "params": str(params)}


def run_split(
    splits: dict[str, pd.DataFrame], label: str, models: Sequence[str] = ("logreg", "hgb"), *, quick: bool = False,
) -> list[dict[str, Any]]:
    """Fit every baseline model on one (fraction, seed, task) split; adds the validation-chosen ``best``.

    Runs single-threaded: gradient boosting's OpenMP threads slowed it 10x on the shared 2-core CPU.
    """
    from threadpoolctl import threadpool_limits

    from lanistr_core.datasets import REVIEW_TABULAR_COLUMNS, REVIEW_TEXT_COLUMNS

    rows = []
    for name in models:
        t0 = time.perf_counter()
        with threadpool_limits(1):
            scores = _fit_grid(name, splits["train"], splits["val"], splits["test"], label, REVIEW_TEXT_COLUMNS,
                               REVIEW_TABULAR_COLUMNS, QUICK_GRIDS[name] if quick else None)
        rows.append({"model": name, **scores, "seconds": time.perf_counter() - t0})
    if len(rows) > 1:
        winner = max(rows, key=lambda r: r["val_auroc"])
        rows.append({**winner, "model": "best", "params": f"{winner['model']} {winner['params']}"})
    return rows


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks baseline``."""
    p.add_argument("--fractions", default="0.01,0.1", help="label fractions of the review pool")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--models", default="logreg,hgb")
    p.add_argument("--test-rows", type=int, default=DEFAULT_TEST_ROWS, help="sampled test rows (0: all 4,697)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every model x fraction x seed x task; writes the result files and returns their paths."""
    started, prov = time.perf_counter(), provenance(args.argv)
    fractions, seeds, models = parse_list(args.fractions, float), parse_list(args.seeds, int), parse_list(args.models)
    test_rows = args.test_rows or None
    max_rows = None
    if args.quick:
        fractions, seeds, models, test_rows, max_rows = [0.05], [0], models, 200, 3000
    rows = []
    for fraction, seed, label in itertools.product(fractions, seeds, TASK_LABELS):
        splits = review_splits(fraction, seed, label, test_rows=test_rows, max_rows=max_rows)
        for r in run_split(splits, label, models, quick=args.quick):
            rows.append({"fraction": fraction, "seed": seed, "task": label, "n_train": len(splits["train"]),
                         "n_val": len(splits["val"]), "n_test": len(splits["test"]), **r})
            print(f"baseline fraction={fraction} seed={seed} {label} {r['model']}: auroc={r['auroc']:.3f} "
                  f"macro_f1={r['macro_f1']:.3f} accuracy={r['accuracy']:.3f} ({r['params']})", flush=True)
    frame = pd.DataFrame(rows)
    table = summary_table(frame, "model", [m for m in (*models, "best") if m in set(frame.model)])
    notes = ("Mean ± sd over seeds of test metrics; each model's grid point chosen on validation AUROC. "
             "Params chosen per split are in results.csv.")
    out = output_dir("baseline", args.out)
    wall = time.perf_counter() - started
    paths = write_results(out, name="baseline", rows=frame, table=table, figure=_plot(frame),
                          prov=prov, wall_s=wall, notes=notes)
    print("\n" + table + f"\n\nwrote {out} in {wall:.0f} s")
    return paths


def summary_table(frame: pd.DataFrame, arm_column: str, arms: Sequence[str]) -> str:
    """Markdown: one row per (label fraction, arm), one column per headline metric, mean ± sd over seeds."""
    head = "| labels | " + arm_column + " | " + " | ".join(f"{t} {m}" for t, m in HEADLINE) + " | seeds |"
    lines = [head, "|---|---|" + "---|" * len(HEADLINE) + "---|"]
    for fraction in sorted(frame.fraction.unique()):
        for arm in arms:
            sub = frame[(frame.fraction == fraction) & (frame[arm_column] == arm)]
            if sub.empty:
                continue
            cells = [mean_sd(sub[sub.task == t][m]) for t, m in HEADLINE]
            lines.append(f"| {fraction:.0%} | {arm} | " + " | ".join(cells) + f" | {sub.seed.nunique()} |")
    return "\n".join(lines)


def _plot(frame: pd.DataFrame) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(HEADLINE), figsize=(4 * len(HEADLINE), 3.2))
    models = list(dict.fromkeys(frame.model))
    fractions = sorted(frame.fraction.unique())
    width = 0.8 / max(1, len(models))
    for ax, (task, metric) in zip(np.atleast_1d(axes), HEADLINE):
        for i, model in enumerate(models):
            sub = frame[(frame.model == model) & (frame.task == task)]
            stats = [sub[sub.fraction == f][metric] for f in fractions]
            ax.bar(np.arange(len(fractions)) + i * width, [s.mean() for s in stats], width,
                   yerr=[s.std(ddof=1) if len(s) > 1 else 0 for s in stats], label=model, capsize=3)
        ax.set_xticks(np.arange(len(fractions)) + width * (len(models) - 1) / 2, [f"{f:.0%}" for f in fractions])
        ax.set_title(f"{task} {metric}")
        ax.set_xlabel("labels")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
