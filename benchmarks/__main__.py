"""``python -m benchmarks <name> [--quick] [--device cuda] [--out DIR] [flags]``: run one benchmark."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import torch

from benchmarks import BENCHMARKS


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the benchmark name and its flags, run it, and print where its files went."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="name", required=True)
    for name in BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        p = sub.add_parser(name, help=(module.__doc__ or "").splitlines()[0],
                           description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--quick", action="store_true", help="a seconds-long smoke run (what the tests run)")
        p.add_argument("--device", default="cpu", help="cpu or cuda")
        p.add_argument("--out", default=None, help="output directory (default benchmarks/results/<name>)")
        threads = getattr(module, "DEFAULT_THREADS", 1)
        # one thread by default: on the shared 2-core CPU two threads per process oversubscribe it
        p.add_argument("--threads", type=int, default=threads, help=f"torch CPU threads (default {threads})")
        module.add_arguments(p)
    args = parser.parse_args(argv)
    args.argv = argv  # the exact command, for provenance
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = importlib.import_module(f"benchmarks.{args.name}").run(args)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
