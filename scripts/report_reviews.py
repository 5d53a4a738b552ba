"""The README's modality report on the bundled reviews (text + tabular, label Recommended IND).

Fine-tunes on ``--train-rows`` labeled reviews with the pretrained all-MiniLM-L6-v2 text encoder
frozen (its outputs cached once per review) and every training option at its default, saves the
model and the held-out rows, then reports which modalities the model relies on::

    .venv/bin/python scripts/report_reviews.py                      # ~20 min on a busy 2-core CPU
    .venv/bin/lanistr report --model runs/report_reviews/model --data runs/report_reviews/test.parquet \\
        --out runs/report_reviews/report                               # the same report from the CLI
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lanistr_core import Lanistr
from lanistr_core.datasets import load_reviews, review_modalities

LABEL = "Recommended IND"
OPTIONS = {
    "preset": "small",
    "modality_config": {"text": {"pretrained_path": "minilm", "max_length": 64, "trainable_layers": 0,
                                 "cache_frozen": True}},
    "verbose": False,
}


def main() -> None:
    """Fit, save, report; print the markdown table and the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/report_reviews")
    parser.add_argument("--plot", default="docs/modality_report_reviews.png")
    parser.add_argument("--train-rows", type=int, default=3000)
    parser.add_argument("--test-rows", type=int, default=2000)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    columns = [c for cols in review_modalities().values() for c in cols] + [LABEL]
    rows = load_reviews()[columns].sample(frac=1.0, random_state=args.seed)
    train, test = rows.iloc[:args.train_rows], rows.iloc[args.train_rows:args.train_rows + args.test_rows]

    started = time.perf_counter()
    model = Lanistr(review_modalities(), label=LABEL, seed=args.seed, **OPTIONS).fit(train)
    fitted = time.perf_counter()
    report = model.modality_report(test, n_bootstrap=args.bootstrap, seed=args.seed, run_dir=out)
    done = time.perf_counter()
    model.save(out / "model")
    test.to_parquet(out / "test.parquet")

    report.to_json(out / "report.json")
    report.plot(args.plot)
    print(report.to_markdown())
    print(f"fit: {fitted - started:.0f} s ({len(train)} rows, {model.training_['finetune']['epochs_run']} epochs, "
          f"stop: {model.training_['finetune']['stop_reason']}); report: {done - fitted:.1f} s ({len(test)} rows); "
          f"evaluate on the same rows: {model.evaluate(test)}")


if __name__ == "__main__":
    main()
