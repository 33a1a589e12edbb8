"""Caduceus backbone: bidirectional Mamba ("add", projections tied), optional RCPS; plain Mamba from the same blocks."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .mamba import BackboneConfig, MambaMixer, RMSNorm


def flip_streams(x: torch.Tensor) -> torch.Tensor:
    """RCPS: the reverse-complement view of a (B, L, C) tensor (length and channels flipped)."""
    return x.flip(-2, -1)


class RCPS(nn.Module):
    """Applies `module` to the forward half of the channels and, with the same weights, to the
    reverse-complement view of the other half (Caduceus-PS)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        fwd, rc = x.chunk(2, dim=-1)
        return torch.cat([self.module(fwd, **kwargs), flip_streams(self.module(flip_streams(rc), **kwargs))], dim=-1)


def merge_rc_streams(hidden: torch.Tensor) -> torch.Tensor:
    """(B, L, 2d) RCPS states -> (B, L, d) with merged(rc x)[t] = merged(x)[L-1-t]: strand-symmetric features."""
    fwd, rc = hidden.chunk(2, dim=-1)
    return fwd + rc.flip(-1)


class BiMamba(nn.Module):
    """out = M_fwd(h) + flip(M_rev(flip(h))); in_proj and out_proj shared by the two directions."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.forward_mixer = MambaMixer(cfg)
        self.reverse_mixer = MambaMixer(cfg)
        self.reverse_mixer.in_proj.weight = self.forward_mixer.in_proj.weight
        self.reverse_mixer.out_proj.weight = self.forward_mixer.out_proj.weight

    def forward(self, h: torch.Tensor, block_size: int | None = None) -> torch.Tensor:
        return _mix(self.forward_mixer, h, block_size) + _mix(self.reverse_mixer, h.flip(1), block_size).flip(1)


class CausalMamba(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.mixer = MambaMixer(cfg)

    def forward(self, h: torch.Tensor, block_size: int | None = None) -> torch.Tensor:
        return _mix(self.mixer, h, block_size)


def _mix(mixer: MambaMixer, h: torch.Tensor, block_size: int | None) -> torch.Tensor:
    return mixer(h) if block_size is None else mixer.forward_streamed(h, block_size)


class ResidualBlock(nn.Module):
    """Pre-norm residual block without MLP, residual stream in fp32: x + mixer(norm(x))."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        mixer = BiMamba(cfg) if cfg.bidirectional else CausalMamba(cfg)
        norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mixer, self.norm = (RCPS(mixer), RCPS(norm)) if cfg.rcps else (mixer, norm)

    def forward(self, x: torch.Tensor, block_size: int | None = None) -> torch.Tensor:
        return x + self.mixer(self.norm(x), block_size=block_size).float()


def zero_linear_biases(module: nn.Module) -> None:
    """mamba-ssm's `_init_weights` for linear layers outside the mixers (whose only bias, dt_proj's,
    is set from the dt range): biases zeroed, weights left at PyTorch's initialisation."""
    for linear in module.modules():
        if isinstance(linear, nn.Linear) and linear.bias is not None:
            nn.init.zeros_(linear.bias)


def rescale_prenorm_residual(backbone: nn.Module, n_layer: int) -> None:
    """mamba-ssm's `rescale_prenorm_residual` (one residual per block: no MLP): each mixer's
    out_proj weight drawn afresh as PyTorch's Linear (kaiming uniform, a = sqrt(5)) and divided by
    sqrt(n_layer); a weight tied between directions is drawn once."""
    seen = set()
    for mixer in backbone.modules():
        if isinstance(mixer, MambaMixer) and id(mixer.out_proj.weight) not in seen:
            seen.add(id(mixer.out_proj.weight))
            nn.init.kaiming_uniform_(mixer.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                mixer.out_proj.weight /= math.sqrt(n_layer)


class Caduceus(nn.Module):
    """Stack of residual (Bi)Mamba blocks and a final RMSNorm over embedded inputs (B, L, width).

    width = d_model, or 2 * d_model with RCPS (forward and reverse-complement streams).
    `bidirectional=False` gives the plain Mamba backbone. Initialised as mamba-ssm (and the authors'
    Caduceus) initialise theirs.
    """

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(ResidualBlock(cfg) for _ in range(cfg.n_layer))
        norm_f = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.norm_f = RCPS(norm_f) if cfg.rcps else norm_f
        rescale_prenorm_residual(self, cfg.n_layer)

    @property
    def width(self) -> int:
        return 2 * self.cfg.d_model if self.cfg.rcps else self.cfg.d_model

    def forward(self, hidden: torch.Tensor, block_size: int | None = None) -> torch.Tensor:
        """`block_size` streams each layer's scan in blocks (inference at 200 kb on a CPU)."""
        x = hidden.float()
        for layer in self.layers:
            x = layer(x, block_size=block_size)
        return self.norm_f(x)


class InputEmbedding(nn.Module):
    """Linear embedding of per-position inputs (B, L, n_in) -> (B, L, width); with RCPS the second half
    embeds the reverse-complement view (`complement`: channels complemented, as for one-hot DNA)."""

    def __init__(self, n_in: int, d_model: int, rcps: bool, complement: bool):
        super().__init__()
        self.linear = nn.Linear(n_in, d_model)
        self.rcps, self.complement = rcps, complement

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fwd = self.linear(x)
        if not self.rcps:
            return fwd
        rc_input = x.flip(-2, -1) if self.complement else x.flip(-2)
        return torch.cat([fwd, flip_streams(self.linear(rc_input))], dim=-1)
