"""Seq2Exp: a Beta-distributed mask over positions (generator) and an expression regressor (predictor).

Also the baselines built from the same parts: a backbone on DNA (+ signals) without mask, and a
predictor behind a fixed external mask (MACS3 peaks, or the top-k% of a trained soft mask).

Batch convention (dict of tensors): dna (B, L, 4) one-hot ACGT; signals (B, L, 3) as
(H3K27ac, DNase, Hi-C); features (B, n_features); target (B,); optional blacklist (B, L) bool; mask (B, L)
for the fixed-mask models. The window centre (the TSS) is position L // 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..architectures import PeakMaskOptions, Seq2ExpConfig
from ..features.genome import central_slice
from .caduceus import Caduceus, InputEmbedding, merge_rc_streams, zero_linear_biases


@dataclass
class ModelOutput:
    prediction: torch.Tensor  # (B,)
    mask: torch.Tensor | None = None  # (B, L) mask applied to the predictor's input
    kl: torch.Tensor | None = None  # scalar KL(mask || prior), mean over length then batch
    alpha: torch.Tensor | None = None  # (B, L) parameters of the mask distribution
    beta: torch.Tensor | None = None


# ---------------------------------------------------------------------------------------------
# Beta mask math


def sequence_beta(logits: torch.Tensor, beta_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 2) generator outputs -> alpha, beta = softplus + beta_min (Eq. 8)."""
    params = F.softplus(logits.float()) + beta_min
    return params[..., 0], params[..., 1]


def signal_beta(
    signals: torch.Tensor, b: tuple[float, ...], weights: tuple[float, ...], beta_min: float, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted signal Beta from raw signals (B, L, S): alpha_i = (s_i + beta_min) scale,
    beta_i = (b_i + beta_min) scale, summed with the fixed weights."""
    w = signals.new_tensor(weights)
    alpha = ((signals.float() + beta_min) * scale * w).sum(-1)
    beta = ((signals.new_tensor(b) + beta_min) * scale * w).sum().expand_as(alpha)
    return alpha, beta


def beta_product(alpha_seq, beta_seq, alpha_sig, beta_sig, form: str = "authors"):
    """Parameters of the combined mask distribution.

    "paper": Beta(a_seq + a_sig - 1, b_seq + b_sig - 1), the normalised product of the sequence Beta
    with the weighted geometric mean of the signal Betas (Proposition 2). "authors": the same with +1
    on each parameter, as the authors' code computes it.
    """
    shift = {"authors": 0.0, "paper": 1.0}[form]
    return alpha_seq + alpha_sig - shift, beta_seq + beta_sig - shift


def kl_beta(alpha1, beta1, alpha2, beta2) -> torch.Tensor:
    """KL(Beta(alpha1, beta1) || Beta(alpha2, beta2)) in closed form, elementwise."""
    alpha2, beta2 = (torch.as_tensor(p, dtype=alpha1.dtype, device=alpha1.device) for p in (alpha2, beta2))
    log_norm1 = torch.lgamma(alpha1) + torch.lgamma(beta1) - torch.lgamma(alpha1 + beta1)
    log_norm2 = torch.lgamma(alpha2) + torch.lgamma(beta2) - torch.lgamma(alpha2 + beta2)
    return (
        log_norm2
        - log_norm1
        + (alpha1 - alpha2) * torch.digamma(alpha1)
        + (beta1 - beta2) * torch.digamma(beta1)
        + (alpha2 - alpha1 + beta2 - beta1) * torch.digamma(alpha1 + beta1)
    )


def straight_through(soft: torch.Tensor, threshold: float) -> torch.Tensor:
    """Exactly 0/1 forward (soft >= threshold); the gradient passes to `soft` unchanged."""
    hard = (soft >= threshold).to(soft.dtype)
    return hard + (soft - soft.detach())  # soft - soft.detach() is exactly 0, so the forward stays 0/1


def force_mask(mask: torch.Tensor, blacklist: torch.Tensor | None, central_bp: int) -> torch.Tensor:
    """Blacklisted positions 0, the central region 1 (the central region wins)."""
    if blacklist is not None:
        mask = mask.masked_fill(blacklist.bool(), 0.0)
    keep = torch.zeros(mask.shape[-1], dtype=torch.bool, device=mask.device)
    keep[central_slice(mask.shape[-1], central_bp)] = True
    return mask.masked_fill(keep, 1.0)


def top_fraction_mask(scores: torch.Tensor, fraction: float, blacklist: torch.Tensor | None = None) -> torch.Tensor:
    """Seq2Exp-retrain: per sample, 1.0 at the round(fraction * L) highest-scoring positions, else 0.0."""
    if blacklist is not None:
        scores = scores.masked_fill(blacklist.bool(), float("-inf"))
    k = round(fraction * scores.shape[-1])
    mask = torch.zeros_like(scores, dtype=torch.float32)
    return mask.scatter_(-1, scores.topk(k, dim=-1).indices, 1.0)


# ---------------------------------------------------------------------------------------------
# Modules


class RegressionHead(nn.Module):
    """Mean-pool states over the pooled region, concatenate the extra features, MLP to one value."""

    def __init__(self, width: int, cfg: Seq2ExpConfig):
        super().__init__()
        self.n_features = cfg.n_features if cfg.use_features else 0
        self.mlp = nn.Sequential(
            nn.Linear(width + self.n_features, cfg.mlp_hidden),
            nn.ReLU(),
            nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden),
            nn.ReLU(),
            nn.Linear(cfg.mlp_hidden, 1),
        )

    def forward(self, states: torch.Tensor, pool: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """states (B, L, d); pool (B, L) or (L,) weights of the pooled positions; features (B, F)."""
        pool = pool.to(states.dtype).expand(states.shape[:2])
        pooled = (states * pool[..., None]).sum(1) / pool.sum(1, keepdim=True).clamp(min=1)
        if self.n_features:
            pooled = torch.cat([pooled, features.to(pooled.dtype)], dim=-1)
        return self.mlp(pooled).squeeze(-1)


def regression_loss(output: ModelOutput, target: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, dict]:
    """SmoothL1 + kl_weight * KL; metrics (detached) include the mask ratio where there is a mask."""
    regression = F.smooth_l1_loss(output.prediction.float(), target.float())
    loss = regression
    metrics = {"smooth_l1": regression.detach()}
    if output.kl is not None:
        loss = loss + kl_weight * output.kl
        metrics["kl"] = output.kl.detach()
    if output.mask is not None:
        metrics["mask_ratio"] = output.mask.detach().float().mean()
    metrics["loss"] = loss.detach()
    return loss, metrics


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
        pool = torch.zeros(length, device=x.device)
        pool[central_slice(length, self.cfg.pooled_region_bp)] = 1.0
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
