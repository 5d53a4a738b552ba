"""``cost``: forward+backward time, peak memory and FLOPs of each fusion (supersedes ``fusion_cost.py``).

Four sweeps, one run (ratios between rows of one run are what to read: the CPU is shared):

* ``tokens``: every fusion at N = 256 ... 16384 input tokens (batch 4, width 128, 4 heads, 2
  modalities, 10% of the tokens masked); ``concat_transformer`` above ``--max-quadratic-tokens``
  is skipped (one step at N=16384 took 50 s on this CPU).
* ``modalities``: 1, 2, 4, 8 modalities of 256 tokens each.
* ``backends``: attention backends ``math`` and ``sdpa`` (+ ``xformers`` on CUDA) at N = 1024, 4096.
* ``official``: the paper's official scale, width 768, 6 attention blocks, 12 heads, 246 tokens,
  batch 8: ``concat_transformer`` (6 full self-attention blocks, the official code's FLAVA-style
  design) vs ``perceiver`` (128 latents = the ``base`` preset, 1 cross + 5 latent blocks).
* ``reference`` (``--reference``): our ``perceiver`` against ``transformers.PerceiverModel`` at equal
  configuration (width 256, 128 latents, 1 cross-attention + 4 latent blocks, 4 heads, MLP x4, batch
  8) at N = 1024 ... 16384, with every key present and with 10% masked, plus our perceiver at width
  768 (12 heads) for the achieved fraction of the matmul peak. Needs ``transformers`` (the ``bench``
  extra). Times come from one subprocess per N that alternates a step of each model (the ratio is
  then immune to the machine's drift); peak memory from each model alone in its own subprocess.

Equal width and depth elsewhere: ``perceiver`` = 64 latents, 1 cross-attention + 2 latent blocks;
``concat_transformer`` = 3 blocks over CLS + N tokens; ``late`` = masked mean per modality + MLP.
Each point runs in a fresh subprocess (``--no-isolate``: in this process), so peak memory is its own:
``torch.cuda.max_memory_allocated`` on CUDA, the growth of the peak resident set on CPU. Model FLOPs
per step are counted with ``torch.utils.flop_counter`` on the ``math`` backend (explicit matmuls;
dense, masked tokens included; one row, times the batch); the machine's matmul throughput (float32,
2048^3, same threads) is measured in the same subprocess by one product before every timed step, and
achieved fraction = (FLOPs / median step time) / (matmul FLOPs / median product time), so drift of
the shared machine hits both medians alike.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import output_dir, parse_list, provenance, write_results

DEFAULT_THREADS = 2
FUSIONS = ("perceiver", "concat_transformer", "late")
# equal width; equal depth counted in attention blocks: perceiver = 1 cross + 2 latent blocks
FUSION_CONFIG: dict[str, dict[str, Any]] = {"perceiver": {"num_latents": 64, "depth": 2},
                                            "concat_transformer": {"depth": 3}, "late": {}}
# the paper's official scale (width 768, 6 layers, 12 heads, 246 tokens, batch 8)
OFFICIAL = {"dim": 768, "heads": 12, "n": 246, "batch": 8}
OFFICIAL_CONFIG: dict[str, dict[str, Any]] = {"perceiver": {"num_latents": 128, "depth": 5},
                                              "concat_transformer": {"depth": 6}}
# the equal configuration of the reference comparison (transformers.PerceiverModel)
REFERENCE = {"dim": 256, "heads": 4, "batch": 8, "num_latents": 128, "depth": 4, "mlp_mult": 4}


def matmul_gflops(device: Any, *, size: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 matmul throughput (GFLOP/s) of ``size``-cubed products on ``device``."""
    import torch

    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first product warms up the kernels
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _dtype(point: dict[str, Any]) -> Any:
    import torch

    return getattr(torch, point.get("dtype", "float32"))


def _autocast(point: dict[str, Any], device: Any) -> Any:
    """bfloat16 autocast (weights stay float32, as in mixed-precision training) or nothing."""
    import contextlib

    import torch

    if point.get("dtype", "float32") == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_dtype(point))


def _timed(fn: Any, device: Any) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: Any) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _build(point: dict[str, Any], fusion: str, backend: str, device: Any) -> Any:
    import torch

    from lanistr_core import create_fusion

    torch.manual_seed(0)
    if fusion == "hf_perceiver":
        return HFPerceiver(dim=point["dim"], heads=point["heads"], **point["config"]).to(device)
    extra = {} if fusion == "late" else {"attention": backend, "heads": point["heads"]}
    return create_fusion(fusion, dim=point["dim"], n_modalities=point["modalities"], **point["config"], **extra).to(device)


def measure_pair(point: dict[str, Any]) -> dict[str, Any]:
    """Our perceiver and the HF reference in one process, one fwd+bwd step of each in turn: the time
    ratio is then immune to the drift of a shared machine (peak memory is measured per model apart)."""
    import torch

    device = torch.device(point["device"])
    if device.type == "cpu":
        torch.set_num_threads(point["threads"])
    B, N, D = point["batch"], point["n"], point["dim"]
    tokens = torch.randn(B, N, D, device=device, requires_grad=True)
    mask = torch.rand(B, N, device=device) >= point["mask_rate"]
    mask[:, 0] = True
    models = {f: _build(point, f, point["backend"], device) for f in ("perceiver", "hf_perceiver")}
    times: dict[str, list[float]] = {f: [] for f in models}
    for i in range(point["warmup"] + point["repeats"]):
        for name, model in models.items():
            _sync(device)
            start = time.perf_counter()
            with _autocast(point, device):
                out = model(tokens, mask).pooled.sum()
            out.backward()
            _sync(device)
            if i >= point["warmup"]:
                times[name].append(time.perf_counter() - start)
    ours, ref = (1000 * statistics.median(times[f]) for f in models)
    return {"ms": ours, "ms_reference": ref, "ratio": ours / ref}


def measure_point(point: dict[str, Any]) -> dict[str, Any]:
    """Time ``point['repeats']`` fwd+bwd steps of one fusion (after warm-up); FLOPs; peak memory."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lanistr_core import create_fusion

    torch.manual_seed(0)
    device = torch.device(point["device"])
    if device.type == "cpu":
        torch.set_num_threads(point["threads"])
    matmul_size = point.get("matmul_size", 2048)
    matmul_gflops(device, size=matmul_size, repeats=1)  # warms the matmul kernels up

    def build(backend: str) -> Any:
        return _build(point, point["fusion"], backend, device)

    B, N, D = point["batch"], point["n"], point["dim"]
    tokens = torch.randn(B, N, D, device=device, requires_grad=True)
    mask = torch.rand(B, N, device=device) >= point.get("mask_rate", 0.1)
    mask[:, 0] = True
    index = (torch.arange(N, device=device) * point["modalities"]) // N  # (N,) modality of each token
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    fusion = build(point["backend"])

    def step(module: Any) -> None:
        with _autocast(point, device):
            out = module(tokens, mask, modality_index=index).pooled.sum()
        out.backward()

    for _ in range(point["warmup"]):
        step(fusion)
    # one reference matmul before every timed step: the machine's speed drifts, and the achieved
    # fraction compares medians taken over the same stretch of time
    a, b = (torch.randn(matmul_size, matmul_size, device=device, dtype=_dtype(point)) for _ in range(2))
    times, matmul_times = [], []
    for _ in range(point["repeats"]):
        matmul_times.append(_timed(lambda: a @ b, device))
        times.append(_timed(lambda: step(fusion), device))
    peak_gflops = 2 * matmul_size**3 / statistics.median(matmul_times) / 1e9
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024  # ru_maxrss: KiB
    flops = point.get("flops")
    if flops is None:
        # counted on the math backend (its matmuls are visible to the counter), on one row and scaled
        # by the batch: every op of a fusion is per row, and one row costs 1/B of the time
        one = tokens[:1].detach().requires_grad_(True)
        with FlopCounterMode(display=False) as counter:
            build("math")(one, mask[:1], modality_index=index).pooled.sum().backward()
        flops = counter.get_total_flops() * B
    ms = 1000 * statistics.median(times)
    achieved = flops / (ms / 1000) / 1e9
    params = sum(p.numel() for p in fusion.parameters())
    return {"ms": ms, "ms_min": 1000 * min(times), "peak_mb": peak_mb, "flops_per_step": flops, "params": params,
            "achieved_gflops": achieved, "matmul_gflops": peak_gflops, "fraction_of_matmul": achieved / peak_gflops}


class HFPerceiver:
    """``transformers.PerceiverModel`` behind the fusion call signature (tokens, mask) -> ``.pooled``.

    Same configuration as ``PerceiverFusion``: ``num_latents`` latents of width ``dim``, one
    cross-attention and ``depth`` latent self-attention blocks, ``heads`` heads in both, MLPs
    ``mlp_mult`` wide; pooled = mean of the latents. Built lazily: ``transformers`` is the ``bench`` extra.
    """

    def __new__(cls, *, dim: int, heads: int, num_latents: int, depth: int, mlp_mult: int = 4) -> Any:
        import torch
        from transformers import PerceiverConfig, PerceiverModel

        config = PerceiverConfig(num_latents=num_latents, d_latents=dim, d_model=dim, num_blocks=1,
                                 num_self_attends_per_block=depth, num_self_attention_heads=heads,
                                 num_cross_attention_heads=heads, self_attention_widening_factor=mlp_mult,
                                 cross_attention_widening_factor=mlp_mult, attention_probs_dropout_prob=0.0)

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = PerceiverModel(config)

            def forward(self, tokens: Any, mask: Any, *, modality_index: Any = None) -> Any:
                out = self.model(inputs=tokens, attention_mask=mask.to(tokens.dtype)).last_hidden_state
                return type("Out", (), {"pooled": out.mean(1)})

        return Wrapped()


def _child(point: dict[str, Any], queue: Any) -> None:
    queue.put(measure_pair(point) if point["fusion"] == "pair" else measure_point(point))


def run_point(point: dict[str, Any], *, isolate: bool, timeout: float) -> dict[str, Any]:
    """``measure_point`` in a spawned subprocess (own peak memory) or in this process; errors as text."""
    if not isolate:
        return measure_pair(point) if point["fusion"] == "pair" else measure_point(point)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(point, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return {"error": f"timeout>{timeout:.0f}s"}
    if proc.exitcode != 0 or queue.empty():
        return {"error": f"failed (exit {proc.exitcode}, out of memory?)"}
    return queue.get()


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every point of the four sweeps (the dicts ``measure_point`` takes)."""
    common = {"device": args.device, "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup,
              "dtype": args.dtype}
    small = {**common, "batch": args.batch, "dim": args.dim, "heads": args.heads}
    points = []
    for fusion in args.fusions:
        for n in args.sizes:
            if fusion == "concat_transformer" and n > args.max_quadratic_tokens:
                continue
            points.append({**small, "sweep": "tokens", "fusion": fusion, "n": n, "modalities": 2,
                           "backend": args.attention, "config": FUSION_CONFIG[fusion]})
        for m in args.modalities:
            n = m * args.tokens_per_modality
            if fusion == "concat_transformer" and n > args.max_quadratic_tokens:
                continue
            points.append({**small, "sweep": "modalities", "fusion": fusion, "n": n, "modalities": m,
                           "backend": args.attention, "config": FUSION_CONFIG[fusion]})
    for fusion in [f for f in args.fusions if f != "late"]:
        for n in args.backend_sizes:
            for backend in args.backends:
                points.append({**small, "sweep": "backends", "fusion": fusion, "n": n, "modalities": 2,
                               "backend": backend, "config": FUSION_CONFIG[fusion]})
    ref = {**common, "dim": REFERENCE["dim"], "heads": REFERENCE["heads"], "batch": REFERENCE["batch"],
           "modalities": 2, "backend": args.attention, "sweep": "reference"}
    ref_config = {k: REFERENCE[k] for k in ("num_latents", "depth", "mlp_mult")}
    if args.quick:
        ref.update(dim=32, batch=2)
        ref_config.update(num_latents=8, depth=1)
    for n in args.reference_sizes if args.reference else []:
        for rate in (0.0, 0.1):
            # times from the paired run; each model alone for its peak memory
            points.append({**ref, "fusion": "pair", "n": n, "mask_rate": rate, "config": ref_config,
                           "repeats": args.reference_repeats})
            for fusion in ("perceiver", "hf_perceiver"):
                points.append({**ref, "fusion": fusion, "n": n, "mask_rate": rate, "config": ref_config,
                               "repeats": 1})
    if args.reference:  # the achieved fraction of the matmul peak at the official width
        points.append({**ref, "fusion": "perceiver", "n": args.reference_sizes[min(1, len(args.reference_sizes) - 1)],
                       "mask_rate": 0.0, "config": ref_config, "dim": 768 if not args.quick else 48,
                       "heads": 12 if not args.quick else 4})
    official = {**common, **OFFICIAL, "repeats": args.official_repeats, "warmup": 1}
    if args.quick:
        official.update(dim=48, heads=4, n=24, batch=2)
    for fusion, config in OFFICIAL_CONFIG.items():
        if args.quick:
            config = {"num_latents": 8, "depth": 1} if fusion == "perceiver" else {"depth": 2}
        points.append({**official, "sweep": "official", "fusion": fusion, "modalities": 2,
                       "backend": args.attention, "config": config})
    return points


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks cost``."""
    p.add_argument("--attention", default="sdpa", choices=["auto", "sdpa", "math", "xformers"],
                   help="backend of the tokens, modalities and official sweeps")
    p.add_argument("--backends", default=None, help="backends compared (default math,sdpa; +xformers on cuda)")
    p.add_argument("--sizes", default="256,1024,4096,16384", help="token counts N of the tokens sweep")
    p.add_argument("--backend-sizes", default="1024,4096")
    p.add_argument("--modalities", default="1,2,4,8")
    p.add_argument("--tokens-per-modality", type=int, default=256)
    p.add_argument("--fusions", default=",".join(FUSIONS))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--official-repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="bfloat16: autocast of the fused step (float32 weights); the matmul reference in the same dtype")
    p.add_argument("--timeout", type=float, default=600, help="seconds per point before it is a timeout")
    p.add_argument("--max-quadratic-tokens", type=int, default=4096, help="skip concat_transformer above this N")
    p.add_argument("--sweeps", default="tokens,modalities,backends,official,reference",
                   help="which sweeps to run (reference only with --reference)")
    p.add_argument("--reference", action="store_true",
                   help="also time transformers.PerceiverModel at our perceiver's configuration (bench extra)")
    p.add_argument("--reference-sizes", default="1024,4096,8192,16384", help="token counts N of the reference sweep")
    p.add_argument("--reference-repeats", type=int, default=11, help="alternating steps per model in the paired timing")
    p.add_argument("--no-isolate", dest="isolate", action="store_false", help="measure in this process")


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Measure every point; write the result files."""
    started, prov = time.perf_counter(), provenance(args.argv)
    args.fusions = parse_list(args.fusions)
    args.sizes, args.backend_sizes = parse_list(args.sizes, int), parse_list(args.backend_sizes, int)
    args.modalities, args.sweeps = parse_list(args.modalities, int), parse_list(args.sweeps)
    args.reference_sizes = parse_list(args.reference_sizes, int)
    default_backends = "math,sdpa,xformers" if args.device.startswith("cuda") else "math,sdpa"
    args.backends = parse_list(args.backends or default_backends)
    if args.quick:
        args.sizes, args.backend_sizes, args.modalities = [32, 64], [64], [1, 2]
        args.reference_sizes = [32, 64]
        args.tokens_per_modality, args.dim, args.batch, args.repeats, args.official_repeats = 16, 32, 2, 1, 1
        args.isolate, args.threads = False, 1
    rows = []
    flops: dict[tuple, float] = {}  # model FLOPs do not depend on the backend: count each model once
    for point in plan(args):
        if args.quick:
            point["matmul_size"] = 128
        key = (point["fusion"], point["n"], point["modalities"], point["batch"], point["dim"], point["heads"],
               str(point["config"]), point.get("mask_rate"))
        point["flops"] = flops.get(key)
        if point["sweep"] not in args.sweeps:
            continue
        result = run_point(point, isolate=args.isolate, timeout=args.timeout)
        if point["fusion"] == "pair":
            print(f"cost reference pair N={point['n']} masked={point['mask_rate']}: ours {result.get('ms', float('nan')):.1f} "
                  f"ms, HF {result.get('ms_reference', float('nan')):.1f} ms, ratio {result.get('ratio', float('nan')):.3f}",
                  flush=True)
            rows.append({**{k: v for k, v in point.items() if k not in ("config", "device", "warmup", "flops")},
                         "config": str(point["config"]), **result})
            continue
        if "flops_per_step" in result:
            flops[key] = result["flops_per_step"]
        row = {k: v for k, v in point.items() if k not in ("config", "device", "warmup", "flops")}
        row.update(config=str(point["config"]), **result)
        rows.append(row)
        print(f"cost {point['sweep']} {point['fusion']} N={point['n']} M={point['modalities']} "
              f"{point['backend']}: {_fmt(result)}", flush=True)
    frame = pd.DataFrame(rows)
    table = cost_tables(frame)
    out = output_dir("cost", args.out)
    wall = time.perf_counter() - started
    notes = ("Times: median of the repeats, forward + backward, on a CPU shared with other jobs: compare "
             "rows within this run. Peak MB on CPU: growth of the subprocess's peak resident set (includes "
             "allocator caching). FLOPs: model FLOPs per fwd+bwd step (dense, counted on the math backend).")
    paths = write_results(out, name="cost", rows=frame, table=table, figure=_plot(frame),
                          prov=prov, wall_s=wall, notes=notes)
    print("\n" + table + f"\n\nwrote {out} in {wall:.0f} s")
    return paths


def _fmt(result: dict[str, Any]) -> str:
    if "error" in result:
        return result["error"]
    return (f"{result['ms']:.1f} ms, {result['peak_mb']:.0f} MB, {result['flops_per_step'] / 1e9:.2f} GFLOP, "
            f"{100 * result['fraction_of_matmul']:.1f}% of {result['matmul_gflops']:.0f} GFLOP/s")


def _cell(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "skipped"
    r = frame.iloc[0]
    if isinstance(r.get("error"), str):
        return r["error"]
    return f"{r['ms']:.1f} ({r['peak_mb']:.0f})"


def _ratio(frame: pd.DataFrame, sweep: str, n: int, backend: str | None = None) -> float | None:
    sub = frame[(frame.sweep == sweep) & (frame.n == n)]
    if backend is not None:
        sub = sub[sub.backend == backend]
    times = {f: sub[sub.fusion == f]["ms"].dropna() for f in ("perceiver", "concat_transformer")}
    if any(t.empty for t in times.values()):
        return None
    return float(times["concat_transformer"].iloc[0] / times["perceiver"].iloc[0])


def cost_tables(frame: pd.DataFrame) -> str:
    """Markdown tables of every sweep plus the headline ratios."""
    if "ms" not in frame:
        frame = frame.assign(ms=np.nan)
    out = []
    for sweep, key, label in (("tokens", "n", "N"), ("modalities", "modalities", "M")):
        sub = frame[frame.sweep == sweep]
        if sub.empty:  # a run with --sweeps leaves out the others
            continue
        keys = sorted(sub[key].unique())
        lines = [f"| fusion | " + " | ".join(f"{label}={k} ms (peak MB)" for k in keys) + " |",
                 "|---|" + "---|" * len(keys)]
        for fusion in dict.fromkeys(sub.fusion):
            lines.append(f"| {fusion} | " + " | ".join(_cell(sub[(sub.fusion == fusion) & (sub[key] == k)])
                                                      for k in keys) + " |")
        title = ("fwd+bwd time against input tokens N" if sweep == "tokens"
                 else "fwd+bwd time against the number of modalities M (tokens per modality fixed)")
        out.append(f"### {title}\n\n" + "\n".join(lines))
    sub = frame[frame.sweep == "backends"]
    lines = [] if sub.empty else ["| fusion | N | " + " | ".join(f"{b} ms (peak MB)" for b in dict.fromkeys(sub.backend)) + " |",
             "|---|---|" + "---|" * sub.backend.nunique()]
    for (fusion, n), g in sub.groupby(["fusion", "n"], sort=False):
        lines.append(f"| {fusion} | {n} | " + " | ".join(_cell(g[g.backend == b]) for b in dict.fromkeys(sub.backend))
                     + " |")
    if lines:
        out.append("### attention backends\n\n" + "\n".join(lines))
    ok = frame[frame.ms.notna()]
    lines = ["| sweep | fusion | N | backend | GFLOP / step | achieved GFLOP/s | matmul GFLOP/s | fraction |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in ok.iterrows():
        if r.sweep in ("tokens", "official") or (r.sweep == "backends"):
            lines.append(f"| {r.sweep} | {r.fusion} | {r.n} | {r.backend} | {r.flops_per_step / 1e9:.2f} | "
                         f"{r.achieved_gflops:.1f} | {r.matmul_gflops:.1f} | {100 * r.fraction_of_matmul:.1f}% |")
    out.append("### model FLOPs and achieved fraction of the measured matmul throughput\n\n" + "\n".join(lines))
    off = frame[frame.sweep == "official"]
    if len(off):
        r0 = off.iloc[0]
        lines = ["| fusion | config | ms fwd+bwd (peak MB) | GFLOP / step |", "|---|---|---|---|"]
        for _, r in off.iterrows():
            flops = f"{r.flops_per_step / 1e9:.1f}" if pd.notna(r.get("flops_per_step")) else "n/a"
            lines.append(f"| {r.fusion} | {r.config} | {_cell(off[off.fusion == r.fusion])} | {flops} |")
        out.append(f"### official scale (width {r0.dim}, {r0.heads} heads, {r0.n} tokens, batch {r0.batch})\n\n"
                   + "\n".join(lines))
    ref = frame[frame.sweep == "reference"]
    if len(ref):
        out.append(reference_table(ref))
    ratios = []
    for sweep, n in (("tokens", 4096), ("official", int(off.n.iloc[0]) if len(off) else 0)):
        r = _ratio(frame, sweep, n)
        if r is not None:
            ratios.append(f"* {sweep} N={n}: concat_transformer / perceiver time = **{r:.1f}x**")
    per = frame[(frame.sweep == "tokens") & (frame.fusion == "perceiver")].dropna(subset=["ms"]).sort_values("n")
    if len(per) >= 2:
        a, b = per.iloc[-2], per.iloc[-1]
        ratios.append(f"* perceiver time(N={b.n}) / time(N={a.n}) = {b.ms / a.ms:.1f}x for {b.n / a.n:.0f}x the tokens")
    if ratios:
        out.append("### ratios (within this run)\n\n" + "\n".join(ratios))
    return "\n\n".join(out)


def reference_table(ref: pd.DataFrame) -> str:
    """Ours vs ``transformers.PerceiverModel`` per N and mask rate: times, peak memory and their ratios."""
    r0 = ref.iloc[0]
    r0 = ref[ref.fusion != "pair"].iloc[0] if (ref.fusion != "pair").any() else r0
    params = {f: int(ref[(ref.fusion == f) & (ref.dim == r0.dim)].params.dropna().iloc[0])
              for f in ("perceiver", "hf_perceiver") if ref[(ref.fusion == f) & (ref.dim == r0.dim)].params.notna().any()}
    lines = [f"### reference: ours vs transformers.PerceiverModel (width {r0.dim}, {r0.config}, {r0.heads} heads, "
             f"batch {r0.batch}; parameters: " + ", ".join(f"{k} {v:,}" for k, v in params.items()) + ")", "",
             "| N | keys masked | ours ms (peak MB) | HF ms (peak MB) | ours / HF time | ours / HF peak MB |",
             "|---|---|---|---|---|---|"]
    same = ref[ref.dim == r0.dim]
    for (n, rate), g in same.groupby(["n", "mask_rate"], sort=True):
        pair, ours, hf = (g[g.fusion == f] for f in ("pair", "perceiver", "hf_perceiver"))
        times, mems = ("n/a", "n/a"), ("n/a", "n/a")
        ratio = mem = "n/a"
        if not pair.empty and pd.notna(pair.ms.iloc[0]):
            p = pair.iloc[0]
            times, ratio = (f"{p.ms:.1f}", f"{p.ms_reference:.1f}"), f"**{p.ratio:.2f}**"
        if not ours.empty and not hf.empty and pd.notna(ours.peak_mb.iloc[0]) and pd.notna(hf.peak_mb.iloc[0]):
            mems = (f"{ours.peak_mb.iloc[0]:.0f}", f"{hf.peak_mb.iloc[0]:.0f}")
            if hf.peak_mb.iloc[0] > 0:
                mem = f"{ours.peak_mb.iloc[0] / hf.peak_mb.iloc[0]:.2f}"
        lines.append(f"| {n} | {100 * rate:.0f}% | {times[0]} ({mems[0]}) | {times[1]} ({mems[1]}) | {ratio} | {mem} |")
    lines += ["", "Times: medians of alternating fwd+bwd steps of both models in one process (drift hits both "
                  "alike); peak MB: each model alone in its own process."]
    for _, r in ref[ref.dim != r0.dim].dropna(subset=["ms"]).iterrows():
        lines += ["", f"* ours at width {r.dim} ({r.heads} heads), N={r.n}: {r.ms:.0f} ms, "
                      f"{r.flops_per_step / 1e9:.1f} GFLOP/step = {100 * r.fraction_of_matmul:.0f}% of the "
                      f"same-run matmul peak ({r.matmul_gflops:.0f} GFLOP/s)"]
    return "\n".join(lines)


def _plot(frame: pd.DataFrame) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    frame = frame if "ms" in frame else frame.assign(ms=np.nan)
    for ax, (sweep, key) in zip(axes[:2], (("tokens", "n"), ("modalities", "modalities"))):
        sub = frame[(frame.sweep == sweep)].dropna(subset=["ms"])
        for fusion in dict.fromkeys(sub.fusion):
            f = sub[sub.fusion == fusion].sort_values(key)
            ax.plot(f[key], f.ms, marker="o", label=fusion)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("input tokens N" if key == "n" else "modalities (fixed tokens each)")
        ax.set_ylabel("ms per fwd+bwd")
        ax.legend(fontsize=7)
    sub = frame[frame.sweep.isin(["backends", "official"])].dropna(subset=["ms"])
    labels = [f"{r.fusion[:6]}\n{r.backend} N={r.n}" if r.sweep == "backends" else f"{r.fusion[:6]}\nofficial"
              for _, r in sub.iterrows()]
    axes[2].bar(range(len(sub)), sub.ms, color=["C0" if f == "perceiver" else "C1" for f in sub.fusion])
    axes[2].set_xticks(range(len(sub)), labels, fontsize=6, rotation=90)
    axes[2].set_yscale("log")
    axes[2].set_ylabel("ms per fwd+bwd")
    axes[2].set_title("backends / official scale", fontsize=9)
    fig.tight_layout()
    return fig
