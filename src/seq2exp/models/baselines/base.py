"""What the baselines share: their own options next to the shared config, and the loss."""

from __future__ import annotations

import torch
import torch.nn as nn

from ...architectures import Seq2ExpConfig
from ..head import ModelOutput, regression_loss


class BaselineRegressor(nn.Module):
    """A baseline built from `cfg` (shared options: width, depth, head, regions) and `options`, an
    instance of the subclass's own `Options` dataclass (which `registry.resolve` fills and checks)."""

    def __init__(self, cfg: Seq2ExpConfig, options):
        super().__init__()
        self.cfg, self.options = cfg, options

    def loss(self, output: ModelOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return regression_loss(output, target, self.cfg.kl_weight)
