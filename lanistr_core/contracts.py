"""The contracts every modality plugin and fusion implements.

A modality plugin registers one :class:`ModalitySpec`. The spec builds three
objects from a config (an attrs instance of ``spec.config_cls``):

* a :class:`Preprocessor` that turns DataFrame columns into a batch dict,
* an :class:`Encoder` that turns a batch into :class:`EncodedTokens`,
* a :class:`MaskingObjective` that masks a batch and scores the encoder's
  output on the masked view.

A *batch* is a ``dict[str, torch.Tensor]`` whose first dimension is the row
axis. Every batch carries ``batch["present"]``: a ``(B,)`` bool tensor, False
where the row lacks the modality. Absent rows still hold placeholder values so
that shapes stay rectangular; the model masks their tokens out.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import attrs
import pandas as pd
import torch
from torch import nn

Batch = dict[str, torch.Tensor]
PRESENT = "present"


@attrs.frozen
class EncodedTokens:
    """Output of an encoder.

    Attributes:
        tokens: ``(B, T, D_m)`` token features.
        mask: ``(B, T)`` bool, True where the token is real (not padding).
    """

    tokens: torch.Tensor
    mask: torch.Tensor

    def __attrs_post_init__(self) -> None:
        if self.tokens.dim() != 3:
            raise ValueError(f"EncodedTokens.tokens must be (B, T, D), got shape {tuple(self.tokens.shape)}")
        if self.mask.shape != self.tokens.shape[:2] or self.mask.dtype != torch.bool:
            raise ValueError(
                f"EncodedTokens.mask must be bool of shape {tuple(self.tokens.shape[:2])}, "
                f"got {self.mask.dtype} {tuple(self.mask.shape)}"
            )


class FusionOutput(NamedTuple):
    """Output of a fusion module.

    A NamedTuple rather than an attrs class: ``torch.compile`` traces through its construction
    (dynamo cannot trace a frozen attrs ``__init__``), so a fusion's whole forward compiles.

    Attributes:
        tokens: ``(B, L, D)`` fused tokens (latents, or all tokens for self-attention fusions).
        pooled: ``(B, D)`` one vector per row, what heads and losses consume.
    """

    tokens: torch.Tensor
    pooled: torch.Tensor


class Preprocessor(abc.ABC):
    """Turns the columns of one modality into batch tensors.

    Subclasses keep everything learned in :meth:`fit` in attributes ending in
    ``_`` and expose it through :meth:`state_dict` as JSON-able data and/or
    tensors (never pickled objects).
    """

    columns: Sequence[str]

    @abc.abstractmethod
    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        """Learn vocabularies, statistics, category maps from ``frame[self.columns]``; return self."""

    @abc.abstractmethod
    def transform(self, frame: pd.DataFrame) -> Batch:
        """Return a batch for the rows of ``frame``; must include ``"present"`` (B,) bool.

        A row whose cells for this modality are all null (None/NaN) is absent:
        ``present`` is False and no error is raised. Invalid values that are not
        null raise ``ValueError`` naming the column and the row label.
        """

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Fitted state as a flat dict of JSON-able values and/or ``torch.Tensor``s."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state produced by :meth:`state_dict` (tensors may come back as tensors)."""

    @property
    def is_fitted(self) -> bool:
        """True once :meth:`fit` (or :meth:`load_state_dict`) has run."""
        return getattr(self, "fitted_", False)


class Encoder(nn.Module, abc.ABC):
    """Encodes one modality's batch into tokens.

    Subclasses set ``self.dim`` (the token width ``D_m``) in ``__init__``, and ``self.pretrained =
    True`` when they loaded pretrained weights (a local checkpoint): the training engine then gives
    them the lower encoder learning rate (``lr * encoder_lr_scale``) from the first phase on.
    """

    dim: int
    pretrained: bool = False

    def set_trainable(self, trainable: bool) -> None:
        """Called by ``fit`` with ``not freeze_encoders``. The default (un)freezes every parameter;
        an encoder that keeps part of itself frozen (e.g. the lower layers of a pretrained model)
        overrides it to leave that part frozen when ``trainable`` is True."""
        for p in self.parameters():
            p.requires_grad_(trainable)

    @abc.abstractmethod
    def forward(self, batch: Batch) -> EncodedTokens:
        """Encode ``batch`` into ``(B, T, dim)`` tokens plus a ``(B, T)`` padding mask."""


class MaskingObjective(nn.Module, abc.ABC):
    """A unimodal self-supervised objective (MLM, MIM, masked features, masked time steps).

    It may own parameters (decoder heads); those train with the model.
    """

    @abc.abstractmethod
    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Return ``(masked_batch, targets)``; ``masked_batch`` has the same keys and shapes as ``batch``.

        ``targets`` must carry what :meth:`loss` needs, including ``"present"``.
        """

    @abc.abstractmethod
    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """Scalar loss of the encoder's output on the masked batch, over present rows only.

        Returns a zero that still has a graph (``encoded.tokens.sum() * 0``) when
        no row is present, so that callers can always backpropagate.
        """


class Fusion(nn.Module, abc.ABC):
    """Fuses the tokens of all modalities into latents and one pooled vector per row."""

    dim: int

    @abc.abstractmethod
    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor, *, modality_index: torch.Tensor | None = None
    ) -> FusionOutput:
        """Fuse ``tokens`` (B, N, D) under ``mask`` (B, N) bool, True = the token takes part.

        ``modality_index`` is an optional (N,) long tensor naming the modality of
        each token position (fusions that pool per modality need it). A token whose
        mask is False must have no effect on any output.
        """


class MissingModalitiesError(ValueError):
    """A row has none of the model's modalities present: one error for every way of being absent."""


def no_modality_error(rows: Sequence[Any], n_rows: int, detail: str) -> MissingModalitiesError:
    """The error for rows without any modality, whether their cells are null or empty by a
    modality's own rule (blank text, an unreadable file): one type, one message, one advice."""
    return MissingModalitiesError(
        f"{n_rows} row(s) have every modality missing, e.g. rows {list(rows)[:10]} ({detail}); drop these rows "
        "or give each at least one modality (a null cell, blank text or an unreadable file all count as missing)"
    )


ColumnDetector = Callable[[pd.Series], bool]
# (n_rows, numpy Generator, directory for any files) -> n_rows present cells
ExampleCells = Callable[[int, Any, Path], list]


def _check_presets(instance: Any, attribute: attrs.Attribute, value: Mapping[str, Mapping[str, Any]]) -> None:
    if "tiny" not in value:
        raise ValueError(f"{attribute.name} must define a 'tiny' preset (tests use it); got {sorted(value)}")


@attrs.frozen(kw_only=True)
class ModalitySpec:
    """Everything the core needs to know about one modality.

    Attributes:
        name: registry name, e.g. ``"text"``.
        config_cls: attrs class holding the modality's hyper-parameters.
        presets: preset name (``tiny``/``small``/``base``) -> keyword overrides for ``config_cls``.
        detect: True when a pandas column belongs to this modality (used when the
            user names modalities without assigning columns).
        build_preprocessor: ``(config, columns) -> Preprocessor`` (unfitted).
        build_encoder: ``(config, fitted_preprocessor) -> Encoder``.
        build_objective: ``(config, encoder, fitted_preprocessor) -> MaskingObjective``.
        loss_weight: default weight of the unimodal objective in pretraining.
        description: one line shown by ``lanistr plugins``.
        example: ``(n_rows, rng, directory) -> list`` of ``n_rows`` valid, present cells (files it
            needs are written under ``directory``); the installed-modality contract suite
            (``lanistr_core.testing.check_modality``) runs every check on them. ``None``: the suite
            skips this modality and says so.
    """

    name: str = attrs.field(validator=attrs.validators.matches_re(r"^[a-z][a-z0-9_]*$"))
    config_cls: type = attrs.field(validator=attrs.validators.instance_of(type))
    presets: Mapping[str, Mapping[str, Any]] = attrs.field(validator=_check_presets)
    detect: ColumnDetector = attrs.field(validator=attrs.validators.is_callable())
    build_preprocessor: Callable[[Any, Sequence[str]], Preprocessor] = attrs.field(
        validator=attrs.validators.is_callable()
    )
    build_encoder: Callable[[Any, Preprocessor], Encoder] = attrs.field(validator=attrs.validators.is_callable())
    build_objective: Callable[[Any, Encoder, Preprocessor], MaskingObjective] = attrs.field(
        validator=attrs.validators.is_callable()
    )
    loss_weight: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0))
    description: str = ""
    example: ExampleCells | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.is_callable()))

    def make_config(self, preset: str = "tiny", **overrides: Any) -> Any:
        """Build ``config_cls`` from a preset plus keyword overrides; unknown preset or keys raise."""
        if preset not in self.presets:
            raise ValueError(f"modality {self.name!r} has no preset {preset!r}; known: {sorted(self.presets)}")
        fields = {f.name for f in attrs.fields(self.config_cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(f"unknown {self.name} config keys {unknown}; known: {sorted(fields)}")
        return self.config_cls(**{**self.presets[preset], **overrides})
