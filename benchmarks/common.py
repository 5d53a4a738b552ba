"""What every benchmark shares: provenance, output files, the review splits, mean ± sd formatting."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Rows of the demo's 4,697-row test split every benchmark scores (a fixed sample, seed 0): scoring
# all of them after each of the quality benchmark's 72 fits would cost a third of the CPU budget.
DEFAULT_TEST_ROWS = 1000


def machine() -> dict[str, Any]:
    """CPU model and core count (``lscpu``), GPU name when CUDA is visible, OS."""
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cores": None, "os": platform.platform()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        info["cpu"] = fields.get("Model name", info["cpu"]).strip()
        info["cores"] = int(fields.get("CPU(s)", "0").strip() or 0) or None
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    import torch

    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def provenance(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Machine, torch version, date and the exact command that produced a result."""
    import torch

    argv = list(sys.argv[1:] if argv is None else argv)
    return {
        "command": "python -m benchmarks " + " ".join(shlex.quote(a) for a in argv),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance_lines(prov: dict[str, Any], wall_s: float | None = None) -> str:
    """Markdown bullet lines of a provenance record (and the run's wall time)."""
    m = prov["machine"]
    hw = f"{m['cpu']}, {m['cores']} cores" + (f", GPU {m['gpu']}" if m.get("gpu") else "")
    lines = [f"* command: `{prov['command']}`", f"* date: {prov['date']}", f"* machine: {hw}",
             f"* torch {prov['torch']} ({prov['torch_threads']} threads), Python {prov['python']}, "
             f"git {prov.get('git_commit')}"]
    if wall_s is not None:
        lines.append(f"* wall time: {wall_s:.0f} s ({wall_s / 60:.1f} min)")
    return "\n".join(lines)


def output_dir(name: str, out: str | Path | None) -> Path:
    """``--out`` or ``benchmarks/results/<name>``, created."""
    path = Path(out) if out is not None else RESULTS_DIR / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_results(
    out: Path, *, name: str, rows: pd.DataFrame, table: str, figure: Any, prov: dict[str, Any], wall_s: float,
    notes: str = "",
) -> dict[str, Path]:
    """Write ``results.csv`` (raw rows), ``results.md`` (provenance + table + notes), ``plot.png`` and
    ``provenance.json`` under ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    paths = {"csv": out / "results.csv", "md": out / "results.md", "png": out / "plot.png",
             "json": out / "provenance.json"}
    rows.to_csv(paths["csv"], index=False)
    body = [f"# `{name}` benchmark", "", provenance_lines(prov, wall_s), "", table.rstrip()]
    if notes:
        body += ["", notes.rstrip()]
    paths["md"].write_text("\n".join(body) + "\n")
    figure.savefig(paths["png"], dpi=80, bbox_inches="tight")
    plt.close(figure)
    paths["json"].write_text(json.dumps({**prov, "wall_s": wall_s}, indent=2))
    return paths


def mean_sd(values: Sequence[float] | np.ndarray, digits: int = 3) -> str:
    """``mean ± sd`` (sample sd) of finite values; just the mean for one value; ``n/a`` for none."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return "n/a"
    if arr.size == 1:
        return f"{arr[0]:.{digits}f}"
    return f"{arr.mean():.{digits}f} ± {arr.std(ddof=1):.{digits}f}"


def review_splits(
    fraction: float, seed: int, label: str, *, test_rows: int | None = DEFAULT_TEST_ROWS, max_rows: int | None = None,
) -> dict[str, pd.DataFrame]:
    """The demo's splits of the bundled reviews: ``pool`` (unlabeled pool), ``train`` / ``val`` (a
    stratified ``fraction`` of the pool, 20% of it for validation) and ``test`` (the demo's held-out
    20%, sampled to ``test_rows`` with a fixed seed). Same arguments, same rows, in every benchmark.

    Uses the demo's own split helpers (``lanistr_core.demo.demo_splits`` / ``labeled_split``), so these
    are exactly the rows ``lanistr demo`` trains, validates and tests on.
    """
    from lanistr_core.demo import demo_splits, labeled_split

    pool, test = demo_splits(max_rows)
    if test_rows is not None and test_rows < len(test):
        test = test.sample(n=test_rows, random_state=0)
    train, val = labeled_split(pool, fraction, seed, label)
    return {"pool": pool, "train": train, "val": val, "test": test}


def parse_list(text: str, kind: type = str) -> list[Any]:
    """``"a,b"`` -> ``["a", "b"]`` (converted with ``kind``)."""
    return [kind(x.strip()) for x in text.split(",") if x.strip()]
