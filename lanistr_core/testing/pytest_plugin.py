"""pytest plugin for plugin authors, loaded automatically wherever ``lanistr`` is installed.

It changes nothing unless asked: fixtures are used by name, and the one session setting is opt-in
through the ini option ``lanistr_threads`` (``[tool.pytest.ini_options] lanistr_threads = "1"``):
tiny test models run several times faster on one torch thread than with threads competing for a
small CPU, which a standalone plugin's suite otherwise does not get (the core's own root pyproject
sets it). Imports of torch and the core happen inside the hooks, so merely having lanistr installed
does not slow any other project's pytest start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``lanistr_threads`` ini option."""
    parser.addini("lanistr_threads", "torch threads for the whole test session (empty: torch's default)", default="")


def pytest_configure(config: pytest.Config) -> None:
    """Pin torch's intra-op threads when ``lanistr_threads`` is set."""
    value = str(config.getini("lanistr_threads")).strip()
    if value:
        import torch

        torch.set_num_threads(int(value))


@pytest.fixture
def lanistr_isolated_registry() -> Iterator[Callable[..., Any]]:
    """Factory: ``lanistr_isolated_registry("audio")`` -> a registry with the built-ins and only those
    installed plugins, made process-wide until the test ends (see ``testing.isolated_registry``)."""
    from lanistr_core.testing.registries import isolated_registry

    with ExitStack() as stack:
        yield lambda *only: stack.enter_context(isolated_registry(*only))


@pytest.fixture
def lanistr_plugins_missing() -> Iterator[Callable[..., None]]:
    """Factory: ``lanistr_plugins_missing("audio")`` -> behave as if those plugins were not installed
    until the test ends (see ``testing.plugins_missing``)."""
    from lanistr_core.testing.registries import plugins_missing

    with ExitStack() as stack:
        yield lambda *names: stack.enter_context(plugins_missing(*names))
