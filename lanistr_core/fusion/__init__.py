"""Built-in fusion modules (registered through the ``lanistr_register_fusions`` hook)."""

from lanistr_core.fusion.concat import ConcatTransformerFusion
from lanistr_core.fusion.late import LateFusion
from lanistr_core.fusion.perceiver import PerceiverFusion

__all__ = ["ConcatTransformerFusion", "LateFusion", "PerceiverFusion"]
