"""HyenaDNA (Nguyen et al. 2023): a causal stack of Hyena operators over single bases.

Hyena (Poli et al. 2023), order 2: a linear projection to three streams (x1, x2, v), each passed
through a short causal depthwise convolution; then v <- x1 * (h1 * v), v <- x2 * (h2 * v), where
h1, h2 are implicit causal filters as long as the input, applied with an FFT. A filter is an MLP
with sine activations of each position's embedding (its relative position t in [0, 1) and sin/cos
bands of it), times an exponential decay whose rate differs per channel, plus a skip term. Blocks
are pre-norm: x + Hyena(LN(x)), then x + MLP(LN(x)). Causal like the original (a language model),
so the pooled central states see the central region and everything upstream of it in the window,
as the unidirectional Mamba row does.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ...architectures import HyenaOptions, Seq2ExpConfig
from ..head import ModelOutput, RegressionHead, central_pool
from .base import BaselineRegressor

ORDER = 2  # HyenaDNA's operator order: two gates, two long filters


def fft_causal_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """y[..., t] = sum_{s <= t} h[..., s] u[..., t - s] for u (B, C, L), h (C, L), via zero-padded FFT."""
    length = u.shape[-1]
    n = 2 * length
    y = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(h.float(), n=n), n=n)
    return y[..., :length].to(u.dtype)


class Sine(nn.Module):
    def __init__(self, width: int, freq: float = 1.0):
        super().__init__()
        self.freq = nn.Parameter(torch.full((width,), freq))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.freq * x)


class ImplicitFilter(nn.Module):
    """Per-channel causal filters of any length from an MLP over positional embeddings, with an
    exponential decay window: channel c decays to 1% at a fraction between 0.3 and 1.5 of the input."""

    def __init__(self, channels: int, opts: HyenaOptions):
        super().__init__()
        self.bands = opts.filter_bands
        width = 1 + 2 * opts.filter_bands
        self.mlp = nn.Sequential(
            nn.Linear(width, opts.filter_hidden),
            Sine(opts.filter_hidden),
            nn.Linear(opts.filter_hidden, opts.filter_hidden),
            Sine(opts.filter_hidden),
            nn.Linear(opts.filter_hidden, channels, bias=False),
        )
        target = math.log(1e-2)
        self.register_buffer("decay", torch.linspace(target / 1.5, target / 0.3, channels).abs(), persistent=False)

    def forward(self, length: int, device) -> torch.Tensor:
        t = torch.arange(length, device=device, dtype=torch.float32)[:, None] / length
        freqs = torch.linspace(1e-4, self.bands - 1, self.bands, device=device)
        angle = 2 * math.pi * freqs * t
        embedding = torch.cat([t, torch.cos(angle), torch.sin(angle)], dim=-1)
        h = self.mlp(embedding) * torch.exp(-t * self.decay)
        return h.transpose(0, 1)  # (channels, L)


class HyenaOperator(nn.Module):
    def __init__(self, d_model: int, opts: HyenaOptions):
        super().__init__()
        self.in_proj = nn.Linear(d_model, (ORDER + 1) * d_model)
        self.short_conv = nn.Conv1d(
            (ORDER + 1) * d_model,
            (ORDER + 1) * d_model,
            opts.short_conv,
            groups=(ORDER + 1) * d_model,
            padding=opts.short_conv - 1,
        )
        self.filters = ImplicitFilter(ORDER * d_model, opts)
        self.skip = nn.Parameter(torch.randn(ORDER, d_model, 1))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        streams = self.short_conv(self.in_proj(x).transpose(1, 2))[..., :length]  # causal: drop the tail
        *gates, v = streams.chunk(ORDER + 1, dim=1)
        filters = self.filters(length, x.device).chunk(ORDER, dim=0)
        for i, (gate, h) in enumerate(zip(gates, filters)):
            v = gate * (fft_causal_conv(v, h) + self.skip[i] * v)
        return self.out_proj(v.transpose(1, 2))


class HyenaBlock(nn.Module):
    def __init__(self, d_model: int, opts: HyenaOptions):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.mixer = HyenaOperator(d_model, opts)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class HyenaDNA(BaselineRegressor):
    """One-hot DNA -> linear embedding -> n_layer Hyena blocks -> LayerNorm -> shared head."""

    Options = HyenaOptions

    def __init__(self, cfg: Seq2ExpConfig, options: HyenaOptions):
        super().__init__(cfg, options)
        d = cfg.backbone.d_model
        self.embed_dna = nn.Linear(4, d)
        self.blocks = nn.ModuleList(HyenaBlock(d, options) for _ in range(cfg.backbone.n_layer))
        self.norm = nn.LayerNorm(d)
        self.head = RegressionHead(d, cfg)

    def forward(self, batch: dict) -> ModelOutput:
        x = self.embed_dna(batch["dna"].float())
        for block in self.blocks:
            x = block(x)
        pool = central_pool(x.shape[1], self.cfg.pooled_region_bp, x.device)
        return ModelOutput(self.head(self.norm(x), pool, batch.get("features")))
