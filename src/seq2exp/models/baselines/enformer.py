"""Enformer (Avsec et al. 2021): convolutions with attention pooling down to bins, then a transformer
with relative positional encodings over the bins.

Stem: a width-15 convolution to d_model / 2 channels, a residual 1x1 conv block, attention pooling
by 2. Conv tower: log2(bin_size) - 1 blocks (width-5 conv block, residual 1x1 conv block, attention
pooling by 2), channels growing geometrically from d_model / 2 to d_model. Conv blocks are
BatchNorm -> GELU -> Conv. Transformer: n_layer pre-norm blocks of multi-head attention whose
logits add a learned function of the relative distance between bins (Transformer-XL form, with
Enformer's exponential and central-mask basis functions, symmetric and signed; its gamma basis is
left out) and a ReLU MLP. Final pointwise layer to 2 x d_model with GELU; the shared head pools the
bins overlapping the central pooled region.

Input: the central `input_length` bp of the window (the original: 196,608 bp in 128 bp bins);
null takes the largest multiple of `bin_size` that fits the window.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ...architectures import EnformerOptions, Seq2ExpConfig
from ...features.genome import central_slice
from ..head import ModelOutput, RegressionHead
from .base import BaselineRegressor


def conv_block(c_in: int, c_out: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(c_in), nn.GELU(), nn.Conv1d(c_in, c_out, width, padding=width // 2))


class Residual(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class AttentionPool(nn.Module):
    """Pool pairs of positions with softmax weights from a per-channel linear score (initialised to
    2 x identity, close to max pooling, as Enformer)."""

    def __init__(self, channels: int, size: int = 2):
        super().__init__()
        self.size = size
        self.score = nn.Conv1d(channels, channels, 1, bias=False)
        nn.init.eye_(self.score.weight[..., 0])
        self.score.weight.data.mul_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, length = x.shape
        x = x.view(b, c, length // self.size, self.size)
        weights = self.score(x.flatten(2)).view_as(x).softmax(-1)
        return (x * weights).sum(-1)


def relative_basis(length: int, n_features: int, device) -> torch.Tensor:
    """(2 length - 1, n_features) features of the distances -(length-1)..(length-1): exponential decays
    (half-lives log-spaced from 3 to length) and central masks (widths 2, 4, ...), each once
    symmetric and once multiplied by the distance's sign."""
    n_each = n_features // 4
    distance = torch.arange(-length + 1, length, device=device, dtype=torch.float32)[:, None]
    half_life = torch.logspace(math.log10(3), math.log10(max(length, 4)), n_each, device=device)
    exponential = torch.exp(-math.log(2.0) * distance.abs() / half_life)
    widths = 2.0 ** torch.arange(1, n_each + 1, device=device)
    central = (widths > distance.abs()).float()
    symmetric = torch.cat([exponential, central], dim=-1)
    return torch.cat([symmetric, torch.sign(distance) * symmetric], dim=-1)


RELATIVE_FEATURES = 32  # 8 exponentials and 8 central masks, each symmetric and signed


class RelativeAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} must be a multiple of n_heads {n_heads}")
        self.heads, self.key = n_heads, d_model // n_heads
        self.n_basis = RELATIVE_FEATURES
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.rel_key = nn.Linear(self.n_basis, d_model, bias=False)
        self.content_bias = nn.Parameter(torch.zeros(n_heads, 1, self.key))
        self.position_bias = nn.Parameter(torch.zeros(n_heads, 1, self.key))
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = (t.view(b, length, self.heads, self.key).transpose(1, 2) for t in self.qkv(x).chunk(3, -1))
        q = q * self.key**-0.5
        rel = self.rel_key(relative_basis(length, self.n_basis, x.device).to(x.dtype))  # (2L-1, d)
        rel = rel.view(2 * length - 1, self.heads, self.key).transpose(0, 1)  # (H, 2L-1, k)
        content = (q + self.content_bias) @ k.transpose(-1, -2)
        position = (q + self.position_bias) @ rel.transpose(-1, -2)  # (B, H, L, 2L-1)
        # logits[i, j] take the distance j - i, at index j - i + L - 1 of the basis
        index = (
            torch.arange(length, device=x.device)[None, :] - torch.arange(length, device=x.device)[:, None] + length - 1
        )
        position = position.gather(-1, index.expand(b, self.heads, length, length))
        attention = (content + position).softmax(-1)
        return self.out((attention @ v).transpose(1, 2).reshape(b, length, d))


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = RelativeAttention(d_model, n_heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.ReLU(), nn.Linear(2 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Enformer(BaselineRegressor):
    Options = EnformerOptions

    def __init__(self, cfg: Seq2ExpConfig, options: EnformerOptions):
        super().__init__(cfg, options)
        d = cfg.backbone.d_model
        n_tower = int(math.log2(options.bin_size)) - 1
        self.stem = nn.Sequential(
            nn.Conv1d(4, d // 2, 15, padding=7), Residual(conv_block(d // 2, d // 2, 1)), AttentionPool(d // 2)
        )
        channels = [round(d / 2 * 2 ** (i / max(n_tower, 1))) for i in range(n_tower + 1)]
        self.tower = nn.Sequential(
            *(
                nn.Sequential(conv_block(c_in, c_out, 5), Residual(conv_block(c_out, c_out, 1)), AttentionPool(c_out))
                for c_in, c_out in zip(channels[:-1], channels[1:])
            )
        )
        self.to_model = nn.Conv1d(channels[-1], d, 1) if channels[-1] != d else nn.Identity()
        self.transformer = nn.Sequential(*(TransformerBlock(d, options.n_heads) for _ in range(cfg.backbone.n_layer)))
        self.final = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU())
        self.head = RegressionHead(2 * d, cfg)

    def input_slice(self, length: int) -> slice:
        wanted = self.options.input_length or length - length % self.options.bin_size
        if wanted > length or wanted < self.options.bin_size:
            raise ValueError(
                f"enformer: input_length {wanted} bp does not fit a {length} bp window "
                f"(bin_size {self.options.bin_size})"
            )
        start = (length - wanted) // 2
        return slice(start, start + wanted)

    def bin_pool(self, window: int, crop: slice) -> torch.Tensor:
        """1 for the bins that overlap the central pooled region of the window."""
        region = central_slice(window, self.cfg.pooled_region_bp)
        bins = torch.arange(crop.start, crop.stop, self.options.bin_size)
        return ((bins < region.stop) & (bins + self.options.bin_size > region.start)).float()

    def forward(self, batch: dict) -> ModelOutput:
        dna = batch["dna"].float()
        crop = self.input_slice(dna.shape[1])
        x = self.tower(self.stem(dna[:, crop].transpose(1, 2)))
        x = self.transformer(self.to_model(x).transpose(1, 2))
        pool = self.bin_pool(dna.shape[1], crop).to(x.device)
        return ModelOutput(self.head(self.final(x), pool, batch.get("features")))
