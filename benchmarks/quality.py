"""``quality``: perceiver vs concat_transformer vs late, with and without LANISTR pretraining.

Two datasets:

* ``reviews``: the bundled reviews (text + tabular), the demo's recipe (``lanistr_core.demo``:
  all-MiniLM-L6-v2 with the top 2 layers trainable and the frozen ones cached, TabNet, ``small``
  fusion), at each label fraction and seed, two tasks (Rating: macro-F1 / accuracy; Recommended:
  AUROC). Same train / validation / test rows as ``baseline`` (``benchmarks.common.review_splits``).
* ``interaction``: generated 4-modality rows (``make_multimodal_frame(interaction=True)``) whose
  label is the XOR of a cue in text/image and a cue in tabular/series: no single modality predicts it.

Shared to fit the CPU budget (nothing here changes what an arm computes):

* reviews: LANISTR pretraining runs once (seed 0) and serves every fusion, label fraction and seed.
  The demo's recipe pretrains without the multimodal similarity loss (``mmm_weight=0``): only the
  encoders train (MLM on MiniLM's top layers, TabNet masked features), never the fusion, so every
  fusion arm gets the same pretrained encoders and a fresh fusion and head, exactly as if it had
  been pretrained separately. "No pretraining" = MiniLM as shipped, TabNet and the rest random.
* interaction: pretraining uses the full loss (MMM included, weight 1), so it runs once per fusion
  (seed 0) and serves every seed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from benchmarks.baseline import HEADLINE, TASK_LABELS
from benchmarks.common import (DEFAULT_TEST_ROWS, mean_sd, output_dir, parse_list, provenance, review_splits,
                               write_results)

FUSIONS = ("perceiver", "concat_transformer", "late")
# The interaction data's recipe: tiny preset (every modality), fixed short schedules sized for a CPU.
INTERACTION_OPTIONS: dict[str, Any] = {
    "preset": "tiny",
    "pretrain": {"epochs": 4, "batch_size": 32, "validation": "none"},
    "finetune": {"epochs": 30, "batch_size": 32, "patience": 8, "min_epochs": 8, "monitor": "auroc"},
}
INTERACTION_MODALITIES = {"text": ["review"], "image": ["photo"], "tabular": ["age", "size"], "timeseries": ["vitals"]}
# --quick: tiny random-init models, one epoch each; a smoke test of the pipeline, not a result
QUICK_REVIEW_OPTIONS: dict[str, Any] = {
    "preset": "tiny", "mmm_weight": 0.0, "modality_config": {"text": {"max_length": 24}},
    "pretrain": {"epochs": 1, "batch_size": 32, "validation": "none"},
    "finetune": {"epochs": 1, "batch_size": 16, "validation": "none"},
}


def finetune_schedule(n_train: int, batch_size: int, *, steps: int, max_epochs: int) -> dict[str, int | None]:
    """About ``steps`` optimizer steps in 2 to ``max_epochs`` epochs: 150 rows (1% of the reviews) get the
    demo's 12 epochs of 9 steps; 1,500 rows (10%) get 2 epochs capped at ``steps / 2`` steps each (a
    random ``steps * batch_size / 2`` rows per epoch) instead of the demo's 12 full epochs."""
    per_epoch = max(1, n_train // batch_size)
    epochs = int(min(max_epochs, max(2, math.ceil(steps / per_epoch))))
    cap = math.ceil(steps / epochs) if per_epoch * epochs > 1.5 * steps else None
    return {"epochs": epochs, "max_steps_per_epoch": cap}


def _with_fusion(
    base: Path, *, fusion: str, label: str, seed: int, pretrained: bool, schedule: dict[str, Any] | None,
) -> Any:
    """A model with ``base``'s fitted preprocessors and a fresh ``fusion`` + head (seeded); its encoders
    are ``base``'s pretrained ones when ``pretrained``, else freshly initialised ones."""
    from lanistr_core.facade import Lanistr

    model = Lanistr.load(base)
    encoders = {k: v.clone() for k, v in model.model_.encoders.state_dict().items()}
    finetune = attrs.evolve(model.config.finetune, **(schedule or {}))
    model.config = attrs.evolve(model.config, fusion=fusion, label=label, task="classification", finetune=finetune)
    model.reset_weights(seed=seed)  # rebuilds every network from the (evolved) config: the new fusion
    if pretrained:
        model.model_.encoders.load_state_dict(encoders)
        model.pretrained_ = True  # as after pretrain(): encoders train at lr * encoder_lr_scale
    return model


def review_options(trainable_layers: int) -> dict[str, Any]:
    """The demo's recipe (:data:`lanistr_core.demo.DEMO_OPTIONS`) with ``trainable_layers`` top MiniLM
    layers trainable (demo: 2; the benchmark's CPU default: 1, half the text encoder's training cost)."""
    from lanistr_core.demo import DEMO_OPTIONS

    text = {**DEMO_OPTIONS["modality_config"]["text"], "trainable_layers": trainable_layers}
    return {**DEMO_OPTIONS, "modality_config": {**DEMO_OPTIONS["modality_config"], "text": text}}


def run_reviews(args: argparse.Namespace, log: Any, rows: list[dict[str, Any]], save: Any) -> None:
    """Every fusion x pretraining x label fraction x seed x task on the bundled reviews."""
    from lanistr_core.datasets import REVIEW_LABELS, review_modalities
    from lanistr_core.facade import Lanistr

    options = QUICK_REVIEW_OPTIONS if args.quick else review_options(args.text_trainable_layers)
    options = {**options, "device": args.device, "verbose": False}
    max_rows = 1500 if args.quick else None
    test_rows = 100 if args.quick else (args.test_rows or None)
    scratch = tempfile.TemporaryDirectory(prefix="lanistr-bench-quality-")  # deleted when this function returns
    work = Path(scratch.name)
    pool = review_splits(0.01, 0, "Rating", test_rows=test_rows, max_rows=max_rows)["pool"]
    unlabeled = pool.sample(n=min(args.pretrain_rows, len(pool)), random_state=0).drop(columns=REVIEW_LABELS)
    t0 = time.perf_counter()
    if args.pretrained_model:  # an earlier run's saved pretrained model (same recipe): no second pretraining
        base_dir, pretrain_s = Path(args.pretrained_model), 0.0
        log(f"reviews: reusing the pretrained model {base_dir}")
    else:
        base = Lanistr(review_modalities(), seed=0, **options)
        base.pretrain(unlabeled)
        base_dir = base.save(work / "pretrained")
        pretrain_s = time.perf_counter() - t0
        log(f"reviews: pretrained on {len(unlabeled)} rows in {pretrain_s:.0f} s; saved to {base_dir}")
    # seed-major: a cut-short run has every label fraction for its first seeds
    for seed, fraction, label in itertools.product(args.seeds, args.fractions, TASK_LABELS):
        splits = review_splits(fraction, seed, label, test_rows=test_rows, max_rows=max_rows)
        drop = [c for c in REVIEW_LABELS if c != label]
        train, val, test = (splits[k].drop(columns=drop) for k in ("train", "val", "test"))
        schedule = None if args.quick else finetune_schedule(
            len(train), options["finetune"]["batch_size"], steps=args.finetune_steps, max_epochs=options["finetune"]["epochs"])
        for fusion, pretrained in itertools.product(args.fusions, (True, False)):
            t1 = time.perf_counter()
            model = _with_fusion(base_dir, fusion=fusion, label=label, seed=seed, pretrained=pretrained,
                                 schedule=schedule)
            model.fit(train, validation=val)
            scores = model.evaluate(test)
            rows.append({"dataset": "reviews", "fraction": fraction, "seed": seed, "task": label, "fusion": fusion,
                         "pretrained": pretrained, "n_train": len(train), "n_val": len(val), "n_test": len(test),
                         "epochs": model.training_["finetune"]["epochs"],
                         "epochs_run": model.training_["finetune"]["epochs_run"],
                         "steps_per_epoch": model.training_["finetune"]["steps_per_epoch"],
                         "seconds": time.perf_counter() - t1, "pretrain_s": pretrain_s if pretrained else 0.0, **scores})
            log(f"reviews {fraction:.0%} seed={seed} {label} {fusion} pretrained={pretrained}: "
                + " ".join(f"{k}={scores[k]:.3f}" for k in ("macro_f1", "accuracy", "auroc"))
                + f" ({rows[-1]['seconds']:.0f} s)")
        save()


def run_interaction(args: argparse.Namespace, log: Any, rows: list[dict[str, Any]], save: Any) -> None:
    """Every fusion x pretraining x seed on generated 4-modality XOR data."""
    from lanistr_core.facade import Lanistr
    from lanistr_core.testing.data import make_multimodal_frame

    options = {**INTERACTION_OPTIONS, "device": args.device, "verbose": False}
    n_pool, n_labeled, n_test = (60, 40, 40) if args.quick else (args.interaction_pool, args.interaction_labels, 500)
    if args.quick:
        options = {**options, "pretrain": {"epochs": 1, "batch_size": 16, "validation": "none"},
                   "finetune": {"epochs": 1, "batch_size": 16, "validation": "none"}}
    scratch = tempfile.TemporaryDirectory(prefix="lanistr-bench-interaction-")  # deleted when this function returns
    work = Path(scratch.name)
    make = lambda n, seed, name: make_multimodal_frame(  # noqa: E731
        n, image_dir=work / name, seed=seed, missing=args.interaction_missing, interaction=True)
    pool = make(n_pool, 10_000, "pool").drop(columns=["label"])
    test = make(n_test, 20_000, "test")
    bases = {}
    for fusion in args.fusions:
        t0 = time.perf_counter()
        model = Lanistr(INTERACTION_MODALITIES, fusion=fusion, seed=0, **options)
        model.pretrain(pool)
        bases[fusion] = (model.save(work / f"pretrained-{fusion}"), time.perf_counter() - t0)
        log(f"interaction: pretrained {fusion} on {len(pool)} rows in {bases[fusion][1]:.0f} s")
    for seed in args.seeds:
        labeled = make(n_labeled, seed, f"labeled{seed}")
        from lanistr_core.data import split_frame

        train, val = split_frame(labeled, 0.25, seed, stratify=labeled["label"])
        for fusion, pretrained in itertools.product(args.fusions, (True, False)):
            t1 = time.perf_counter()
            model = Lanistr.load(bases[fusion][0])
            model.config = attrs.evolve(model.config, label="label", task="classification")
            if not pretrained:
                model.reset_weights(seed=seed)
            else:
                model.config = attrs.evolve(model.config, seed=seed)
            model.fit(train, validation=val)
            scores = model.evaluate(test)
            rows.append({"dataset": "interaction", "fraction": float("nan"), "seed": seed, "task": "label",
                         "fusion": fusion, "pretrained": pretrained, "n_train": len(train), "n_val": len(val),
                         "n_test": len(test), "epochs": model.training_["finetune"]["epochs"],
                         "epochs_run": model.training_["finetune"]["epochs_run"],
                         "seconds": time.perf_counter() - t1,
                         "pretrain_s": bases[fusion][1] if pretrained else 0.0, **scores})
            log(f"interaction seed={seed} {fusion} pretrained={pretrained}: "
                + " ".join(f"{k}={scores[k]:.3f}" for k in ("accuracy", "auroc", "macro_f1")))
        save()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks quality``."""
    p.add_argument("--datasets", default="reviews,interaction")
    p.add_argument("--fusions", default=",".join(FUSIONS))
    p.add_argument("--fractions", default="0.01,0.1", help="review label fractions")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--pretrain-rows", type=int, default=2000, help="unlabeled reviews LANISTR pretrains on (once)")
    p.add_argument("--finetune-steps", type=int, default=80,
                   help="review fine-tuning budget: about this many steps, in 2 to 12 (the demo's) epochs")
    p.add_argument("--pretrained-model", default=None,
                   help="reviews: a pretrained model saved by an earlier run with the same recipe (skips pretraining)")
    p.add_argument("--from-csv", default=None,
                   help="comma-separated results.csv of earlier runs: write their combined tables and plot only")
    p.add_argument("--text-trainable-layers", type=int, default=1, help="top MiniLM layers that train (demo: 2)")
    p.add_argument("--test-rows", type=int, default=DEFAULT_TEST_ROWS, help="sampled review test rows (0: all)")
    p.add_argument("--interaction-pool", type=int, default=600, help="unlabeled generated rows for pretraining")
    p.add_argument("--interaction-labels", type=int, default=400, help="labeled generated rows (25%% validation)")
    p.add_argument("--interaction-missing", type=float, default=0.15, help="chance each modality cell is missing")


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Run the selected datasets; write the result files."""
    started = time.perf_counter()
    args.fusions, args.seeds = parse_list(args.fusions), parse_list(args.seeds, int)
    args.fractions = parse_list(args.fractions, float)
    if args.quick:
        args.seeds, args.fractions = args.seeds[:1], [0.05]
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    rows: list[dict[str, Any]] = []
    out = output_dir("quality", args.out)
    prov = provenance(args.argv)

    def save(final: bool = False) -> dict[str, Path]:
        """(Re)write the files from the rows so far: a cut-short run still leaves its results."""
        frame = pd.DataFrame(rows)
        wall = time.perf_counter() - started
        notes = ("Mean ± sd over seeds of test metrics. `pretrained`: LANISTR pretraining before fine-tuning; "
                 "every arm early-stops on validation AUROC. Raw per-seed rows, epochs run and seconds per fit: "
                 "results.csv.")
        if args.from_csv:
            notes = (f"Combined from the raw rows of {args.from_csv} (the wall time above is this re-rendering's; "
                     "each source run's own results.md has its command and wall time).\n\n" + notes)
        if not final:
            notes = f"**PARTIAL: {len(rows)} fits so far; the run was still going.**\n\n" + notes
        paths = write_results(out, name="quality", rows=frame, table=quality_tables(frame), figure=_plot(frame),
                              prov=prov, wall_s=wall, notes=notes)
        if final:
            print("\n" + quality_tables(frame) + f"\n\nwrote {out} in {wall:.0f} s")
        return paths

    if args.from_csv:  # re-render the tables and plot of earlier runs' raw rows (no training)
        rows += pd.concat([pd.read_csv(path) for path in parse_list(args.from_csv)]).to_dict("records")
        return save(final=True)
    datasets = parse_list(args.datasets)
    # the generated data first: it is the cheaper half, so a cut-short run still has it whole
    if "interaction" in datasets:
        run_interaction(args, log, rows, save)
    if "reviews" in datasets:
        run_reviews(args, log, rows, save)
    return save(final=True)


def quality_tables(frame: pd.DataFrame) -> str:
    """Markdown tables (reviews, interaction): mean ± sd over seeds per fusion and pretraining."""
    parts = []
    reviews = frame[frame.dataset == "reviews"] if len(frame) else frame
    if len(reviews):
        lines = ["| labels | fusion | pretrained | " + " | ".join(f"{t} {m}" for t, m in HEADLINE) + " | s per fit |",
                 "|---|---|---|" + "---|" * len(HEADLINE) + "---|"]
        for (fraction, fusion, pre), sub in reviews.groupby(["fraction", "fusion", "pretrained"], sort=False):
            cells = [mean_sd(sub[sub.task == t][m]) for t, m in HEADLINE]
            lines.append(f"| {fraction:.0%} | {fusion} | {'yes' if pre else 'no'} | " + " | ".join(cells)
                         + f" | {sub.seconds.mean():.0f} |")
        parts.append("### reviews (text + tabular)\n\n" + "\n".join(lines))
    inter = frame[frame.dataset == "interaction"] if len(frame) else frame
    if len(inter):
        lines = ["| fusion | pretrained | accuracy | AUROC | macro-F1 | s per fit |", "|---|---|---|---|---|---|"]
        for (fusion, pre), sub in inter.groupby(["fusion", "pretrained"], sort=False):
            lines.append(f"| {fusion} | {'yes' if pre else 'no'} | {mean_sd(sub.accuracy)} | {mean_sd(sub.auroc)} | "
                         f"{mean_sd(sub.macro_f1)} | {sub.seconds.mean():.0f} |")
        parts.append("### interaction (generated, 4 modalities, label = XOR of two cues)\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _plot(frame: pd.DataFrame) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(t, m) for t, m in HEADLINE] + [("label", "accuracy")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2))
    for ax, (task, metric) in zip(axes, panels):
        sub = frame[frame.task == task]
        groups = sorted(sub.fraction.fillna(-1).unique())
        arms = list(dict.fromkeys(zip(sub.fusion, sub.pretrained)))
        width = 0.8 / max(1, len(arms))
        for i, (fusion, pre) in enumerate(arms):
            arm = sub[(sub.fusion == fusion) & (sub.pretrained == pre)]
            vals = [arm[arm.fraction.fillna(-1) == g][metric] for g in groups]
            ax.bar(np.arange(len(groups)) + i * width, [v.mean() for v in vals], width,
                   yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in vals], capsize=2,
                   label=f"{fusion}{' +pre' if pre else ''}", hatch="" if pre else "//")
        ax.set_xticks(np.arange(len(groups)) + width * (len(arms) - 1) / 2,
                      ["generated" if g < 0 else f"{g:.0%} labels" for g in groups])
        ax.set_title(f"{'interaction' if task == 'label' else task} {metric}", fontsize=9)
    labelled = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if labelled:  # a run with one dataset leaves the other's panels empty
        labelled[0].legend(fontsize=6)
    fig.tight_layout()
    return fig
