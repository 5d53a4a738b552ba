"""Registries for tests: only the plugins under test, or as if a plugin were not installed.

Both swap the process-wide registry for the duration of a ``with`` block and restore it after, so a
test never sees (or breaks) the plugins installed alongside the one it tests.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import os
from collections.abc import Iterator

from lanistr_core import hookspecs
from lanistr_core.registry import DISABLE_ENV, Registry, build_registry, set_registry


def _entry_point_names() -> set[str]:
    return {ep.name for ep in metadata.entry_points(group=hookspecs.PROJECT)}


@contextlib.contextmanager
def isolated_registry(*only: str) -> Iterator[Registry]:
    """Make the process-wide registry hold the core's built-ins plus only the entry points ``only``.

    ``with isolated_registry("audio") as registry:`` gives a registry where ``audio`` is loaded
    from its installed entry point (``registry.owner("modality", "audio")`` names the distribution)
    and no other plugin is; an unknown name raises ``LookupError`` listing the installed ones.
    """
    installed = _entry_point_names()
    unknown = sorted(set(only) - installed)
    if unknown:
        raise LookupError(f"no installed lanistr plugin entry point {unknown}; installed: {sorted(installed) or 'none'}")
    registry = build_registry(disabled=sorted(installed - set(only)))
    previous = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(previous)


@contextlib.contextmanager
def plugins_missing(*names: str) -> Iterator[None]:
    """Behave as if the plugins ``names`` (entry-point or distribution names) were not installed.

    Sets ``LANISTR_DISABLE_PLUGINS`` and rebuilds the registry on next use; both are restored on exit.
    """
    saved = os.environ.get(DISABLE_ENV)
    blocked = [n for n in (saved or "").split(",") if n.strip()] + list(names)
    os.environ[DISABLE_ENV] = ",".join(blocked)
    previous = set_registry(None)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(DISABLE_ENV, None)
        else:
            os.environ[DISABLE_ENV] = saved
        set_registry(previous)
