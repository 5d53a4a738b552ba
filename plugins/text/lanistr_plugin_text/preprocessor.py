"""Text columns -> padded WordPiece ids: ``input_ids``, ``attention_mask``, ``present``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from tokenizers import Tokenizer

from lanistr_core import Batch, PRESENT, Preprocessor, is_null
from lanistr_plugin_text.config import TextConfig
from lanistr_plugin_text.pretrained import resolve_pretrained
from lanistr_plugin_text.tokenizer import (
    DEFAULT_SPECIAL_TOKENS,
    SpecialTokens,
    add_bert_template,
    load_pretrained_tokenizer,
    special_token_ids,
    token_id,
    train_wordpiece,
)


class TextPreprocessor(Preprocessor):
    """Tokenizes one or more text columns into one ``[CLS] a [SEP] b [SEP]`` sequence per row.

    The non-empty cells of a row are joined with ``" [SEP] "``. A row whose cells are all
    null or blank (empty text = missing modality) is absent: ``present`` is False and it holds
    the placeholder ``[CLS] [SEP]``. Sequences are padded to the longest row of the batch and
    truncated at ``config.max_length``.

    Fitted state: ``tokenizer_`` (trained WordPiece, or the one in ``config.pretrained_path``)
    and ``special_tokens_`` (role -> token string).
    """

    def __init__(self, *, config: TextConfig, columns: Sequence[str]) -> None:
        if not columns:
            raise ValueError("the text modality needs at least one column")
        self.config = config
        self.columns = list(columns)

    # -- fitting -------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> TextPreprocessor:
        """Train the WordPiece vocabulary on the non-empty cells of ``frame`` (or load the
        pretrained tokenizer); return self."""
        rows = self._row_cells(frame)
        if self.config.pretrained_path is not None:
            path = resolve_pretrained(self.config.pretrained_path, verify=self.config.verify_weights)
            tokenizer, special = load_pretrained_tokenizer(path)
        else:
            cells = [cell for row in rows for cell in row]
            if not cells:
                raise ValueError(f"text columns {self.columns}: no non-empty text to train a vocabulary on")
            tokenizer = train_wordpiece(
                cells,
                vocab_size=self.config.vocab_size,
                min_frequency=self.config.min_frequency,
                lowercase=self.config.lowercase,
            )
            special = dict(DEFAULT_SPECIAL_TOKENS)
        self._set_tokenizer(tokenizer, special)
        return self

    def _set_tokenizer(self, tokenizer: Tokenizer, special: SpecialTokens) -> None:
        add_bert_template(tokenizer, special)
        # Pad to the longest row of each batch (length=None), cut at max_length with [SEP] kept.
        tokenizer.enable_padding(pad_id=token_id(tokenizer, special["pad"]), pad_token=special["pad"])
        tokenizer.enable_truncation(max_length=self.config.max_length)
        self.tokenizer_ = tokenizer
        self.special_tokens_ = dict(special)
        self.fitted_ = True

    # -- what the encoder and the objective need -----------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of token ids the tokenizer can emit (special and added tokens included)."""
        return self._fitted_tokenizer().get_vocab_size(with_added_tokens=True)

    def token_id(self, role: str) -> int:
        """Id of the special token of ``role`` (``pad``, ``unk``, ``cls``, ``sep``, ``mask``)."""
        return token_id(self._fitted_tokenizer(), self.special_tokens_[role])

    @property
    def special_ids(self) -> list[int]:
        """Sorted ids that masked language modelling must never choose nor sample."""
        return special_token_ids(self._fitted_tokenizer(), self.special_tokens_)

    def _fitted_tokenizer(self) -> Tokenizer:
        if not self.is_fitted:
            raise RuntimeError("TextPreprocessor is not fitted: call fit() or load_state_dict() first")
        return self.tokenizer_

    # -- transform -------------------------------------------------------------------

    def transform(self, frame: pd.DataFrame) -> Batch:
        """Tokenize the rows of ``frame``: ``input_ids`` and ``attention_mask`` (B, T) long,
        ``present`` (B,) bool."""
        tokenizer = self._fitted_tokenizer()
        rows = self._row_cells(frame)
        separator = f" {self.special_tokens_['sep']} "
        # Absent rows encode "" -> [CLS] [SEP]: a real token for the encoder, nothing to mask.
        encodings = tokenizer.encode_batch([separator.join(cells) for cells in rows])
        if not encodings:
            empty = torch.zeros((0, 0), dtype=torch.long)
            return {"input_ids": empty, "attention_mask": empty.clone(), PRESENT: torch.zeros(0, dtype=torch.bool)}
        return {
            "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),  # (B, T)
            "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long),  # (B, T)
            PRESENT: torch.tensor([bool(cells) for cells in rows], dtype=torch.bool),  # (B,)
        }

    def _row_cells(self, frame: pd.DataFrame) -> list[list[str]]:
        """The non-blank text cells of every row, in column order; validates types."""
        missing = [column for column in self.columns if column not in frame.columns]
        if missing:
            raise ValueError(f"text columns {missing} are not in the frame; it has {list(frame.columns)}")
        rows: list[list[str]] = [[] for _ in range(len(frame))]
        for column in self.columns:
            for position, (label, value) in enumerate(zip(frame.index, frame[column].tolist(), strict=True)):
                if is_null(value):
                    continue
                if not isinstance(value, str):
                    raise ValueError(
                        f"column {column!r}, row {label!r}: expected a string (or null), got {type(value).__name__}"
                    )
                if value.strip():
                    rows[position].append(value.strip())
        return rows

    # -- persistence -----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The tokenizer as ``tokenizers`` JSON (no pickle), its special tokens and the columns."""
        # Saved without padding/truncation: those come from the config when the state is loaded.
        clean = Tokenizer.from_str(self._fitted_tokenizer().to_str())
        clean.no_padding()
        clean.no_truncation()
        return {
            "tokenizer": clean.to_str(),
            "special_tokens": dict(self.special_tokens_),
            "columns": list(self.columns),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the tokenizer saved by :meth:`state_dict`; columns must match."""
        if list(state["columns"]) != self.columns:
            raise ValueError(
                f"saved text columns {list(state['columns'])} differ from this preprocessor's {self.columns}"
            )
        self._set_tokenizer(Tokenizer.from_str(state["tokenizer"]), dict(state["special_tokens"]))
