"""BERT encoder of the text modality (``transformers.BertModel``, no pooler)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import BertConfig, BertModel

from lanistr_core import Batch, EncodedTokens, Encoder
from lanistr_plugin_text.config import TextConfig
from lanistr_plugin_text.frozen import FrozenOutputCache, fingerprint, row_key
from lanistr_plugin_text.pretrained import resolve_pretrained


class TextEncoder(Encoder):
    """Encodes ``input_ids`` / ``attention_mask`` into BERT's last hidden states.

    The pooler is left out (``add_pooling_layer=False``): LANISTR fuses token features, and an
    unused pooler would hold parameters that never get a gradient.

    With ``trainable_layers=k`` only the top ``k`` Transformer layers train; the embeddings and the
    layers below are frozen and always run in eval mode (no dropout), so their output depends on the
    token ids alone and can be cached across epochs and models (``cache`` from :mod:`.frozen`).
    """

    def __init__(
        self, *, bert: BertModel, trainable_layers: int | None = None, cache: FrozenOutputCache | None = None,
        no_cache_ids: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.bert = bert
        self.dim = int(bert.config.hidden_size)
        n_layers = len(bert.encoder.layer)
        if trainable_layers is not None and trainable_layers > n_layers:
            raise ValueError(f"trainable_layers={trainable_layers} exceeds the model's {n_layers} layers")
        self.n_frozen = 0 if trainable_layers is None else n_layers - trainable_layers
        self.cache = cache if self.n_frozen else None
        # rows holding these ids (MLM's [MASK]) are one-off corruptions: never worth a cache entry
        self.no_cache_ids = torch.tensor(sorted(no_cache_ids), dtype=torch.long)
        self._fingerprint: str | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: setattr(module, "_fingerprint", None))
        self.set_trainable(True)

    @classmethod
    def from_config(cls, *, config: TextConfig, vocab_size: int, pad_id: int, **kwargs: Any) -> TextEncoder:
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
        return cls(bert=BertModel(bert_config, add_pooling_layer=False), trainable_layers=config.trainable_layers,
                   **kwargs)

    @classmethod
    def from_pretrained(cls, *, config: TextConfig, vocab_size: int, **kwargs: Any) -> TextEncoder:
        """Load the BERT of ``config.pretrained_path`` (a local directory or an installed model package;
        never the network)."""
        path = config.pretrained_path
        bert = BertModel.from_pretrained(
            resolve_pretrained(path, verify=config.verify_weights),
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
        encoder = cls(bert=bert, trainable_layers=config.trainable_layers, **kwargs)
        encoder.pretrained = True  # trains at the lower encoder rate (TrainConfig.encoder_lr_scale)
        return encoder

    @property
    def word_embeddings(self) -> nn.Embedding:
        """The input token embeddings (the MLM head's decoder is tied to their weight)."""
        return self.bert.get_input_embeddings()

    def frozen_modules(self) -> list[nn.Module]:
        """The embeddings and the lower layers that ``trainable_layers`` leaves frozen (empty if none)."""
        if not self.n_frozen:
            return []
        return [self.bert.embeddings, *self.bert.encoder.layer[: self.n_frozen]]

    def set_trainable(self, trainable: bool) -> None:
        """Core hook: everything trains (``trainable``) except the frozen lower part, or nothing does."""
        for p in self.parameters():
            p.requires_grad_(trainable)
        for module in self.frozen_modules():
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> TextEncoder:
        """Switch the trainable part; the frozen part stays in eval mode (deterministic, cacheable)."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def forward(self, batch: Batch) -> EncodedTokens:
        """``(B, T)`` ids and attention mask -> ``(B, T, hidden_size)`` tokens, mask True = real token."""
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        if not self.n_frozen:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return EncodedTokens(tokens=hidden, mask=attention_mask.bool())
        hidden = self._frozen_output(input_ids, attention_mask)  # (B, T, hidden), no graph
        key_mask = _additive_key_mask(attention_mask, hidden.dtype)
        for layer in self.bert.encoder.layer[self.n_frozen:]:
            hidden = layer(hidden, key_mask)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden  # transformers 4.x returns a tuple
        return EncodedTokens(tokens=hidden, mask=attention_mask.bool())

    @torch.no_grad()
    def _run_frozen(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert.embeddings(input_ids=input_ids)  # (B, T, hidden)
        key_mask = _additive_key_mask(attention_mask, hidden.dtype)
        for layer in self.bert.encoder.layer[: self.n_frozen]:
            hidden = layer(hidden, key_mask)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return hidden

    def _frozen_output(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            return self._run_frozen(input_ids, attention_mask)
        if self._fingerprint is None:
            self._fingerprint = fingerprint(p for m in self.frozen_modules() for p in m.parameters())
        lengths = attention_mask.sum(dim=1).tolist()
        keys = [row_key(self._fingerprint, ids, n) for ids, n in zip(input_ids, lengths, strict=True)]
        todo = [i for i, key in enumerate(keys) if self.cache.get(key) is None]
        done = set(range(len(keys))) - set(todo)
        out = torch.zeros((*input_ids.shape, self.dim), device=input_ids.device)  # (B, T, hidden); padding stays 0
        if todo:
            width = max(lengths[i] for i in todo)
            fresh = self._run_frozen(input_ids[todo, :width], attention_mask[todo, :width])  # (n_todo, width, hidden)
            corrupt = torch.isin(input_ids[todo], self.no_cache_ids.to(input_ids.device)).any(dim=1).tolist()
            for j, i in enumerate(todo):
                out[i, : lengths[i]] = fresh[j, : lengths[i]]
                if not corrupt[j]:
                    self.cache.put(keys[i], fresh[j, : lengths[i]].clone())
        for i in done:
            out[i, : lengths[i]] = self.cache.get(keys[i]).to(out.device)
        return out


def _additive_key_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) 0/1 -> (B, 1, 1, T) additive mask: what BERT's eager and SDPA attention both accept."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
