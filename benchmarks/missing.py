"""``missing``: how fast a trained model's metric falls as each modality goes missing at test time.

For every arm, train once, then blank one modality's cells in a random 0/25/50/75/100% of the test
rows (the others untouched) and score; every modality, every rate. Arms: ``missing="mask"`` (absent
tokens removed from attention, the default) vs ``missing="zero"`` (the official code's zero-filled,
still attended placeholders), each trained without and with train-time missingness.

Datasets:

* ``interaction``: generated 4-modality rows, label = XOR of a text/image cue and a tabular/series
  cue (``make_multimodal_frame(interaction=True)``); tiny preset, fine-tuning only; training rows
  with no missing cells vs 30% of each modality's cells missing; test rows complete before blanking.
  Losing text alone should cost little (the image carries the same cue), as should losing only one
  of tabular / series.
* ``reviews``: the bundled reviews (text + tabular), the quality benchmark's recipe without LANISTR
  pretraining, 1% of the labels (the quality benchmark's split), Recommended AUROC; train-time
  missingness blanks each modality in 30% of the training rows (never both); test rows with both
  modalities present before blanking.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from benchmarks.common import (DEFAULT_TEST_ROWS, mean_sd, output_dir, parse_list, provenance, review_splits,
                               write_results)
from benchmarks.quality import INTERACTION_MODALITIES, INTERACTION_OPTIONS, QUICK_REVIEW_OPTIONS, review_options

RATES = (0.0, 0.25, 0.5, 0.75, 1.0)
MODES = ("mask", "zero")


def drop_modality(frame: pd.DataFrame, columns: Sequence[str], rate: float, seed: int,
                  keep: pd.Series | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` blanked (None/NaN) in a random ``rate`` of the rows
    (only rows where ``keep`` is False are eligible, when given)."""
    out = frame.copy()
    eligible = out.index if keep is None else out.index[~keep.reindex(out.index, fill_value=False)]
    n = int(round(rate * len(eligible)))
    if n:
        chosen = np.random.default_rng(seed).choice(len(eligible), size=n, replace=False)
        for column in columns:
            out[column] = out[column].astype(object) if not pd.api.types.is_float_dtype(out[column]) else out[column]
            out.loc[eligible[chosen], column] = None
    return out


def train_missingness(frame: pd.DataFrame, modalities: Mapping[str, Sequence[str]], rate: float, seed: int) -> pd.DataFrame:
    """Blank each modality in a random ``rate`` of the rows that still hold another modality (so every
    row keeps at least one)."""
    out = frame.copy()
    for i, name in enumerate(modalities):
        others = [list(cols) for other, cols in modalities.items() if other != name]
        alone = ~pd.concat([out[cols].notna().any(axis=1) for cols in others], axis=1).any(axis=1)
        out = drop_modality(out, modalities[name], rate, seed + i, keep=alone)
    return out


def _curves(model: Any, test: pd.DataFrame, modalities: Mapping[str, Sequence[str]], metric: str, seed: int,
            rates: Sequence[float]) -> list[dict[str, Any]]:
    """The test metric with each modality blanked at each rate (rate 0 once, shared)."""
    base = model.evaluate(test)[metric]
    rows = [{"modality": name, "rate": 0.0, metric: base} for name in modalities]
    for name, rate in itertools.product(modalities, [r for r in rates if r > 0]):
        blanked = drop_modality(test, modalities[name], rate, seed=1000 + int(100 * rate))
        rows.append({"modality": name, "rate": rate, metric: model.evaluate(blanked)[metric]})
    return rows


def run_interaction(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    """Train the four arms per seed on generated data; score every modality x rate."""
    from lanistr_core.data import split_frame
    from lanistr_core.facade import Lanistr
    from lanistr_core.testing.data import make_multimodal_frame

    options = {**INTERACTION_OPTIONS, "device": args.device, "verbose": False}
    n_labeled, n_test = (40, 30) if args.quick else (args.interaction_labels, 400)
    if args.quick:
        options["finetune"] = {"epochs": 1, "batch_size": 16, "validation": "none"}
    scratch = tempfile.TemporaryDirectory(prefix="lanistr-bench-missing-")  # deleted when this function returns
    work = Path(scratch.name)
    test = make_multimodal_frame(n_test, image_dir=work / "test", seed=30_000, missing=0.0, interaction=True)
    rows = []
    for seed, train_rate, mode in itertools.product(args.seeds, (0.0, args.train_missing), MODES):
        labeled = make_multimodal_frame(n_labeled, image_dir=work / f"train{seed}", seed=seed, missing=train_rate,
                                        interaction=True)
        train, val = split_frame(labeled, 0.25, seed, stratify=labeled["label"])
        t0 = time.perf_counter()
        model = Lanistr(INTERACTION_MODALITIES, label="label", task="classification", missing=mode, seed=seed,
                        **options)
        model.fit(train, validation=val if len(val) else None)
        fit_s = time.perf_counter() - t0
        curves = _curves(model, test, INTERACTION_MODALITIES, "auroc", seed, args.rates)
        rows += [{"dataset": "interaction", "seed": seed, "missing": mode, "train_missing": train_rate,
                  "fit_s": fit_s, **r} for r in curves]
        log(f"interaction seed={seed} missing={mode} train_missing={train_rate}: AUROC "
            f"{curves[0]['auroc']:.3f} complete ({fit_s:.0f} s)")
    return rows


def run_reviews(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    """The four arms on 1% of the review labels (Recommended), every modality x rate."""
    from lanistr_core.datasets import REVIEW_LABELS, review_modalities
    from lanistr_core.facade import Lanistr

    label = "Recommended IND"
    modalities = review_modalities()
    options = QUICK_REVIEW_OPTIONS if args.quick else review_options(args.text_trainable_layers)
    options = {**options, "device": args.device, "verbose": False}
    fraction = 0.05 if args.quick else 0.01
    test_rows = 60 if args.quick else (args.test_rows or None)
    rows = []
    for seed in args.review_seeds:
        splits = review_splits(fraction, seed, label, test_rows=None, max_rows=1500 if args.quick else None)
        drop = [c for c in REVIEW_LABELS if c != label]
        train, val, test = (splits[k].drop(columns=drop) for k in ("train", "val", "test"))
        complete = test.dropna(how="all", subset=modalities["text"]).dropna(how="all", subset=modalities["tabular"])
        if test_rows is not None and test_rows < len(complete):
            complete = complete.sample(n=test_rows, random_state=0)
        for train_rate, mode in itertools.product((0.0, args.train_missing), MODES):
            t0 = time.perf_counter()
            model = Lanistr(modalities, label=label, task="classification", missing=mode, seed=seed, **options)
            if not args.quick:
                model.config = attrs.evolve(model.config, finetune=attrs.evolve(model.config.finetune, epochs=12))
            model.fit(train_missingness(train, modalities, train_rate, seed) if train_rate else train,
                      validation=val)
            fit_s = time.perf_counter() - t0
            curves = _curves(model, complete, modalities, "auroc", seed, args.rates)
            rows += [{"dataset": "reviews", "seed": seed, "missing": mode, "train_missing": train_rate,
                      "fit_s": fit_s, **r} for r in curves]
            log(f"reviews seed={seed} missing={mode} train_missing={train_rate}: AUROC "
                f"{curves[0]['auroc']:.3f} complete ({fit_s:.0f} s)")
    return rows


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks missing``."""
    p.add_argument("--datasets", default="interaction,reviews")
    p.add_argument("--seeds", default="0,1,2", help="seeds of the generated data (and models)")
    p.add_argument("--review-seeds", default="0", help="label seeds of the review arms")
    p.add_argument("--rates", default=",".join(str(r) for r in RATES))
    p.add_argument("--train-missing", type=float, default=0.3, help="train-time missing rate of the 'with' arms")
    p.add_argument("--interaction-labels", type=int, default=400)
    p.add_argument("--test-rows", type=int, default=1000, help="complete review test rows scored (0: all)")
    p.add_argument("--text-trainable-layers", type=int, default=1)


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Run the selected datasets; write the result files."""
    started, prov = time.perf_counter(), provenance(args.argv)
    args.seeds, args.review_seeds = parse_list(args.seeds, int), parse_list(args.review_seeds, int)
    args.rates = parse_list(args.rates, float)
    if args.quick:
        args.seeds, args.review_seeds, args.rates = [0], [0], [0.0, 0.5, 1.0]
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    rows: list[dict[str, Any]] = []
    datasets = parse_list(args.datasets)
    if "interaction" in datasets:
        rows += run_interaction(args, log)
    if "reviews" in datasets:
        rows += run_reviews(args, log)
    frame = pd.DataFrame(rows)
    table = missing_table(frame)
    out = output_dir("missing", args.out)
    wall = time.perf_counter() - started
    notes = ("Test AUROC, mean ± sd over seeds, with one modality blanked in the given share of the test "
             "rows. Arms: `mask`/`zero` = how absent modalities enter the fusion; `train 0%`/`train 30%` = "
             "share of each modality's cells missing in the training rows.")
    paths = write_results(out, name="missing", rows=frame, table=table, figure=_plot(frame),
                          prov=prov, wall_s=wall, notes=notes)
    print("\n" + table + f"\n\nwrote {out} in {wall:.0f} s")
    return paths


def _arm(mode: str, train_rate: float) -> str:
    return f"{mode}, train {train_rate:.0%}"


def missing_table(frame: pd.DataFrame) -> str:
    """Markdown: per dataset, modality dropped and arm, AUROC at each test-time missing rate."""
    parts = []
    for dataset, data in frame.groupby("dataset", sort=False):
        rates = sorted(data.rate.unique())
        lines = ["| modality dropped | arm | " + " | ".join(f"{r:.0%}" for r in rates) + " |",
                 "|---|---|" + "---|" * len(rates)]
        for (modality, mode, train_rate), sub in data.groupby(["modality", "missing", "train_missing"], sort=False):
            cells = [mean_sd(sub[sub.rate == r].auroc) for r in rates]
            lines.append(f"| {modality} | {_arm(mode, train_rate)} | " + " | ".join(cells) + " |")
        parts.append(f"### {dataset}: test AUROC against the share of test rows missing the modality\n\n"
                     + "\n".join(lines))
    return "\n\n".join(parts)


def _plot(frame: pd.DataFrame) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(frame.groupby(["dataset", "modality"], sort=False).groups)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (dataset, modality) in zip(axes[0], panels):
        sub = frame[(frame.dataset == dataset) & (frame.modality == modality)]
        for (mode, train_rate), arm in sub.groupby(["missing", "train_missing"], sort=False):
            curve = arm.groupby("rate").auroc.agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(curve.index, curve["mean"], yerr=curve["std"], marker="o", capsize=2,
                        linestyle="-" if mode == "mask" else "--", label=_arm(mode, train_rate))
        ax.set_title(f"{dataset}: drop {modality}", fontsize=9)
        ax.set_xlabel("test rows missing it")
        ax.set_ylabel("AUROC")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    return fig
