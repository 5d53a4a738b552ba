"""Forward+backward wall time and peak memory of each fusion against the number of input tokens.

    python benchmarks/fusion_cost.py                       # CPU, sdpa, N = 256 .. 16384
    python benchmarks/fusion_cost.py --device cuda --attention xformers

Every (fusion, N) point runs in a fresh subprocess so that peak memory is its own:
on CUDA ``torch.cuda.max_memory_allocated``; on CPU the growth of the process's
peak resident set (ru_maxrss) over its size before the inputs were built.
Prints a markdown table. Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time

FUSION_CONFIG = {
    # equal width; equal depth counted in attention blocks: perceiver = 1 cross + 2 latent blocks
    "perceiver": {"num_latents": 64, "depth": 2},
    "concat_transformer": {"depth": 3},
    "late": {},
}


def _measure(args: dict, queue: mp.Queue) -> None:
    import torch

    from lanistr_core import create_fusion

    torch.manual_seed(0)
    device = torch.device(args["device"])
    if device.type == "cpu":
        torch.set_num_threads(args["threads"])
    extra = {} if args["fusion"] == "late" else {"attention": args["attention"], "heads": args["heads"]}
    fusion = create_fusion(args["fusion"], dim=args["dim"], n_modalities=2, **FUSION_CONFIG[args["fusion"]], **extra)
    fusion = fusion.to(device)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    B, N, D = args["batch"], args["n"], args["dim"]
    tokens = torch.randn(B, N, D, device=device, requires_grad=True)
    mask = torch.rand(B, N, device=device) > 0.1
    mask[:, 0] = True
    index = (torch.arange(N, device=device) * 2) // N

    def step() -> None:
        out = fusion(tokens, mask, modality_index=index)
        out.pooled.sum().backward()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(args["warmup"]):
        step()
    times = []
    for _ in range(args["repeats"]):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024  # ru_maxrss is KiB on Linux
    queue.put({"ms": 1000 * statistics.median(times), "peak_mb": peak_mb})


def measure(**args) -> dict:
    """Run one point in a spawned subprocess; returns ms (median) and peak_mb, or an error string."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(args, queue))
    proc.start()
    proc.join(args["timeout"])
    if proc.is_alive():
        proc.kill()
        return {"error": f"timeout>{args['timeout']}s"}
    if proc.exitcode != 0 or queue.empty():
        return {"error": f"failed (exit {proc.exitcode}, out of memory?)"}
    return queue.get()


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
    sizes = [int(s) for s in a.sizes.split(",")]
    fusions = a.fusions.split(",")
    results: dict[str, dict[int, dict]] = {f: {} for f in fusions}
    for fusion in fusions:
        for n in sizes:
            if fusion == "concat_transformer" and n > a.max_quadratic_tokens:
                results[fusion][n] = {"error": "skipped"}
                continue
            results[fusion][n] = measure(
                fusion=fusion, n=n, device=a.device, attention=a.attention, batch=a.batch, dim=a.dim, heads=a.heads,
                repeats=a.repeats, warmup=a.warmup, threads=a.threads, timeout=a.timeout,
            )
            print(f"# {fusion} N={n}: {results[fusion][n]}", file=sys.stderr, flush=True)
    print(f"\ndevice={a.device} attention={a.attention} batch={a.batch} dim={a.dim} heads={a.heads} "
          f"perceiver(latents=64, 1 cross + 2 self blocks) concat_transformer(3 blocks); "
          f"median of {a.repeats} fwd+bwd\n")
    print("| fusion | " + " | ".join(f"N={n} ms (peak MB)" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for fusion in fusions:
        cells = []
        for n in sizes:
            r = results[fusion][n]
            cells.append(r["error"] if "error" in r else f"{r['ms']:.1f} ({r['peak_mb']:.0f})")
        print(f"| {fusion} | " + " | ".join(cells) + " |")
    print()
    _print_ratios(results, sizes)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "results": {f: {str(n): r for n, r in v.items()} for f, v in results.items()}}, fh, indent=2)
    return 0


def _print_ratios(results: dict, sizes: list[int]) -> None:
    per = results.get("perceiver", {})
    cat = results.get("concat_transformer", {})
    ok = lambda r: r is not None and "ms" in r
    if ok(per.get(1024)) and ok(per.get(16384)):
        print(f"perceiver time(N=16384) / time(N=1024) = {per[16384]['ms'] / per[1024]['ms']:.1f}x (linear would be 16x)")
    if ok(per.get(4096)) and ok(cat.get(4096)):
        print(f"concat_transformer / perceiver time at N=4096 = {cat[4096]['ms'] / per[4096]['ms']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
