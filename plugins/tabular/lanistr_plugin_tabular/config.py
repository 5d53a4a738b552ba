"""Hyper-parameters of the tabular modality (TabNet encoder) and its size presets."""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v


def _not_both_zero(other: str) -> Any:
    """Validator: this field and the field ``other`` may not both be 0."""

    def check(instance: Any, attribute: attrs.Attribute, value: int) -> None:
        # Validators run after every field is set, so ``other`` is available here. A feature
        # transformer with neither shared nor independent GLU layers would be empty.
        if value == 0 and getattr(instance, other) == 0:
            raise ValueError(f"{attribute.name} and {other} cannot both be 0 (the feature transformer would be empty)")

    return check


@attrs.frozen(kw_only=True)
class TabularConfig:
    """Configuration of the tabular preprocessor, TabNet encoder and masked feature objective.

    Attributes:
        n_d: width of each decision step's output, which is also the token width ``dim``.
        n_a: width of the attention embedding of each step.
        n_steps: decision steps; the encoder emits one token per step.
        gamma: feature re-use relaxation (1.0 = each feature used by at most one step).
        n_independent: step-specific GLU layers per feature transformer.
        n_shared: GLU layers shared by all steps.
        cat_emb_dim: embedding width of every categorical column.
        virtual_batch_size: ghost batch-norm chunk size (statistics are computed per chunk).
        momentum: batch-norm running-statistics momentum (PyTorch convention: weight of the new batch).
        mask_type: ``"sparsemax"`` or ``"entmax"`` feature selection.
        epsilon: numerical floor inside the sparsity term.
        missing_indicators: add a 0/1 "was missing" feature for every numeric column that had a
            null in the fit data.
        pretraining_ratio: fraction of features obfuscated per row by the masked feature objective.
        n_shared_decoder: shared GLU layers of the reconstruction decoder.
        n_indep_decoder: independent GLU layers of the reconstruction decoder.
        pretrained_path: optional local ``.safetensors`` file holding this encoder's ``state_dict``.
    """

    n_d: int = attrs.field(default=8, validator=[v.instance_of(int), v.gt(0)])
    n_a: int = attrs.field(default=8, validator=[v.instance_of(int), v.gt(0)])
    n_steps: int = attrs.field(default=3, validator=[v.instance_of(int), v.gt(0)])
    gamma: float = attrs.field(default=1.3, converter=float, validator=v.ge(1.0))
    n_independent: int = attrs.field(default=2, validator=[v.instance_of(int), v.ge(0)])
    n_shared: int = attrs.field(default=2, validator=[v.instance_of(int), v.ge(0), _not_both_zero("n_independent")])
    cat_emb_dim: int = attrs.field(default=1, validator=[v.instance_of(int), v.gt(0)])
    # Below 3, balanced chunks of 1 row cannot always be avoided (see ghost_bn.py).
    virtual_batch_size: int = attrs.field(default=128, validator=[v.instance_of(int), v.ge(3)])
    momentum: float = attrs.field(default=0.02, converter=float, validator=[v.gt(0.0), v.le(1.0)])
    mask_type: str = attrs.field(default="sparsemax", validator=v.in_(("sparsemax", "entmax")))
    epsilon: float = attrs.field(default=1e-15, converter=float, validator=v.gt(0.0))
    missing_indicators: bool = attrs.field(default=True, validator=v.instance_of(bool))
    pretraining_ratio: float = attrs.field(default=0.15, converter=float, validator=[v.gt(0.0), v.lt(1.0)])
    n_shared_decoder: int = attrs.field(default=1, validator=[v.instance_of(int), v.ge(0)])
    n_indep_decoder: int = attrs.field(
        default=1, validator=[v.instance_of(int), v.ge(0), _not_both_zero("n_shared_decoder")]
    )
    pretrained_path: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: well under a second per step on CPU.
    "tiny": {"n_d": 8, "n_a": 8, "n_steps": 3, "cat_emb_dim": 2},
    # Demo on a 2-core CPU.
    "small": {"n_d": 32, "n_a": 32, "n_steps": 3, "cat_emb_dim": 2},
    # Paper scale: the official LANISTR config sets n_d = n_a = 64 and cat_emb_dim = 3, and its TabNet
    # class defaults to 6 steps with gamma 1.8 (google-research/lanistr, configs/*.yaml and
    # third_party/tabnet/tabular_encoder.py).
    "base": {"n_d": 64, "n_a": 64, "n_steps": 6, "gamma": 1.8, "cat_emb_dim": 3},
}
