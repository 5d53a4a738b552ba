"""How long a phase trains when the user does not say: epochs, patience and warm-up of early stopping.

The rules (README, "How training is configured"):

* ``epochs = min(max_epochs, ceil(min_steps / steps_per_epoch))``: small data gets the optimizer
  steps a freshly initialised fusion and head need; large data is not over-trained (one pass once an
  epoch holds ``min_steps`` steps).
* ``patience = max(5, ceil(0.2 * epochs))``: a fixed patience of a few epochs fires during the plateau
  that a randomly initialised model crosses before it learns (for example an interaction between two
  modalities); a fifth of the run rides it out.
* ``min_epochs = max(ceil(0.2 * epochs), ceil(warmup_ratio * epochs))``: patience counts only after
  these epochs, so early stopping can never fire while the learning rate is still warming up.
"""

from __future__ import annotations

import math

import attrs

from lanistr_core.config import TrainConfig


@attrs.frozen(kw_only=True)
class Schedule:
    """The resolved length of one training phase."""

    epochs: int
    steps_per_epoch: int
    patience: int
    min_epochs: int
    epochs_derived: bool  # True when ``epochs`` came from the data-scaled rule

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the full schedule (what the learning-rate schedule spans)."""
        return self.epochs * self.steps_per_epoch

    def describe(self) -> str:
        """One line for logs and warnings."""
        how = "derived from the data" if self.epochs_derived else "as configured"
        return (f"{self.epochs} epochs x {self.steps_per_epoch} steps ({how}), patience {self.patience} "
                f"after {self.min_epochs} epochs")


def resolve_schedule(config: TrainConfig, steps_per_epoch: int) -> Schedule:
    """Fill in the ``None`` (derived) fields of ``config`` for a loader of ``steps_per_epoch`` batches."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    derived = config.epochs is None
    epochs = min(config.max_epochs, math.ceil(config.min_steps / steps_per_epoch)) if derived else config.epochs
    patience = config.patience if config.patience is not None else max(5, math.ceil(0.2 * epochs))
    if config.min_epochs is not None:
        min_epochs = min(config.min_epochs, epochs)
    else:
        min_epochs = min(epochs, max(math.ceil(0.2 * epochs), math.ceil(config.warmup_ratio * epochs)))
    return Schedule(epochs=epochs, steps_per_epoch=steps_per_epoch, patience=patience, min_epochs=min_epochs,
                    epochs_derived=derived)
