"""BERT encoder of the text modality (``transformers.BertModel``, no pooler)."""

from __future__ import annotations

from torch import nn
from transformers import BertConfig, BertModel

from lanistr_core import Batch, EncodedTokens, Encoder
from lanistr_plugin_text.config import TextConfig


class TextEncoder(Encoder):
    """Encodes ``input_ids`` / ``attention_mask`` into BERT's last hidden states.

    The pooler is left out (``add_pooling_layer=False``): LANISTR fuses token features, and an
    unused pooler would hold parameters that never get a gradient.
    """

    def __init__(self, *, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert
        self.dim = int(bert.config.hidden_size)

    @classmethod
    def from_config(cls, *, config: TextConfig, vocab_size: int, pad_id: int) -> TextEncoder:
        """A freshly initialised BERT sized by ``config`` whose vocabulary is the tokenizer's."""
        bert_config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            intermediate_size=config.intermediate_size,
            hidden_dropout_prob=config.dropout,
            attention_probs_dropout_prob=config.dropout,
            max_position_embeddings=config.max_length,
            pad_token_id=pad_id,
        )
        return cls(bert=BertModel(bert_config, add_pooling_layer=False))

    @classmethod
    def from_pretrained(cls, *, config: TextConfig, vocab_size: int) -> TextEncoder:
        """Load the BERT saved in the local directory ``config.pretrained_path`` (never the network)."""
        path = config.pretrained_path
        bert = BertModel.from_pretrained(
            path,
            add_pooling_layer=False,
            local_files_only=True,
            hidden_dropout_prob=config.dropout,
            attention_probs_dropout_prob=config.dropout,
        )
        if bert.config.vocab_size < vocab_size:
            raise ValueError(
                f"pretrained_path {path!r}: the model has {bert.config.vocab_size} token embeddings "
                f"but its tokenizer emits {vocab_size} ids"
            )
        if bert.config.max_position_embeddings < config.max_length:
            raise ValueError(
                f"pretrained_path {path!r}: max_length={config.max_length} exceeds the model's "
                f"{bert.config.max_position_embeddings} position embeddings"
            )
        return cls(bert=bert)

    @property
    def word_embeddings(self) -> nn.Embedding:
        """The input token embeddings (the MLM head's decoder is tied to their weight)."""
        return self.bert.get_input_embeddings()

    def forward(self, batch: Batch) -> EncodedTokens:
        """``(B, T)`` ids and attention mask -> ``(B, T, hidden_size)`` tokens, mask True = real token."""
        attention_mask = batch["attention_mask"]
        hidden = self.bert(input_ids=batch["input_ids"], attention_mask=attention_mask).last_hidden_state
        return EncodedTokens(tokens=hidden, mask=attention_mask.bool())
