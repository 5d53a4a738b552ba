"""Plugin discovery through entry points, registry errors, LANISTR_DISABLE_PLUGINS, `lanistr plugins`."""

import subprocess
import sys
import textwrap

import pytest

from lanistr_core import RegistryError, hookimpl
from lanistr_core.cli import main as cli_main
from lanistr_core.fusion import LateFusion
from lanistr_core.registry import Registry, build_registry, set_registry
from lanistr_core.testing.toy import VECTOR_SPEC

PLUGIN_SOURCE = '''
from lanistr_core import hookimpl
from lanistr_core.fusion import LateFusion
from lanistr_core.testing.toy import VECTOR_SPEC
import attrs

@hookimpl
def lanistr_register_modalities(registrar):
    registrar.add_modality(attrs.evolve(VECTOR_SPEC, name="epvector"))

@hookimpl
def lanistr_register_fusions(registrar):
    registrar.add_fusion("ep_late", LateFusion)
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """A real distribution with an entry point, pip-installed into a temp folder (no index, no network)."""
    src = tmp_path_factory.mktemp("src")
    (src / "lanistr_ep_demo.py").write_text(PLUGIN_SOURCE)
    (src / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "lanistr-ep-demo"
        version = "0.3.1"
        [project.entry-points.lanistr]
        epdemo = "lanistr_ep_demo"
        [tool.setuptools]
        py-modules = ["lanistr_ep_demo"]
    '''))
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(src)],
        check=True, capture_output=True,
    )
    return site


@pytest.fixture
def on_path(installed_plugin, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_plugin))
    yield installed_plugin
    sys.modules.pop("lanistr_ep_demo", None)


def test_entry_point_plugin_is_discovered(on_path):
    registry = build_registry()
    assert "epvector" in registry.list("modality")
    assert "ep_late" in registry.list("fusion")
    info = registry.owner("modality", "epvector")
    assert (info.name, info.distribution, info.version) == ("epdemo", "lanistr-ep-demo", "0.3.1")
    assert isinstance(registry.create_fusion("ep_late", dim=8, n_modalities=1), LateFusion)


def test_disable_plugins_env_blocks_by_entry_point_or_distribution(on_path, monkeypatch):
    for name in ("epdemo", "lanistr-ep-demo"):
        monkeypatch.setenv("LANISTR_DISABLE_PLUGINS", f"something-else, {name}")
        registry = build_registry()
        assert "epvector" not in registry.list("modality")
        assert "epdemo" not in registry.plugins


def test_cli_lists_plugins_with_versions(on_path, capsys):
    previous = set_registry(None)
    try:
        assert cli_main(["plugins"]) == 0
    finally:
        set_registry(previous)
    out = capsys.readouterr().out
    assert "epdemo" in out and "lanistr-ep-demo" in out and "0.3.1" in out and "epvector" in out
    assert "lanistr-builtins" in out and "perceiver" in out
    # each modality's one-line description (ModalitySpec.description)
    assert "\nmodalities:\n" in out and "toy fixed-length numeric vectors" in out


def test_unknown_names_list_the_known_ones():
    registry = build_registry(entry_points=False)
    with pytest.raises(RegistryError, match=r"unknown fusion 'nope'; known fusions: concat_transformer, late, perceiver"):
        registry.create_fusion("nope")
    with pytest.raises(RegistryError, match=r"unknown modality 'audio'.*lanistr plugins"):
        registry.get_modality("audio")


class _Plugin:
    def __init__(self, spec):
        self.spec = spec

    @hookimpl
    def lanistr_register_modalities(self, registrar):
        registrar.add_modality(self.spec)


def test_duplicate_names_are_rejected_naming_both_plugins():
    registry = build_registry(entry_points=False)
    registry.register_plugin(_Plugin(VECTOR_SPEC), name="first-plugin")
    with pytest.raises(RegistryError, match=r"modality 'vector' is registered twice: by plugin 'first-plugin' and by plugin 'second-plugin'"):
        registry.register_plugin(_Plugin(VECTOR_SPEC), name="second-plugin")


def test_duplicate_fusion_from_plugin_is_rejected():
    class Clash:
        @hookimpl
        def lanistr_register_fusions(self, registrar):
            registrar.add_fusion("perceiver", LateFusion)

    registry = build_registry(entry_points=False)
    with pytest.raises(RegistryError, match="'lanistr-builtins' and by plugin 'clash'"):
        registry.register_plugin(Clash(), name="clash")


def test_registrar_rejects_wrong_types():
    class Bad:
        @hookimpl
        def lanistr_register_modalities(self, registrar):
            registrar.add_modality("text")

    with pytest.raises(TypeError, match="expected ModalitySpec"):
        Registry().register_plugin(Bad(), name="bad")


def test_unknown_modality_error_lists_the_known_modalities():
    from lanistr_core import get_modality

    with pytest.raises(RegistryError, match=r"unknown modality 'nope'; known modalities: .*text.*"
                                            r"pip install lanistr-plugin-nope; see `lanistr plugins`"):
        get_modality("nope")
