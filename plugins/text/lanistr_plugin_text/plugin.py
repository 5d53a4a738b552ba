"""Registers the text modality with LANISTR (entry point ``lanistr`` -> ``text``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lanistr_core
from lanistr_core import ModalitySpec

from lanistr_plugin_text.config import PRESETS, TextConfig
from lanistr_plugin_text.example import example_cells
from lanistr_plugin_text.detection import detect_text_column

# transformers and tokenizers load only when a model is built: `lanistr plugins` and the registry
# import every plugin just to list it, and transformers alone takes seconds to import.
if TYPE_CHECKING:
    from lanistr_plugin_text.encoder import TextEncoder
    from lanistr_plugin_text.objective import MaskedLanguageModeling
    from lanistr_plugin_text.preprocessor import TextPreprocessor


def build_preprocessor(config: TextConfig, columns: Sequence[str]) -> TextPreprocessor:
    """An unfitted preprocessor for ``columns``."""
    from lanistr_plugin_text.preprocessor import TextPreprocessor

    return TextPreprocessor(config=config, columns=columns)


def build_encoder(config: TextConfig, preprocessor: TextPreprocessor) -> TextEncoder:
    """A BERT whose vocabulary matches the fitted tokenizer (loaded from ``pretrained_path`` if set)."""
    from lanistr_plugin_text.encoder import TextEncoder
    from lanistr_plugin_text.frozen import SHARED_CACHE

    cache = None
    if config.cache_frozen:
        cache = SHARED_CACHE
        cache.max_rows = config.cache_size
    extra = {"cache": cache, "no_cache_ids": [preprocessor.token_id("mask")]}
    if config.pretrained_path is not None:
        return TextEncoder.from_pretrained(config=config, vocab_size=preprocessor.vocab_size, **extra)
    return TextEncoder.from_config(
        config=config, vocab_size=preprocessor.vocab_size, pad_id=preprocessor.token_id("pad"), **extra
    )


def build_objective(config: TextConfig, encoder: TextEncoder, preprocessor: TextPreprocessor) -> MaskedLanguageModeling:
    """Masked language modelling whose head is tied to ``encoder``'s word embeddings."""
    from lanistr_plugin_text.objective import MaskedLanguageModeling

    return MaskedLanguageModeling(
        encoder=encoder,
        mask_id=preprocessor.token_id("mask"),
        special_ids=preprocessor.special_ids,
        vocab_size=preprocessor.vocab_size,
        mlm_probability=config.mlm_probability,
    )


SPEC = ModalitySpec(
    name="text",
    config_cls=TextConfig,
    presets=PRESETS,
    detect=detect_text_column,
    build_preprocessor=build_preprocessor,
    build_encoder=build_encoder,
    build_objective=build_objective,
    loss_weight=1.0,  # official LANISTR lambda_mlm
    description="Free text: BERT encoder, WordPiece vocabulary trained on the data, masked language modelling",
    example=example_cells,
)


@lanistr_core.hookimpl
def lanistr_register_modalities(registrar: Any) -> None:
    """Register the text modality (``registrar`` is the core's ``Registrar``, not public API)."""
    registrar.add_modality(SPEC)
