"""Seq2Exp: a Beta-distributed mask over positions (generator) and an expression regressor (predictor)
on the masked input (the batch of `models/regressors.py`)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..architectures import Seq2ExpConfig
from .beta_mask import beta_product, force_mask, kl_beta, sequence_beta, signal_beta, straight_through
from .caduceus import Caduceus, zero_linear_biases
from .head import ModelOutput
from .regressors import Regressor


class MotifStem(nn.Module):
    """One-hot DNA (B, L, 4) -> a motif-scanning convolution, ReLU, and a max-pool of stride 1, so
    that a motif anywhere in an element marks every base of it (B, L, width)."""

    def __init__(self, width: int, motif_bp: int, pool_bp: int):
        super().__init__()
        self.conv = nn.Conv1d(4, width, motif_bp, padding="same")
        self.pool_bp = pool_bp | 1

    def forward(self, dna: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(dna.float().transpose(1, 2)))
        return F.max_pool1d(h, self.pool_bp, 1, self.pool_bp // 2).transpose(1, 2)


class Seq2Exp(Regressor):
    """Generator on the DNA embedding -> Beta mask (combined with the signal Beta) -> predictor on
    the masked input (`masked_embedding`) -> head. Soft: rsample in training, mean in evaluation.
    Hard: threshold with a straight-through gradient, optionally shared weights and compaction."""

    def __init__(self, cfg: Seq2ExpConfig):
        if cfg.compact and cfg.mask != "hard":
            raise ValueError("compact needs mask 'hard' (a soft mask selects no positions)")
        super().__init__(cfg)
        self.generator = self.predictor if cfg.share_weights else Caduceus(cfg.backbone)
        self.beta_head = nn.Linear(cfg.backbone.d_model, 2)
        zero_linear_biases(self.beta_head)
        self.motif_stem = (
            MotifStem(cfg.backbone.d_model, cfg.generator_motif_bp, cfg.generator_pool_bp)
            if cfg.generator_motif_bp
            else None
        )

    def generator_logits(self, dna: torch.Tensor, dna_embedding: torch.Tensor) -> torch.Tensor:
        """(B, L, 2): the sequence Beta's parameters before softplus, from DNA alone."""
        if self.motif_stem is not None:
            dna_embedding = dna_embedding + self.motif_stem(dna)
        logits = self.beta_head(self.backbone_states(self.generator, dna_embedding))
        if self.cfg.centre_generator_logits:
            # The KL and the regression's noise each push every position's logits one way; free,
            # the generator follows and saturates softplus (alpha at beta_min, no gradient left).
            logits = logits - logits.mean(1, keepdim=True)
        return logits

    def mask_distribution(self, batch: dict, dna_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        logits = self.generator_logits(batch["dna"], dna_embedding)
        with torch.autocast(logits.device.type, enabled=False):
            alpha_seq, beta_seq = sequence_beta(logits, cfg.beta_min)
            alpha_sig, beta_sig = signal_beta(
                batch["signals"], cfg.signal_b, cfg.signal_weights, cfg.beta_min, cfg.signal_scale
            )
            return beta_product(alpha_seq, beta_seq, alpha_sig, beta_sig, cfg.beta_form)

    def generator_mask(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mask, alpha, beta) from the generator and the signals alone: the mask the predictor sees
        (a Beta sample in training, the Beta mean in evaluation; thresholded for the hard model)."""
        cfg = self.cfg
        alpha, beta = self.mask_distribution(batch, self.dna_embed(batch["dna"].float()))
        if self.training:
            soft = torch.distributions.Beta(alpha, beta).rsample()
        else:
            soft = alpha / (alpha + beta)
        mask = straight_through(soft, cfg.threshold) if cfg.mask == "hard" else soft
        return force_mask(mask, batch.get("blacklist"), cfg.central_region_bp), alpha, beta

    def forward(self, batch: dict) -> ModelOutput:
        cfg = self.cfg
        mask, alpha, beta = self.generator_mask(batch)
        kl = kl_beta(alpha, beta, *cfg.prior).mean(-1).mean()
        x = self.masked_embedding(batch, mask)
        selected = mask.detach() > 0.5 if cfg.compact else None
        prediction = self.predict(x, batch, selected)
        return ModelOutput(prediction, mask=mask, kl=kl, alpha=alpha, beta=beta)
