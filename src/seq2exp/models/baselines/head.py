"""What the baselines share: their own options next to the shared config, the loss, the pooled region."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..seq2exp import ModelOutput, Seq2ExpConfig, central_slice, regression_loss


class BaselineRegressor(nn.Module):
    """A baseline built from `cfg` (shared options: width, depth, head, regions) and `options`, an
    instance of the subclass's own `Options` dataclass (which `registry.resolve` fills and checks)."""

    def __init__(self, cfg: Seq2ExpConfig, options):
        super().__init__()
        self.cfg, self.options = cfg, options

    def loss(self, output: ModelOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return regression_loss(output, target, self.cfg.kl_weight)


def central_pool(length: int, region_bp: int, device) -> torch.Tensor:
    """(length,) weights of the head's pooling: 1 over the central `region_bp` positions."""
    pool = torch.zeros(length, device=device)
    pool[central_slice(length, region_bp)] = 1.0
    return pool
