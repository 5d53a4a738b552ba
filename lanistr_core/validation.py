"""When a held-out validation split can steer early stopping, and how it is drawn.

A validation split of a dozen rows holding one or two positives measures noise: early stopping on it
picks an arbitrary epoch. The rule for ``validation="auto"`` (README, "How training is configured"):

1. hold out ``round(val_fraction * n)`` rows, stratified by class for classification;
2. enlarge it to at least ``min_val_rows`` rows and, for classification, to the size at which the
   rarest class is expected ``min_val_per_class`` times;
3. if that needs more than ``max_val_fraction`` of the rows, hold out nothing: train the fixed,
   data-scaled schedule on every row and keep the final weights.

A :class:`SmallDataWarning` says which was used whenever the split was enlarged or dropped.
"""

from __future__ import annotations

import math
import warnings

import attrs
import pandas as pd

from lanistr_core.config import TrainConfig
from lanistr_core.data import split_frame


class SmallDataWarning(UserWarning):
    """Training adapted to a small (labeled) set: a larger validation split, or none at all."""


@attrs.frozen(kw_only=True)
class ValidationPlan:
    """How many rows are held out (0: none) and why."""

    n_val: int
    reason: str
    adapted: bool  # True when the rule changed the configured split (a warning is due)


def plan_validation(n_rows: int, config: TrainConfig, labels: pd.Series | None = None) -> ValidationPlan:
    """Apply the rule of this module to ``n_rows`` rows (``labels``: class labels, for classification)."""
    requested = int(round(n_rows * config.val_fraction))
    if config.validation == "none" or config.val_fraction == 0:
        return ValidationPlan(n_val=0, reason="no validation split requested", adapted=False)
    if config.validation == "split":
        return ValidationPlan(n_val=requested, reason=f"val_fraction={config.val_fraction}", adapted=False)
    needed, why = config.min_val_rows, f"at least {config.min_val_rows} rows"
    if labels is not None and len(labels):
        counts = labels.value_counts()
        rarest, n_rarest = counts.index[-1], int(counts.iloc[-1])
        rarest = rarest.item() if hasattr(rarest, "item") else rarest  # np.int64(1) -> 1 in messages
        per_class = math.ceil(config.min_val_per_class * n_rows / n_rarest)
        if per_class > needed:
            needed = per_class
            why = f"{config.min_val_per_class} rows of the rarest class {rarest!r} ({n_rarest} of {n_rows})"
    if requested >= needed:
        return ValidationPlan(n_val=requested, reason=f"val_fraction={config.val_fraction}", adapted=False)
    if needed <= config.max_val_fraction * n_rows:
        return ValidationPlan(
            n_val=needed, adapted=True,
            reason=f"held out {needed} of {n_rows} rows (more than val_fraction={config.val_fraction}) to have {why}")
    return ValidationPlan(
        n_val=0, adapted=True,
        reason=(f"a validation split with {why} would need {needed} of {n_rows} rows (more than "
                f"max_val_fraction={config.max_val_fraction}): no early stopping; training the fixed "
                "schedule on every row and keeping the final weights"))


def hold_out(
    frame: pd.DataFrame, config: TrainConfig, *, seed: int, phase: str, labels: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, ValidationPlan]:
    """Split ``frame`` into (train, validation) by the rule; warns when the rule adapted the split."""
    plan = plan_validation(len(frame), config, labels)
    if plan.adapted:
        warnings.warn(f"{phase}: {plan.reason}. Pass validation=<DataFrame>, or {phase}={{'validation': 'split'}} "
                      f"or {{'validation': 'none'}}, to choose yourself.", SmallDataWarning, stacklevel=3)
    if plan.n_val == 0:
        return frame, frame.iloc[:0], plan
    train, held = split_frame(frame, plan.n_val / len(frame), seed, stratify=labels)
    return train, held, plan
