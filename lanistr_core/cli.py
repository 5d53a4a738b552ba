"""The ``lanistr`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="lanistr", description="LANISTR multimodal learning")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list discovered plugins and what they register")
    p.set_defaults(func=cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lanistr`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
