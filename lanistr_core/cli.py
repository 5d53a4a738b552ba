"""The ``lanistr`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from lanistr_core.registry import get_registry


def cmd_plugins(args: argparse.Namespace) -> int:
    """Print every discovered plugin, its distribution and version, and what it registers."""
    registry = get_registry()
    rows = [("plugin", "distribution", "version", "modalities", "fusions")]
    for info in registry.plugins.values():
        rows.append((info.name, info.distribution, info.version, ", ".join(info.modalities) or "-", ", ".join(info.fusions) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    names = registry.list("modality")
    if names:
        print("\nmodalities:")
        width = max(len(n) for n in names)
        for name in names:
            print(f"  {name.ljust(width)}  {registry.get_modality(name).description or '-'}")
    return 0


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or Parquet file (by suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    raise SystemExit(f"lanistr: cannot read {path!r}: use a .csv, .tsv or .parquet file")


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """Lanistr keyword options from ``--config`` TOML, then command-line flags on top."""
    options: dict[str, Any] = {}
    if args.config:
        with open(args.config, "rb") as fh:
            options = tomllib.load(fh)
    for name in ("label", "preset", "fusion", "task", "device"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    if getattr(args, "modality", None):
        options["modalities"] = {}
        for item in args.modality:
            name, _, cols = item.partition("=")
            options["modalities"][name] = [c.strip() for c in cols.split(",") if c.strip()] if cols else []
        if all(not cols for cols in options["modalities"].values()):
            options["modalities"] = list(options["modalities"])
    for phase in ("pretrain", "finetune"):
        epochs = getattr(args, f"{phase}_epochs", None)
        if epochs is not None:
            options.setdefault(phase, {})["epochs"] = epochs
    if "modalities" not in options:
        raise SystemExit("lanistr: say which modalities to use: --modality text=Title,Body (repeatable) or a "
                         "[modalities] table in --config")
    return options


def cmd_demo(args: argparse.Namespace) -> int:
    """Pretrain + fine-tune (1% labels) + evaluate on the bundled reviews, against the other arms."""
    from lanistr_core.demo import run_demo

    seeds = tuple(int(s) for s in args.seeds.split(","))
    options = {} if args.mmm_weight is None else {"mmm_weight": args.mmm_weight}
    if args.logit_adjustment is not None:
        options["logit_adjustment"] = args.logit_adjustment
    arms = tuple(a.strip() for a in args.arms.split(",") if a.strip())
    # unset: run_demo's own default; 0: the whole pool (None)
    rows = {} if args.pretrain_rows is None else {"pretrain_rows": args.pretrain_rows or None}
    run_demo(out=args.out, seeds=seeds, label_fraction=args.label_fraction, max_rows=args.max_rows, options=options,
             arms=arms, **rows)
    return 0


def _data(args: argparse.Namespace) -> Any:
    """The table in memory, or with ``--stream`` the Parquet path/dir/glob itself (rows then stream)."""
    if getattr(args, "stream", False):
        if Path(args.data).suffix.lower() in (".csv", ".tsv"):
            raise SystemExit("lanistr: --stream reads Parquet (a file, directory or glob), not CSV")
        return args.data
    return read_table(args.data)


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Pretrain on a table and save the model directory."""
    from lanistr_core import Lanistr

    options = load_options(args)
    model = Lanistr(options.pop("modalities"), **options)
    model.pretrain(_data(args), run_dir=args.out, resume=args.resume, time_limit=args.time_limit)
    print(f"saved pretrained model to {model.save(Path(args.out) / 'model')}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """Fine-tune (from ``--model`` when given) and save."""
    import attrs

    from lanistr_core import Lanistr

    frame = _data(args)
    if args.model:
        model = Lanistr.load(args.model)
        if args.label:
            model.config = attrs.evolve(model.config, label=args.label)
    else:
        options = load_options(args)
        model = Lanistr(options.pop("modalities"), **options)
    model.fit(frame, run_dir=args.out, resume=args.resume, time_limit=args.time_limit)
    print(f"saved fine-tuned model to {model.save(Path(args.out) / 'model')}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print metrics of a saved model on a labeled table (JSON)."""
    from lanistr_core import Lanistr

    frame = read_table(args.data)
    print(json.dumps(Lanistr.load(args.model).evaluate(frame), indent=2))
    return 0


def _predictions(model: Any, frame: pd.DataFrame, proba: bool) -> pd.DataFrame:
    out = pd.DataFrame({"prediction": model.predict(frame)}, index=frame.index)
    if proba:
        values = model.predict_proba(frame)
        for i, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = values[:, i]
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    """Write predictions (and class probabilities with --proba) for each row.

    Parquet input (a file, directory or glob) streams: ``--chunk-rows`` rows at a time are read,
    predicted and appended to ``--output`` (``.parquet`` or ``.csv``), so neither the data nor the
    predictions need to fit in memory. The index column ``row`` is the row's position in the input.
    """
    from lanistr_core import Lanistr
    from lanistr_core.streaming import ParquetSource, iter_chunks

    model = Lanistr.load(args.model)
    suffix = Path(args.data).suffix.lower()
    if suffix in (".csv", ".tsv"):
        out = _predictions(model, read_table(args.data), args.proba)
        out.to_csv(args.output) if args.output else print(out.to_csv())
        return 0
    if not args.output:
        raise SystemExit("lanistr predict: streamed Parquet input needs --output FILE.parquet or FILE.csv")
    writer, start = None, 0
    try:
        for chunk in iter_chunks(ParquetSource(args.data), args.chunk_rows):
            chunk.index = pd.RangeIndex(start, start + len(chunk), name="row")
            start += len(chunk)
            out = _predictions(model, chunk, args.proba)
            if args.output.endswith(".parquet"):
                import pyarrow as pa
                import pyarrow.parquet as pq

                out["prediction"] = out["prediction"].infer_objects()  # classes are Python objects; Arrow needs one type
                if out["prediction"].dtype == object:
                    out["prediction"] = out["prediction"].astype(str)
                table = pa.Table.from_pandas(out)
                writer = writer or pq.ParquetWriter(args.output, table.schema)
                writer.write_table(table)
            else:
                out.to_csv(args.output, mode="a" if start > len(chunk) else "w", header=start == len(chunk))
    finally:
        if writer is not None:
            writer.close()
    print(f"wrote {start} predictions to {args.output}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print the modality report of a saved model on a labeled table (markdown); with ``--out`` also
    write report.json, report.csv, report_subsets.csv, report.md, report.png and TensorBoard scalars."""
    from lanistr_core import Lanistr

    frame = read_table(args.data)
    model = Lanistr.load(args.model)
    if not getattr(model, "fitted_", False):
        raise SystemExit(f"lanistr report: error: {args.model} is not fine-tuned (no task head); run lanistr fit first")
    report = model.modality_report(frame, metric=args.metric, n_bootstrap=args.bootstrap, seed=args.seed,
                                   n_permutations=args.permutations, run_dir=args.out)
    markdown = report.to_markdown()
    print(markdown)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        report.to_json(out / "report.json")
        report.to_frame().to_csv(out / "report.csv")
        report.subsets_frame().to_csv(out / "report_subsets.csv")
        (out / "report.md").write_text(markdown)
        report.plot(out / "report.png")
        print(f"wrote report.json, report.csv, report_subsets.csv, report.md, report.png, tensorboard/ to {out}")
    return 0


def _common(p: argparse.ArgumentParser, *, label: bool = True) -> None:
    p.add_argument("--data", required=True, help="CSV or Parquet file")
    p.add_argument("--config", help="TOML file with Lanistr options ([modalities], [pretrain], [finetune], ...)")
    p.add_argument("--modality", action="append", metavar="NAME[=COL,COL]",
                   help="a modality and its columns (repeatable); NAME alone detects columns")
    if label:
        p.add_argument("--label")
    p.add_argument("--preset", choices=["tiny", "small", "base"])
    p.add_argument("--fusion")
    p.add_argument("--task", choices=["auto", "classification", "regression"])
    p.add_argument("--device")
    p.add_argument("--out", default="lanistr_runs/run", help="run directory (TensorBoard, checkpoints, model)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="end training after the last epoch that finishes within this many seconds")
    p.add_argument("--stream", action="store_true",
                   help="stream Parquet --data (file, directory or glob) instead of loading it; no validation split")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="lanistr", description="LANISTR multimodal learning")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list discovered plugins and what they register")
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser("demo", help="the main job on the bundled reviews: pretrain, fine-tune on 1%% labels, compare")
    p.add_argument("--out", default="lanistr_runs/demo")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument("--label-fraction", type=float, default=0.01)
    p.add_argument("--max-rows", type=int, help="use a random subset of the reviews (quick runs)")
    p.add_argument("--mmm-weight", type=float, help="weight of the multimodal similarity loss (the paper's 1.0; the demo's default is 0.0)")
    p.add_argument("--logit-adjustment", type=float,
                   help="tau of the post-hoc logit adjustment of every arm's decisions (0: argmax; the demo's default: 1)")
    p.add_argument("--arms", default="pretrained,finetune_only,tfidf",
                   help="comma-separated: pretrained, finetune_only, tfidf, text_only, random_init")
    p.add_argument("--pretrain-rows", type=int,
                   help="unlabeled rows LANISTR pretraining sees (default: the demo's 8,000; 0: the whole pool)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("pretrain", help="self-supervised pretraining on a table")
    _common(p, label=False)
    p.add_argument("--pretrain-epochs", type=int)
    p.set_defaults(func=cmd_pretrain)
    p = sub.add_parser("fit", help="fine-tune on a labeled table (from --model when given)")
    _common(p)
    p.add_argument("--model", help="a saved (e.g. pretrained) model directory to start from")
    p.add_argument("--finetune-epochs", type=int)
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("evaluate", help="metrics of a saved model on a labeled table")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="predictions of a saved model")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--output", help="CSV file to write (default: stdout)")
    p.add_argument("--proba", action="store_true", help="add class probabilities")
    p.add_argument("--chunk-rows", type=int, default=10_000, help="rows per streamed chunk (Parquet input)")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("report", help="which modalities a saved model relies on: metric per subset, Shapley values")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="labeled CSV or Parquet file")
    p.add_argument("--out", help="directory for report.json/.csv/.md/.png and TensorBoard scalars")
    p.add_argument("--metric", help="auroc (default), macro_f1, accuracy; regression: r2 (default), neg_rmse, neg_mae")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N", help="row resamples for the intervals (0: none)")
    p.add_argument("--permutations", type=int, default=200, metavar="N",
                   help="random orders of the Monte-Carlo Shapley estimate (used above 6 modalities)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lanistr`` console script."""
    from lanistr_core.registry import RegistryError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError, RegistryError) as err:  # user errors: one clear line
        raise SystemExit(f"lanistr {args.command}: error: {err}") from err


if __name__ == "__main__":
    sys.exit(main())
