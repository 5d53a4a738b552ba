"""Masked feature modelling (MFM): TabNet's own self-supervised pretraining objective."""

from __future__ import annotations

import torch
from lanistr_core import PRESENT, Batch, EncodedTokens, MaskingObjective
from pytorch_tabnet.metrics import UnsupervisedLoss
from pytorch_tabnet.tab_network import TabNetDecoder

from lanistr_plugin_tabular.config import TabularConfig
from lanistr_plugin_tabular.encoder import TabularEncoder
from lanistr_plugin_tabular.ghost_bn import safe_batch_norm
from lanistr_plugin_tabular.preprocessor import TabularPreprocessor

# Embedding dims whose variance over the present rows is at most this are not scored (see loss).
MIN_VARIANCE = 1e-6


class MaskedFeatureModelling(MaskingObjective):
    """Obfuscate features, reconstruct them from the decision-step tokens with ``TabNetDecoder``.

    Mirrors ``pytorch_tabnet.tab_network.TabNetPretraining``: each feature of each present row is
    obfuscated with probability ``pretraining_ratio`` (``RandomObfuscator``, drawn here with the
    caller's CPU generator and carried in ``batch["feature_mask"]``); the target is the encoder's
    embedding of the clean input; the loss is ``pytorch_tabnet.metrics.UnsupervisedLoss``
    (squared error on obfuscated embedding dims, each divided by its batch variance), over
    present rows only.

    Args:
        encoder: the tabular encoder whose tokens are decoded (kept as a plain reference, not a
            submodule, so its parameters are not owned twice).
        pretraining_ratio: fraction of features obfuscated per row.
        n_shared_decoder, n_indep_decoder, virtual_batch_size, momentum: ``TabNetDecoder`` settings.
    """

    def __init__(
        self,
        *,
        encoder: TabularEncoder,
        pretraining_ratio: float,
        n_shared_decoder: int,
        n_indep_decoder: int,
        virtual_batch_size: int,
        momentum: float,
    ) -> None:
        super().__init__()
        self.pretraining_ratio = pretraining_ratio
        self.virtual_batch_size = virtual_batch_size
        self._encoder = (encoder,)  # a tuple is not registered as a submodule
        self.decoder = TabNetDecoder(
            encoder.post_embed_dim,
            n_d=encoder.dim,
            n_steps=encoder.n_steps,
            n_independent=n_indep_decoder,
            n_shared=n_shared_decoder,
            virtual_batch_size=virtual_batch_size,
            momentum=momentum,
        )

    @property
    def encoder(self) -> TabularEncoder:
        """The encoder whose embedding gives the reconstruction target."""
        return self._encoder[0]

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Obfuscate ~``pretraining_ratio`` of the features of each present row.

        Returns the batch with ``feature_mask`` set (x untouched: the encoder zeroes the
        obfuscated features after embedding, as TabNetPretraining does) and targets ``x``,
        ``feature_mask`` and ``present``.
        """
        feature_mask, present = batch["feature_mask"], batch[PRESENT]
        probabilities = torch.full(feature_mask.shape, self.pretraining_ratio)  # (B, n_features), CPU
        drawn = torch.bernoulli(probabilities, generator=generator).to(feature_mask.device, feature_mask.dtype)
        drawn = drawn * present.unsqueeze(1).to(drawn.dtype)  # absent rows: nothing to reconstruct
        obfuscated = torch.maximum(feature_mask, drawn)
        masked = {**batch, "feature_mask": obfuscated}
        targets = {"x": batch["x"], "feature_mask": obfuscated, PRESENT: present}
        return masked, targets

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """``UnsupervisedLoss`` over present rows; a graph-keeping zero when it is undefined.

        Batch variances need two present rows. Embedding dims that are constant over the present
        rows (e.g. one category shared by the whole mini-batch) are left out: TabNet divides
        their error by the batch mean instead, which can be tiny or negative and would make the
        loss explode or become unbounded below on small batches.
        """
        zero = encoded.tokens.sum() * 0
        present = targets[PRESENT]
        n_present = int(present.sum())
        if n_present < 2:
            return zero
        steps = encoded.tokens[present]  # (P, n_steps, n_d)
        with safe_batch_norm(self.decoder, n_rows=n_present, virtual_batch_size=self.virtual_batch_size):
            reconstruction = self.decoder(list(steps.unbind(1)))  # n_steps x (P, n_d) -> (P, post_embed_dim)
        embedded = self.encoder.embed(targets["x"][present])  # (P, post_embed_dim)
        obfuscated = self.encoder.obfuscated_variables(targets["feature_mask"][present])  # (P, post_embed_dim)
        # Variances and their reciprocals are too coarse in bf16: score in float32, autocast off.
        with torch.autocast(device_type=reconstruction.device.type, enabled=False):
            reconstruction, embedded = reconstruction.float(), embedded.float()
            scored = embedded.detach().var(dim=0) > MIN_VARIANCE  # (post_embed_dim,)
            if not bool(scored.any()):
                return zero
            return UnsupervisedLoss(reconstruction[:, scored], embedded[:, scored], obfuscated.float()[:, scored])


def build_objective(
    config: TabularConfig, encoder: TabularEncoder, preprocessor: TabularPreprocessor
) -> MaskedFeatureModelling:
    """``ModalitySpec.build_objective``: the TabNet decoder sized from the encoder."""
    return MaskedFeatureModelling(
        encoder=encoder,
        pretraining_ratio=config.pretraining_ratio,
        n_shared_decoder=config.n_shared_decoder,
        n_indep_decoder=config.n_indep_decoder,
        virtual_batch_size=config.virtual_batch_size,
        momentum=config.momentum,
    )
