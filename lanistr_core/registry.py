"""Plugin discovery and the registries of modalities and fusions (timm-style list/create)."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pluggy

from lanistr_core import hookspecs
from lanistr_core.contracts import Fusion, ModalitySpec

DISABLE_ENV = "LANISTR_DISABLE_PLUGINS"
BUILTIN_PLUGIN = "lanistr-builtins"

FusionFactory = Callable[..., Fusion]


class RegistryError(LookupError):
    """Unknown or conflicting registry name; the message lists what is known."""


@attrs.define
class PluginInfo:
    """What ``lanistr plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    modalities: list[str] = attrs.Factory(list)
    fusions: list[str] = attrs.Factory(list)


class Registrar:
    """Handed to one plugin's registrar hooks; records what it adds and who added it."""

    def __init__(self, registry: Registry, plugin: PluginInfo) -> None:
        self._registry = registry
        self._plugin = plugin

    def add_modality(self, spec: ModalitySpec) -> None:
        """Register ``spec`` under ``spec.name``."""
        if not isinstance(spec, ModalitySpec):
            raise TypeError(f"plugin {self._plugin.name!r} registered {type(spec).__name__}, expected ModalitySpec")
        self._registry._add("modality", spec.name, spec, self._plugin)
        self._plugin.modalities.append(spec.name)

    def add_fusion(self, name: str, factory: FusionFactory) -> None:
        """Register ``factory(*, dim, n_modalities, **config) -> Fusion`` under ``name``."""
        if not callable(factory):
            raise TypeError(f"plugin {self._plugin.name!r}: fusion factory for {name!r} is not callable")
        self._registry._add("fusion", name, factory, self._plugin)
        self._plugin.fusions.append(name)


class Registry:
    """Modalities and fusions registered by the built-ins and all discovered plugins."""

    def __init__(self) -> None:
        self.plugin_manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.plugin_manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._items: dict[str, dict[str, tuple[Any, PluginInfo]]] = {"modality": {}, "fusion": {}}

    def _add(self, kind: str, name: str, item: Any, plugin: PluginInfo) -> None:
        table = self._items[kind]
        if name in table:
            owner = table[name][1].name
            raise RegistryError(
                f"{kind} {name!r} is registered twice: by plugin {owner!r} and by plugin {plugin.name!r}; "
                f"disable one with {DISABLE_ENV}={plugin.name}"
            )
        table[name] = (item, plugin)

    def register_plugin(self, plugin: object, *, name: str, distribution: str = "", version: str = "") -> PluginInfo:
        """Register a plugin object (module or instance with hookimpls) and run its registrar hooks."""
        if name in self.plugins:
            raise RegistryError(f"plugin {name!r} is already registered")
        info = PluginInfo(name=name, distribution=distribution or name, version=version or "unknown")
        self.plugin_manager.register(plugin, name=name)
        self.plugins[name] = info
        registrar = Registrar(self, info)
        for hook in (self.plugin_manager.hook.lanistr_register_modalities, self.plugin_manager.hook.lanistr_register_fusions):
            for impl in hook.get_hookimpls():
                if impl.plugin_name == name:
                    impl.function(registrar=registrar)
        return info

    def load_entry_points(self, disabled: Iterable[str] = ()) -> None:
        """Load every entry point of group ``"lanistr"`` except those named in ``disabled``."""
        blocked = set(disabled)
        for ep in sorted(metadata.entry_points(group=hookspecs.PROJECT), key=lambda e: e.name):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else ep.name
            if ep.name in blocked or dist_name in blocked:
                continue
            self.register_plugin(
                ep.load(), name=ep.name, distribution=dist_name, version=dist.version if dist is not None else ""
            )

    # -- lookups -----------------------------------------------------------------

    def _get(self, kind: str, name: str) -> Any:
        table = self._items[kind]
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            # plugins follow the lanistr-plugin-<name> naming convention, so the likely package can be named
            hint = (f" (is its plugin installed? e.g. pip install lanistr-plugin-{name.replace('_', '-')}; "
                    "see `lanistr plugins`)") if kind == "modality" else ""
            plural = {"modality": "modalities", "fusion": "fusions"}.get(kind, f"{kind}s")
            raise RegistryError(f"unknown {kind} {name!r}; known {plural}: {known}{hint}")
        return table[name][0]

    def list(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind`` (``"modality"`` or ``"fusion"``)."""
        return sorted(self._items[kind])

    def get_modality(self, name: str) -> ModalitySpec:
        """The spec registered as ``name``; unknown names raise ``RegistryError``."""
        return self._get("modality", name)

    def get_fusion_factory(self, name: str) -> FusionFactory:
        """The factory registered as fusion ``name``; unknown names raise ``RegistryError``."""
        return self._get("fusion", name)

    def create_fusion(self, name: str, **config: Any) -> Fusion:
        """Build the fusion registered as ``name`` with keyword config."""
        return self.get_fusion_factory(name)(**config)

    def owner(self, kind: str, name: str) -> PluginInfo:
        """The plugin that registered ``name``."""
        self._get(kind, name)
        return self._items[kind][name][1]


_lock = threading.Lock()
_registry: Registry | None = None


def _disabled_from_env() -> list[str]:
    return [p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()]


def build_registry(*, entry_points: bool = True, disabled: Iterable[str] | None = None) -> Registry:
    """A new registry holding the built-ins and (unless disabled) every entry-point plugin."""
    from lanistr_core import __version__, builtins

    registry = Registry()
    registry.register_plugin(builtins, name=BUILTIN_PLUGIN, distribution="lanistr", version=__version__)
    if entry_points:
        registry.load_entry_points(_disabled_from_env() if disabled is None else disabled)
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = build_registry()
        return _registry


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry (``None`` rebuilds on next use); returns the previous one."""
    global _registry
    with _lock:
        previous, _registry = _registry, registry
        return previous


def list_plugins() -> list[PluginInfo]:
    """Every discovered plugin with its distribution, version and what it registers: the Python
    equivalent of ``lanistr plugins`` (the core's built-in fusions come first, as ``lanistr-builtins``)."""
    return list(get_registry().plugins.values())


def list_modalities() -> list[str]:
    """Names of all registered modalities."""
    return get_registry().list("modality")


def list_fusions() -> list[str]:
    """Names of all registered fusions."""
    return get_registry().list("fusion")


def get_modality(name: str) -> ModalitySpec:
    """The registered ``ModalitySpec`` called ``name``."""
    return get_registry().get_modality(name)


def create_fusion(name: str, **config: Any) -> Fusion:
    """Build the registered fusion ``name``; config is keyword-only (``dim``, ``n_modalities``, ...)."""
    return get_registry().create_fusion(name, **config)
