"""EPInformer (Lin et al. 2024): the promoter attends to candidate enhancers, each encoded from its
sequence and its activity and contact.

Candidate enhancers are the peak intervals of the window (batch["peaks"], the MACS3 DNase peak
mask), except those overlapping the promoter crop; up to `max_enhancers` per gene (60, as
EPInformer), the strongest first by mean DNase over the interval (ties: nearest the TSS). Each
element (the promoter and every enhancer) is a token: a convolutional encoder over the one-hot
`element_length` bp centred on it, plus a linear embedding of its mean DNase and H3K27ac
(log1p), mean Hi-C contact with the TSS and signed distance to the TSS (fraction of the half
window); the promoter token adds a learned type embedding. n_layer transformer encoder layers run
over [promoter, enhancers] without any positional encoding of the slots, so the prediction does
not depend on the enhancers' order; padding slots are masked. The promoter's output token goes
through the shared head with the nine features.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...architectures import EPInformerOptions, Seq2ExpConfig
from ...features.genome import central_slice
from ..head import ModelOutput, RegressionHead
from .base import BaselineRegressor

H3K27AC, DNASE, HIC = 0, 1, 2  # channels of batch["signals"] (the order of Seq2ExpConfig.signal_b)
N_ELEMENT_FEATURES = 4  # DNase, H3K27ac, Hi-C contact, distance


def peak_intervals(peaks: torch.Tensor) -> torch.Tensor:
    """(n, 2) [start, end) of the runs of True in a (L,) bool mask."""
    edges = torch.diff(F.pad(peaks.to(torch.int8), (1, 1)))
    return torch.stack([(edges == 1).nonzero().squeeze(-1), (edges == -1).nonzero().squeeze(-1)], dim=-1)


def select_enhancers(peaks: torch.Tensor, dnase: torch.Tensor, promoter: slice, max_enhancers: int) -> torch.Tensor:
    """Candidate enhancers of one window: its peak intervals (peaks (L,) bool) not overlapping
    `promoter`, the `max_enhancers` with the highest mean DNase (ties: nearest the centre), in that order."""
    intervals = peak_intervals(peaks)
    starts, ends = intervals[:, 0], intervals[:, 1]
    keep = (ends <= promoter.start) | (starts >= promoter.stop)
    intervals, starts, ends = intervals[keep], starts[keep], ends[keep]
    cumulative = F.pad(dnase.float().cumsum(0), (1, 0))
    strength = (cumulative[ends] - cumulative[starts]) / (ends - starts)
    distance = ((starts + ends) // 2 - len(peaks) // 2).abs()
    order = distance.argsort(stable=True)
    order = order[strength[order].argsort(descending=True, stable=True)]
    return intervals[order[:max_enhancers]]


class SequenceEncoder(nn.Module):
    """One-hot (N, E, 4) -> (N, d): two width-9 convolutions (the second residual), max over positions."""

    def __init__(self, d_model: int):
        super().__init__()
        self.conv1 = nn.Conv1d(4, d_model, 9, padding=4)
        self.conv2 = nn.Conv1d(d_model, d_model, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.conv1(x.transpose(1, 2)))
        h = h + F.gelu(self.conv2(h))
        return h.amax(-1)


class EPInformer(BaselineRegressor):
    Options = EPInformerOptions

    def __init__(self, cfg: Seq2ExpConfig, options: EPInformerOptions):
        super().__init__(cfg, options)
        d = cfg.backbone.d_model
        self.encoder = SequenceEncoder(d)
        self.element_features = nn.Linear(N_ELEMENT_FEATURES, d)
        self.promoter_type = nn.Parameter(torch.zeros(d))
        layer = nn.TransformerEncoderLayer(
            d, options.n_heads, dim_feedforward=2 * d, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, cfg.backbone.n_layer, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = RegressionHead(d, cfg)

    def enhancers(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 2) intervals of each window's selected enhancers, padded with [0, 0); (B, N) valid."""
        peaks, dnase = batch["peaks"].bool(), batch["signals"][..., DNASE]
        promoter = central_slice(peaks.shape[1], self.options.element_length)
        chosen = [select_enhancers(p, s, promoter, self.options.max_enhancers) for p, s in zip(peaks, dnase)]
        n = max(len(c) for c in chosen)
        intervals = torch.zeros(len(chosen), n, 2, dtype=torch.long, device=peaks.device)
        valid = torch.zeros(len(chosen), n, dtype=torch.bool, device=peaks.device)
        for b, c in enumerate(chosen):
            intervals[b, : len(c)], valid[b, : len(c)] = c, True
        return intervals, valid

    def element_tokens(self, dna: torch.Tensor, signals: torch.Tensor, intervals: torch.Tensor) -> torch.Tensor:
        """(B, N, d) tokens of the elements at `intervals` (B, N, 2): sequence encoding + signal features."""
        b, length, _ = dna.shape
        starts, ends = intervals[..., 0], intervals[..., 1]
        centres = (starts + ends) // 2
        positions = (
            centres[..., None]
            - self.options.element_length // 2
            + torch.arange(self.options.element_length, device=dna.device)
        )
        inside = (positions >= 0) & (positions < length)
        rows = torch.arange(b, device=dna.device)[:, None, None]
        crops = dna[rows, positions.clamp(0, length - 1)] * inside[..., None]  # (B, N, E, 4)
        encoded = self.encoder(crops.flatten(0, 1)).view(b, intervals.shape[1], self.promoter_type.shape[0])
        cumulative = F.pad(signals.float().cumsum(1), (0, 0, 1, 0))  # (B, L + 1, 3)
        total = cumulative.gather(1, ends[..., None].expand(-1, -1, 3)) - cumulative.gather(
            1, starts[..., None].expand(-1, -1, 3)
        )
        mean = total / (ends - starts).clamp(min=1)[..., None]
        distance = (centres - length // 2).float() / (length / 2)
        features = torch.stack(
            [mean[..., DNASE].clamp(min=0).log1p(), mean[..., H3K27AC].clamp(min=0).log1p(), mean[..., HIC], distance],
            dim=-1,
        )
        return encoded + self.element_features(features)

    def attend(
        self, promoter: torch.Tensor, enhancers: torch.Tensor, valid: torch.Tensor, features: torch.Tensor | None
    ) -> torch.Tensor:
        """Promoter token (B, d) with enhancer tokens (B, N, d), `valid` (B, N) -> prediction (B,)."""
        tokens = torch.cat([(promoter + self.promoter_type)[:, None], enhancers], dim=1)
        padding = torch.cat([valid.new_zeros(len(valid), 1), ~valid], dim=1)
        states = self.norm(self.layers(tokens, src_key_padding_mask=padding))
        return self.head(states[:, :1], states.new_ones(1), features)

    def forward(self, batch: dict) -> ModelOutput:
        dna, signals = batch["dna"].float(), batch["signals"].float()
        intervals, valid = self.enhancers(batch)
        promoter = central_slice(dna.shape[1], self.options.element_length)
        promoter_interval = torch.tensor([promoter.start, promoter.stop], device=dna.device).expand(len(dna), 1, 2)
        promoter_token = self.element_tokens(dna, signals, promoter_interval)[:, 0]
        enhancer_tokens = self.element_tokens(dna, signals, intervals)
        return ModelOutput(self.attend(promoter_token, enhancer_tokens, valid, batch.get("features")))
