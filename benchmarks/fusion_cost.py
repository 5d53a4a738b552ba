"""The tokens sweep of ``python -m benchmarks cost`` alone, with this script's original flags.

    python benchmarks/fusion_cost.py                       # CPU, sdpa, N = 256 .. 16384
    python benchmarks/fusion_cost.py --device cuda --attention xformers --json out.json

Kept for ``scripts/device_check.sh`` and old notes; the measurement is ``benchmarks.cost``'s
(fresh subprocess per point, median fwd+bwd time, peak memory, FLOPs). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cost import FUSION_CONFIG, run_point  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse flags, measure every (fusion, N), print a markdown table (and optional JSON)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--attention", default="sdpa", choices=["auto", "sdpa", "math", "xformers"])
    p.add_argument("--sizes", default="256,1024,4096,16384", help="comma-separated token counts N")
    p.add_argument("--fusions", default="perceiver,concat_transformer,late")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--timeout", type=float, default=600, help="seconds per point before it is reported as timeout")
    p.add_argument("--max-quadratic-tokens", type=int, default=16384,
                   help="skip concat_transformer above this N (quadratic cost)")
    p.add_argument("--json", help="also write the results to this JSON file")
    a = p.parse_args(argv)
    sizes, fusions = [int(s) for s in a.sizes.split(",")], a.fusions.split(",")
    results: dict[str, dict[int, dict]] = {f: {} for f in fusions}
    for fusion in fusions:
        for n in sizes:
            if fusion == "concat_transformer" and n > a.max_quadratic_tokens:
                results[fusion][n] = {"error": "skipped"}
                continue
            point = {"fusion": fusion, "n": n, "modalities": 2, "device": a.device, "backend": a.attention,
                     "batch": a.batch, "dim": a.dim, "heads": a.heads, "repeats": a.repeats, "warmup": a.warmup,
                     "threads": a.threads, "config": FUSION_CONFIG[fusion]}
            results[fusion][n] = run_point(point, isolate=True, timeout=a.timeout)
            print(f"# {fusion} N={n}: {results[fusion][n]}", file=sys.stderr, flush=True)
    print(f"\ndevice={a.device} attention={a.attention} batch={a.batch} dim={a.dim} heads={a.heads}; "
          f"median of {a.repeats} fwd+bwd\n")
    print("| fusion | " + " | ".join(f"N={n} ms (peak MB)" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for fusion in fusions:
        cells = [r["error"] if "error" in r else f"{r['ms']:.1f} ({r['peak_mb']:.0f})"
                 for r in (results[fusion][n] for n in sizes)]
        print(f"| {fusion} | " + " | ".join(cells) + " |")
    per, cat = results.get("perceiver", {}), results.get("concat_transformer", {})
    if "ms" in per.get(4096, {}) and "ms" in cat.get(4096, {}):
        print(f"\nconcat_transformer / perceiver time at N=4096 = {cat[4096]['ms'] / per[4096]['ms']:.1f}x")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "results": {f: {str(n): r for n, r in v.items()} for f, v in results.items()}},
                      fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
