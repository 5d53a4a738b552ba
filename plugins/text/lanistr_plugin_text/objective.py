"""Masked language modelling (BERT's 15% / 80-10-10 recipe), scored on chosen tokens only."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from transformers.models.bert.modeling_bert import BertOnlyMLMHead

from lanistr_core import PRESENT, Batch, EncodedTokens, MaskingObjective
from lanistr_plugin_text.encoder import TextEncoder

IGNORE_INDEX = -100  # the label of a position that is not scored (PyTorch / HF convention)


class MaskedLanguageModeling(MaskingObjective):
    """Chooses ``mlm_probability`` of the real, non-special tokens of present rows (at least one
    per row when it has any); replaces 80% of them by ``[MASK]``, 10% by a random non-special
    token and keeps 10%; predicts the original ids of the chosen tokens.

    Unlike the official LANISTR code, which scored every position (padding included), the
    cross-entropy covers only the chosen positions of present rows.

    The head is BERT's own MLM head whose decoder weight IS the encoder's word-embedding
    parameter (weight tying, as in BERT pretraining).
    """

    def __init__(
        self,
        *,
        encoder: TextEncoder,
        mask_id: int,
        special_ids: Sequence[int],
        vocab_size: int,
        mlm_probability: float = 0.15,
    ) -> None:
        super().__init__()
        self.mlm_probability = mlm_probability
        self.mask_id = mask_id
        self.head = BertOnlyMLMHead(encoder.bert.config)
        self.head.predictions.decoder.weight = encoder.word_embeddings.weight
        # BERT ties the decoder's bias to the head's own bias parameter; without this the
        # latter would never receive a gradient.
        self.head.predictions.decoder.bias = self.head.predictions.bias
        # Plain CPU tensors, not buffers: they are derived from the fitted tokenizer, not learned,
        # and masking draws on CPU anyway.
        self.special_ids = torch.tensor(sorted(set(special_ids)), dtype=torch.long)
        self.replacement_ids = torch.tensor(
            [i for i in range(vocab_size) if i not in set(special_ids)], dtype=torch.long
        )
        if not len(self.replacement_ids):
            raise ValueError(f"the vocabulary of {vocab_size} ids holds only special tokens: nothing to predict")

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Return the batch with chosen tokens corrupted, and targets ``labels`` (B, T) holding
        the original id at chosen positions and -100 elsewhere, plus ``present``."""
        input_ids, present = batch["input_ids"], batch[PRESENT]
        device = input_ids.device
        eligible = self._eligible(batch)  # (B, T) bool
        # Random numbers are drawn on CPU with the caller's generator (reproducible across devices).
        choose_draw, action_draw = torch.rand((2, *input_ids.shape), generator=generator).to(device)  # 2 x (B, T)
        replacement = self.replacement_ids[
            torch.randint(len(self.replacement_ids), input_ids.shape, generator=generator)
        ].to(device)  # (B, T)

        chosen = eligible & (choose_draw < self.mlm_probability)
        # A row with eligible tokens but none chosen gets its eligible token with the lowest draw.
        forced = torch.where(eligible, choose_draw, 2.0).argmin(dim=1)  # (B,)
        needs_one = eligible.any(dim=1) & ~chosen.any(dim=1)  # (B,)
        chosen[needs_one, forced[needs_one]] = True

        masked_ids = torch.where(chosen & (action_draw < 0.8), self.mask_id, input_ids)
        masked_ids = torch.where(chosen & (action_draw >= 0.8) & (action_draw < 0.9), replacement, masked_ids)
        labels = torch.where(chosen, input_ids, IGNORE_INDEX)
        masked_batch = {**batch, "input_ids": masked_ids}
        return masked_batch, {"labels": labels, PRESENT: present}

    def _eligible(self, batch: Batch) -> torch.Tensor:
        """(B, T) bool: real, non-special tokens of present rows."""
        input_ids = batch["input_ids"]
        special = torch.isin(input_ids, self.special_ids.to(input_ids.device))
        return batch["attention_mask"].bool() & ~special & batch[PRESENT].unsqueeze(1)

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """Mean cross-entropy of the head's predictions at the chosen positions of present rows."""
        labels = targets["labels"].to(encoded.tokens.device)
        present = targets[PRESENT].to(encoded.tokens.device)
        scored = (labels != IGNORE_INDEX) & present.unsqueeze(1)  # (B, T)
        if not bool(scored.any()):
            return encoded.tokens.sum() * 0
        # Only the scored tokens go through the (vocabulary-wide) head: (N, hidden) -> (N, V).
        logits = self.head(encoded.tokens[scored])
        return F.cross_entropy(logits, labels[scored])
