"""The one hook specification module of LANISTR (pluggy project ``"lanistr"``).

Plugins are discovered through the entry-point group ``"lanistr"``; the object
an entry point names (usually a module) carries functions decorated with
``lanistr_core.hookimpl``. The core's own fusions register through these same
hooks (see ``lanistr_core.builtins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from lanistr_core.registry import Registrar

PROJECT = "lanistr"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def lanistr_register_modalities(registrar: Registrar) -> None:
    """Register modality specs.

    Called once per plugin when the registry is first built (lazily, on the
    first ``list_*``/``get_*``/``create_*`` call). The plugin calls
    ``registrar.add_modality(spec)`` for each ``ModalitySpec`` it provides.
    Returns nothing; a name already taken raises ``RegistryError``.
    """


@hookspec
def lanistr_register_fusions(registrar: Registrar) -> None:
    """Register fusion modules.

    Called once per plugin when the registry is first built. The plugin calls
    ``registrar.add_fusion(name, factory)`` where ``factory(*, dim, n_modalities,
    **config) -> Fusion``. Returns nothing; a name already taken raises
    ``RegistryError``.
    """
