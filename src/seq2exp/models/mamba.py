"""Mamba block (mamba-ssm's `Mamba` mixer) on top of our selective scan, with RMSNorm and its config."""

from __future__ import annotations

import functools
import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..architectures import BackboneConfig
from .scan.chunked import selective_scan
from .scan.select import resolve_scan


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * self.weight.float()).to(x.dtype)


def _channel_major(weight: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """weight (out, in) applied to h (B, L, in) as (B, out, L) dense rows, without a transposed copy."""
    return torch.bmm(weight.unsqueeze(0).expand(h.shape[0], -1, -1), h.transpose(1, 2))


class MambaMixer(nn.Module):
    """in_proj -> causal depthwise conv1d -> SiLU -> x_proj -> dt_proj -> selective scan (+D) -> * SiLU(z)
    -> out_proj."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        d_inner, rank, n = cfg.d_inner, cfg.rank, cfg.d_state
        self.in_proj = nn.Linear(cfg.d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, cfg.d_conv, groups=d_inner, bias=True)
        self.x_proj = nn.Linear(d_inner, rank + 2 * n, bias=False)
        self.dt_proj = nn.Linear(rank, d_inner, bias=True)
        self.out_proj = nn.Linear(d_inner, cfg.d_model, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self._init_dt()
        self._scan_device = self._scan = None

    def _init_dt(self):
        cfg = self.cfg
        std = cfg.rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        log_lo, log_hi = math.log(cfg.dt_min), math.log(cfg.dt_max)
        dt = torch.exp(torch.rand(cfg.d_inner) * (log_hi - log_lo) + log_lo).clamp(min=cfg.dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def scan_fn(self, device: torch.device, stateful: bool = False):
        """The configured scan on `device` (resolved once per device); `stateful`: one that takes an
        initial state, i.e. the PyTorch scan in place of mamba-ssm's (ours, Triton or PyTorch, do)."""
        if self._scan_device != device:
            self._scan, self._scan_device = resolve_scan(self.cfg.scan_impl, device), device
        scan = self._scan
        if stateful and "initial_state" not in inspect.signature(scan).parameters:
            scan = selective_scan
        if scan is selective_scan:
            scan = functools.partial(selective_scan, chunk_size=self.cfg.chunk_size)
        return scan

    def forward(self, hidden: torch.Tensor, state: tuple | None = None, return_state: bool = False):
        """hidden (B, L, d_model). `state` = (conv tail (B, d_inner, d_conv-1), ssm state (B, d_inner, N))
        continues a sequence from an earlier block; then the new state is returned too."""
        batch, length, _ = hidden.shape
        # Projections are computed channel-major, W @ h^T, so that x, z, delta, B and C come out as
        # dense (B, channels, L) rows: the scan's elementwise work is several times slower on the
        # transposed views that self.in_proj(hidden).transpose(1, 2) would give (same weights and math).
        x, z = _channel_major(self.in_proj.weight, hidden).chunk(2, dim=1)  # (B, d_inner, L) each
        if state is None:
            tail = x.new_zeros(batch, x.shape[1], self.cfg.d_conv - 1)
        else:
            tail = state[0].to(x.dtype)
        x_full = torch.cat([tail, x], dim=-1)
        x = F.silu(F.conv1d(x_full, self.conv1d.weight, self.conv1d.bias, groups=x.shape[1]))
        dt, B, C = torch.matmul(self.x_proj.weight, x).split([self.cfg.rank, self.cfg.d_state, self.cfg.d_state], dim=1)
        delta = torch.matmul(self.dt_proj.weight, dt)  # (B, d_inner, L); bias and softplus in fp32 in the scan
        A = -torch.exp(self.A_log.float())
        scan_args = (x, delta, A, B, C, self.D.float(), z)
        scan_kwargs = dict(delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        if state is None and not return_state:
            y = self.scan_fn(hidden.device)(*scan_args, **scan_kwargs)
            return self._out(y, hidden.dtype)
        ssm = None if state is None else state[1]
        y, ssm = self.scan_fn(hidden.device, stateful=True)(
            *scan_args, **scan_kwargs, initial_state=ssm, return_last_state=True
        )
        return self._out(y, hidden.dtype), (x_full[..., -(self.cfg.d_conv - 1) :], ssm)

    def _out(self, y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """out_proj of y (B, d_inner, L) -> (B, L, d_model); channel-major, so the gradient reaching
        the scan is dense (B, d_inner, L) too."""
        return torch.matmul(self.out_proj.weight, y.to(dtype)).transpose(1, 2)

    def forward_streamed(self, hidden: torch.Tensor, block_size: int) -> torch.Tensor:
        """Same result as forward, computed block by block carrying the conv and SSM state (inference)."""
        outs, state = [], None
        for lo in range(0, hidden.shape[1], block_size):
            out, state = self(hidden[:, lo : lo + block_size], state=state, return_state=True)
            outs.append(out)
        return torch.cat(outs, dim=1)
