"""The regressors Seq2Exp is built on and compared with: the shared DNA / signal embeddings, predictor
and head (`Regressor`); the baselines without a mask, behind a fixed external mask (MACS3 peaks,
or the top-k% of a trained soft mask), and on the extra features alone.

Batch convention (dict of tensors): dna (B, L, 4) one-hot ACGT; signals (B, L, 3) as
(H3K27ac, DNase, Hi-C); features (B, n_features); target (B,); optional blacklist (B, L) bool; mask (B, L)
for the fixed-mask models. The window centre (the TSS) is position L // 2.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..architectures import PeakMaskOptions, Seq2ExpConfig
from .beta_mask import force_mask
from .caduceus import Caduceus, InputEmbedding, merge_rc_streams, zero_linear_biases
from .head import ModelOutput, RegressionHead, central_pool, regression_loss


class FeaturesOnly(nn.Module):
    """The floor every sequence model must beat: the head's MLP on the extra features alone."""

    def __init__(self, cfg: Seq2ExpConfig):
        super().__init__()
        self.cfg = cfg
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_features, cfg.mlp_hidden),
            nn.ReLU(),
            nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden),
            nn.ReLU(),
            nn.Linear(cfg.mlp_hidden, 1),
        )

    def forward(self, batch: dict) -> ModelOutput:
        return ModelOutput(self.mlp(batch["features"].float()).squeeze(-1))

    def loss(self, output: ModelOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return regression_loss(output, target, self.cfg.kl_weight)


class Regressor(nn.Module):
    """Shared parts: DNA and signal embeddings, a predictor backbone, the head, and the loss."""

    uses_signals = True

    def __init__(self, cfg: Seq2ExpConfig):
        super().__init__()
        self.cfg = cfg
        bb = cfg.backbone
        self.dna_embed = InputEmbedding(4, bb.d_model, bb.rcps, complement=True)
        if self.uses_signals:
            self.signal_embed = InputEmbedding(cfg.n_signals, bb.d_model, bb.rcps, complement=False)
        self.predictor = Caduceus(bb)
        self.head = RegressionHead(bb.d_model, cfg)
        # The authors' models zero every linear bias (mamba-ssm's initialisation). Ours keep the input
        # embeddings' biases: without them, masking the one-hot inputs would be masking the embeddings.
        zero_linear_biases(self.head)

    def embed(self, batch: dict) -> torch.Tensor:
        x = self.dna_embed(batch["dna"].float())
        if self.uses_signals:
            x = x + self.signal_embed(batch["signals"].float())
        return x

    def masked_embedding(self, batch: dict, mask: torch.Tensor) -> torch.Tensor:
        """The predictor's input under `mask` (B, L). "embeddings" (the authors' code) scales the
        embedded input, which the first block's RMSNorm undoes wherever the mask is not ~0, so a soft
        mask reaches a one-block predictor only at the pooled centre. "inputs" (the paper's M ⊙ X)
        embeds the masked one-hot DNA and signals: a masked-out base embeds to the bias, and the
        mask's value survives the norm."""
        m = mask[..., None].float()
        if self.cfg.mask_applies_to == "embeddings":
            return self.embed(batch) * m
        return self.embed(dict(batch, dna=batch["dna"].float() * m, signals=batch["signals"].float() * m))

    block_size: int | None = None  # set for streamed inference: each scan runs in blocks of this length

    def backbone_states(self, backbone: Caduceus, x: torch.Tensor) -> torch.Tensor:
        states = backbone(x, block_size=self.block_size)
        return merge_rc_streams(states) if backbone.cfg.rcps else states

    def predict(self, x: torch.Tensor, batch: dict, selected: torch.Tensor | None = None) -> torch.Tensor:
        """Predictor + head on embedded input (B, L, w); `selected` (B, L) bool compacts each sample to
        its selected positions first (then one sample at a time: lengths differ)."""
        length = x.shape[1]
        pool = central_pool(length, self.cfg.pooled_region_bp, x.device)
        features = batch.get("features")
        if selected is None:
            return self.head(self.backbone_states(self.predictor, x), pool, features)
        preds = []
        for b in range(x.shape[0]):
            idx = selected[b].nonzero().squeeze(-1)
            states = self.backbone_states(self.predictor, x[b : b + 1, idx])
            feats = None if features is None else features[b : b + 1]
            preds.append(self.head(states, pool[idx][None], feats))
        return torch.cat(preds)

    def loss(self, output: ModelOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return regression_loss(output, target, self.cfg.kl_weight)


class SequenceRegressor(Regressor):
    """Baselines without a mask: Caduceus (or Mamba) on DNA alone, or with the signals embedded and added."""

    def __init__(self, cfg: Seq2ExpConfig, use_signals: bool):
        self.uses_signals = use_signals
        super().__init__(cfg)

    def forward(self, batch: dict) -> ModelOutput:
        return ModelOutput(self.predict(self.embed(batch), batch))


class FixedMaskRegressor(Regressor):
    """Predictor behind an external mask batch["mask"] (B, L): Seq2Exp-retrain's top-k%, its central
    region always selected."""

    def forced_central_bp(self) -> int:
        return self.cfg.central_region_bp

    def forward(self, batch: dict) -> ModelOutput:
        mask = force_mask(batch["mask"].float(), batch.get("blacklist"), self.forced_central_bp())
        x = self.masked_embedding(batch, mask)
        selected = mask > 0.5 if self.cfg.compact else None
        return ModelOutput(self.predict(x, batch, selected), mask=mask)


class PeakMaskRegressor(FixedMaskRegressor):
    """The MACS3 baseline: the predictor behind the raw peak mask, as the authors' `use_peak_mask`,
    or with the central region selected too (`force_central`)."""

    Options = PeakMaskOptions

    def __init__(self, cfg: Seq2ExpConfig, options: PeakMaskOptions | None = None):
        super().__init__(cfg)
        self.options = options or PeakMaskOptions()

    def forced_central_bp(self) -> int:
        return self.cfg.central_region_bp if self.options.force_central else 0
