"""The Beta mask's maths: the sequence and signal Betas, their product, the KL to the prior, the
straight-through threshold, and the masks forced or ranked from scores."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..features.genome import central_slice


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
