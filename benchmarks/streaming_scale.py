"""Streaming and torchrun at scale on this machine: peak memory as the data grows, and 2 processes vs 1.

    python benchmarks/streaming_scale.py [--rows 20000] [--out benchmarks/results/streaming]

1. memory: the same pretraining (tiny preset, 1 epoch, text + tabular + series, streamed from Parquet
   with the default sample_rows and shuffle_buffer) over generated data at 1x and 4x ``--rows``; each
   run in a fresh process, reporting its peak resident set (``ru_maxrss``). Streaming should keep the
   peak flat while the data grows.
2. throughput: one epoch of the same pretraining on the 1x data in memory, 1 process vs
   ``torchrun --nproc_per_node 2`` (gloo), as rows per second of the whole job (start-up excluded).

Writes ``streaming_scale.csv`` and ``streaming_scale.md`` (with machine, torch version, date, command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

WORKER_ENV = "LANISTR_SCALE_WORKER"


def make_data(rows: int, directory: Path, seed: int = 0) -> Path:
    """Generated rows (text, two tabular columns, a short series) written as Parquet, 5,000-row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    words = np.array("good bad soft rough small large love hate fits tight loose warm cold".split())
    frame = pd.DataFrame({
        "review": [" ".join(rng.choice(words, 12)) for _ in range(rows)],
        "age": rng.normal(40, 10, rows).round(1),
        "size": rng.choice(["S", "M", "L"], rows),
        "series": [rng.normal(size=(16, 2)).tolist() for _ in range(rows)],
    })
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"data_{rows}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=5_000)
    return path


def worker(path: str, stream: bool) -> None:
    """One pretraining epoch; prints JSON with the rows, the training seconds and the peak RSS."""
    import warnings

    import torch

    from lanistr_core import Lanistr

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    model = Lanistr({"text": ["review"], "tabular": ["age", "size"], "timeseries": ["series"]}, preset="tiny",
                    device="cpu", verbose=False, pretrain={"epochs": 1, "batch_size": 64, "validation": "none"})
    data = path if stream else pd.read_parquet(path)
    start = time.perf_counter()
    model.pretrain(data)
    seconds = time.perf_counter() - start
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        rows = model.training_["pretrain"]["train_rows"]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb}), flush=True)


def _run(command: list[str]) -> dict:
    env = {**os.environ, WORKER_ENV: "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _markdown(table: pd.DataFrame) -> str:
    rows = [list(table.columns), ["---"] * table.shape[1], *table.astype(str).values.tolist()]
    return "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)


def main() -> None:
    """Run both measurements and write the CSV and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", default="benchmarks/results/streaming")
    args = parser.parse_args()
    out = Path(args.out)
    data_dir = Path(tempfile.mkdtemp(prefix="lanistr_scale_"))  # generated data never lands in the repo
    me = [sys.executable, __file__]
    rows_1x, rows_4x = args.rows, 4 * args.rows
    records = []
    for rows in (rows_1x, rows_4x):
        path = make_data(rows, data_dir)
        r = _run([*me, "--worker", str(path), "--stream"])
        records.append({"measure": "memory", "data_rows": rows, "processes": 1, "mode": "stream", **r})
    path = data_dir / f"data_{rows_1x}.parquet"
    r1 = _run([*me, "--worker", str(path)])
    records.append({"measure": "throughput", "data_rows": rows_1x, "processes": 1, "mode": "in memory", **r1})
    r2 = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", __file__,
               "--worker", str(path)])
    records.append({"measure": "throughput", "data_rows": rows_1x, "processes": 2, "mode": "in memory", **r2})
    table = pd.DataFrame(records)
    table["rows_per_s"] = table["rows"] / table["seconds"]
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "streaming_scale.csv", index=False)
    import torch

    mem = table[table.measure == "memory"].set_index("data_rows")["peak_rss_mb"]
    thr = table[table.measure == "throughput"].set_index("processes")["rows_per_s"]
    lines = [
        f"`python {' '.join(sys.argv)}` on {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}",
        "",
        _markdown(table.round(2)),
        "",
        f"* peak RSS 4x / 1x data: {mem[rows_4x] / mem[rows_1x]:.2f}",
        f"* throughput 2 processes / 1 process: {thr[2] / thr[1]:.2f}",
    ]
    (out / "streaming_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker(sys.argv[sys.argv.index("--worker") + 1], "--stream" in sys.argv)
    else:
        main()
