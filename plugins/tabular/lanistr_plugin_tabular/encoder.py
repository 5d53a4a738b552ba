"""TabNet encoder (pytorch-tabnet) emitting one token per decision step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from lanistr_core import Batch, EncodedTokens, Encoder, PRESENT, load_tensors
from pytorch_tabnet.tab_network import EmbeddingGenerator, TabNetEncoder

from lanistr_plugin_tabular.config import TabularConfig
from lanistr_plugin_tabular.ghost_bn import safe_batch_norm
from lanistr_plugin_tabular.preprocessor import TabularPreprocessor


class TabularEncoder(Encoder):
    """pytorch-tabnet's ``EmbeddingGenerator`` + ``TabNetEncoder``; tokens are the decision steps.

    ``forward`` reads ``batch["x"]`` (B, n_features), ``batch["feature_mask"]`` (B, n_features),
    1 = obfuscated feature, and ``batch["present"]``; it returns ``n_steps`` tokens of width
    ``n_d`` per row, all real. Obfuscation follows ``TabNetPretraining.forward``: obfuscated
    features are zeroed after embedding and the attention prior starts at ``1 - feature_mask``.

    Only present rows go through the network (absent rows get zero tokens), so placeholder rows
    never enter the batch-norm statistics.

    Args:
        n_features: width of ``batch["x"]``.
        cat_idxs: positions of the categorical features in ``x``.
        cat_dims: number of embedding rows of each categorical feature.
        cat_emb_dim: embedding width of every categorical feature.
        n_d, n_a, n_steps, gamma, n_independent, n_shared, epsilon, virtual_batch_size, momentum,
        mask_type: ``TabNetEncoder`` hyper-parameters (see :class:`TabularConfig`).
    """

    def __init__(
        self,
        *,
        n_features: int,
        cat_idxs: Sequence[int],
        cat_dims: Sequence[int],
        cat_emb_dim: int,
        n_d: int,
        n_a: int,
        n_steps: int,
        gamma: float,
        n_independent: int,
        n_shared: int,
        epsilon: float,
        virtual_batch_size: int,
        momentum: float,
        mask_type: str,
    ) -> None:
        super().__init__()
        self.dim = n_d
        self.n_steps = n_steps
        self.n_features = n_features
        self.virtual_batch_size = virtual_batch_size
        # One attention group per input feature, so that the several embedding dims of a
        # categorical column are attended and obfuscated together (as in TabNetPretraining).
        groups = torch.eye(n_features)  # (n_features, n_features)
        self.embedder = EmbeddingGenerator(
            n_features, list(cat_dims), list(cat_idxs), [cat_emb_dim] * len(cat_idxs), groups
        )
        self.post_embed_dim: int = self.embedder.post_embed_dim
        group_matrix = self.embedder.embedding_group_matrix.clone()  # (n_features, post_embed_dim)
        self.tabnet = TabNetEncoder(
            input_dim=self.post_embed_dim,
            output_dim=self.post_embed_dim,  # unused by TabNetEncoder; required by its signature
            n_d=n_d,
            n_a=n_a,
            n_steps=n_steps,
            gamma=gamma,
            n_independent=n_independent,
            n_shared=n_shared,
            epsilon=epsilon,
            virtual_batch_size=virtual_batch_size,
            momentum=momentum,
            mask_type=mask_type,
            group_attention_matrix=group_matrix,
        )
        # pytorch-tabnet keeps the group matrix as a plain attribute, which .to(device) would not
        # move; a (non-persistent: derived from the preprocessor) buffer follows the module.
        del self.tabnet.group_attention_matrix
        self.tabnet.register_buffer("group_attention_matrix", group_matrix, persistent=False)
        # RandomObfuscator's boolean group matrix: obfuscating a feature hides all its embedding dims.
        self.register_buffer("obfuscation_matrix", (group_matrix > 0).float(), persistent=False)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_features) raw features -> (B, post_embed_dim) embedded features (the MFM target)."""
        return self.embedder(x)

    def obfuscated_variables(self, feature_mask: torch.Tensor) -> torch.Tensor:
        """(B, n_features) obfuscated features -> (B, post_embed_dim) obfuscated embedding dims."""
        return feature_mask.to(self.obfuscation_matrix.dtype) @ self.obfuscation_matrix

    def forward(self, batch: Batch) -> EncodedTokens:
        """Encode a batch into (B, n_steps, n_d) tokens with an all-True (B, n_steps) mask."""
        x, feature_mask, present = batch["x"], batch["feature_mask"], batch[PRESENT]
        n_rows = x.shape[0]
        if n_rows == 0 or bool(present.all()):
            tokens = self._encode(x, feature_mask, freeze=False)
        elif bool(present.any()):
            rows = present.nonzero(as_tuple=True)[0]  # (P,)
            steps = self._encode(x[rows], feature_mask[rows], freeze=False)  # (P, n_steps, n_d)
            tokens = steps.new_zeros((n_rows, self.n_steps, self.dim)).index_copy(0, rows, steps)
        else:
            # Nothing present: run the placeholders anyway (keeps a graph for callers that
            # backpropagate a zero loss) but on running statistics, leaving them untouched.
            tokens = self._encode(x, feature_mask, freeze=True)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)  # (B, n_steps)
        return EncodedTokens(tokens=tokens, mask=mask)

    def _encode(self, x: torch.Tensor, feature_mask: torch.Tensor, *, freeze: bool) -> torch.Tensor:
        if x.shape[0] == 0:
            # No rows at all: an empty result that still belongs to the graph, so that a zero loss
            # computed from it can be backpropagated like any other.
            return x.new_zeros((0, self.n_steps, self.dim)) + 0 * self.tabnet.initial_bn.weight.sum()
        feature_mask = feature_mask.to(x.dtype)
        embedded = self.embed(x)  # (R, post_embed_dim)
        hidden = self.obfuscated_variables(feature_mask)  # (R, post_embed_dim), 1 = obfuscated
        with safe_batch_norm(self, n_rows=x.shape[0], virtual_batch_size=self.virtual_batch_size, freeze=freeze):
            # As TabNetPretraining: zero the obfuscated inputs and start the attention prior at
            # 0 for them, so the first step cannot attend to what it must reconstruct.
            steps, _sparsity = self.tabnet(embedded * (1 - hidden), prior=1 - feature_mask)
        return torch.stack(steps, dim=1)  # n_steps x (R, n_d) -> (R, n_steps, n_d)


def load_pretrained(encoder: TabularEncoder, path: str) -> None:
    """Load a local ``.safetensors`` file holding ``encoder.state_dict()`` (strict, no pickle)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"tabular pretrained_path {path!r} is not a file")
    try:
        encoder.load_state_dict(load_tensors(path), strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"tabular pretrained_path {path!r} does not match this encoder (same columns and preset?): {err}"
        ) from err


def build_encoder(config: TabularConfig, preprocessor: TabularPreprocessor) -> TabularEncoder:
    """``ModalitySpec.build_encoder``: size the TabNet from the fitted preprocessor's feature layout."""
    encoder = TabularEncoder(
        n_features=preprocessor.n_features,
        cat_idxs=preprocessor.cat_idxs,
        cat_dims=preprocessor.cat_dims,
        cat_emb_dim=config.cat_emb_dim,
        n_d=config.n_d,
        n_a=config.n_a,
        n_steps=config.n_steps,
        gamma=config.gamma,
        n_independent=config.n_independent,
        n_shared=config.n_shared,
        epsilon=config.epsilon,
        virtual_batch_size=config.virtual_batch_size,
        momentum=config.momentum,
        mask_type=config.mask_type,
    )
    if config.pretrained_path is not None:
        load_pretrained(encoder, config.pretrained_path)
    return encoder
