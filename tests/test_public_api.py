"""The one public API: ``lanistr_core.__all__`` plus ``lanistr_core.testing``, and the testing helpers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

import lanistr_core
from lanistr_core import RegistryError, get_modality, get_registry, list_plugins
from lanistr_core.testing import check_modality, example_frame, isolated_registry, plugins_missing
from lanistr_core.testing.toy import VECTOR_SPEC

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = {"lanistr_core", "lanistr_core.testing"}


def _core_imports(path: Path) -> list[str]:
    """Modules under lanistr_core that ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lanistr_core"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("lanistr_core")]
    return found


def test_every_public_name_resolves():
    assert sorted(set(lanistr_core.__all__)) == sorted(lanistr_core.__all__)
    for name in lanistr_core.__all__:
        assert getattr(lanistr_core, name) is not None, name


def test_built_in_plugins_and_the_template_import_only_the_public_api():
    files = sorted(ROOT.glob("plugins/*/lanistr_plugin_*/*.py")) + sorted(ROOT.glob("plugins/*/tests/*.py"))
    files.append(ROOT / "lanistr_core/testing/toy.py")
    assert len(files) > 20
    offending = {str(f.relative_to(ROOT)): m for f in files for m in _core_imports(f) if m not in PUBLIC_MODULES}
    assert offending == {}


def test_list_plugins_is_the_python_side_of_lanistr_plugins():
    infos = {info.name: info for info in list_plugins()}
    assert infos["lanistr-builtins"].fusions == ["perceiver", "concat_transformer", "late"]
    for name in lanistr_core.list_modalities():
        assert any(name in info.modalities for info in infos.values())


def test_isolated_registry_holds_only_the_named_plugin_and_restores():
    before = get_registry()
    with isolated_registry("tabular") as registry:
        assert get_registry() is registry
        assert registry.list("modality") == ["tabular"]
        assert registry.owner("modality", "tabular").distribution == "lanistr-plugin-tabular"
    assert get_registry() is before
    with pytest.raises(LookupError, match="no installed lanistr plugin entry point .'nope'."):
        with isolated_registry("nope"):
            pass


def test_plugins_missing_behaves_as_uninstalled_and_restores():
    assert get_modality("tabular") is not None
    saved = os.environ.get("LANISTR_DISABLE_PLUGINS")
    with plugins_missing("tabular"):
        with pytest.raises(RegistryError, match="pip install lanistr-plugin-tabular"):
            get_modality("tabular")
    assert os.environ.get("LANISTR_DISABLE_PLUGINS") == saved
    assert get_modality("tabular") is not None


def test_the_suite_passes_the_template_and_fails_a_broken_plugin(tmp_path):
    check_modality(VECTOR_SPEC, tmp_path / "ok")
    frame = example_frame(VECTOR_SPEC, tmp_path / "cells", n_rows=6, missing_rows=[1])
    assert list(frame.index) == list(range(100, 106)) and frame["vector"].isna().tolist() == [False, True] + [False] * 4
    blind = attrs.evolve(VECTOR_SPEC, detect=lambda series: False)
    with pytest.raises(AssertionError, match="vector: its detector does not claim its own example column"):
        check_modality(blind, tmp_path / "blind")
    short = attrs.evolve(VECTOR_SPEC, example=lambda n, rng, directory: [[0.0] * 8])
    with pytest.raises(AssertionError, match="example returned 1 cells for n_rows=8"):
        check_modality(short, tmp_path / "short")
    with pytest.raises(ValueError, match="has no example cells"):
        check_modality(attrs.evolve(VECTOR_SPEC, example=None), tmp_path / "none")


def _run_pytest(directory: Path, ini: str) -> str:
    (directory / "pytest.ini").write_text(ini)
    (directory / "test_threads.py").write_text(textwrap.dedent("""
        import torch

        def test_threads(lanistr_isolated_registry, lanistr_plugins_missing):
            print("THREADS", torch.get_num_threads())
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", str(directory)],
                            cwd=directory, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pytest_plugin_gives_fixtures_everywhere_and_pins_threads_only_when_asked(tmp_path):
    (tmp_path / "asked").mkdir(), (tmp_path / "default").mkdir()
    assert "THREADS 1" in _run_pytest(tmp_path / "asked", "[pytest]\nlanistr_threads = 1\n")
    assert "THREADS 2" in _run_pytest(tmp_path / "default", "[pytest]\n")
