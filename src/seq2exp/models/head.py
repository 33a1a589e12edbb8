"""What every regressor ends in: its output, the head that pools the central region's states (and
adds the extra features), and the loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..architectures import Seq2ExpConfig
from ..features.genome import central_slice


@dataclass
class ModelOutput:
    prediction: torch.Tensor  # (B,)
    mask: torch.Tensor | None = None  # (B, L) mask applied to the predictor's input
    kl: torch.Tensor | None = None  # scalar KL(mask || prior), mean over length then batch
    alpha: torch.Tensor | None = None  # (B, L) parameters of the mask distribution
    beta: torch.Tensor | None = None


def central_pool(length: int, region_bp: int, device) -> torch.Tensor:
    """(length,) weights of the head's pooling: 1 over the central `region_bp` positions."""
    pool = torch.zeros(length, device=device)
    pool[central_slice(length, region_bp)] = 1.0
    return pool


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
