"""The core's own plugin: registers the built-in fusions through the public hooks."""

from __future__ import annotations

from lanistr_core.fusion import ConcatTransformerFusion, LateFusion, PerceiverFusion
from lanistr_core.hookspecs import hookimpl
from lanistr_core.registry import Registrar


@hookimpl
def lanistr_register_fusions(registrar: Registrar) -> None:
    """Register ``perceiver`` (default), ``concat_transformer`` and ``late``."""
    registrar.add_fusion("perceiver", PerceiverFusion)
    registrar.add_fusion("concat_transformer", ConcatTransformerFusion)
    registrar.add_fusion("late", LateFusion)
