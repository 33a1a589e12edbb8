"""Selective scan (Mamba-1 SSM): exact chunked PyTorch scan and a naive reference (select.py chooses
among it, our fused Triton kernel (triton.py) and mamba-ssm's CUDA kernel).

All scans follow mamba-ssm's `selective_scan_fn` layout and semantics (time is the last axis):
u, delta (B, D, L); A (D, N) with A < 0; B, C (B, N, L); D (D,); z (B, D, L).

    s_t = exp(delta_t A) s_{t-1} + delta_t u_t B_t,    y_t = C_t . s_t + D u_t,    out = y * silu(z)

The chunked scan computes each segment of positions in closed form. With h_t = sum_{k=2..t} delta_k A
(h_1 = 0, h <= 0 and decreasing) the states of a segment starting from state s_0 are

    s_t = exp(h_t) * (a_1 s_0 + cumsum_j(exp(-h_j) delta_j u_j B_j)),

so one cumulative sum replaces the loop over positions. The factors are taken relative to the middle
of the segment (exp(h_mid - h_j), all within exp(+-max_decay / 2)), and segments are cut wherever the
total decay could pass `max_decay`; this keeps every term finite, which makes the result exact (same
math as the sequential recurrence) for any delta and A. Only one segment's (B, D, N, T) states exist
at a time: the backward pass recomputes them from the saved segment start states and runs the
adjoint recurrence the same way, right to left.

Speed on CPUs: the work is ~30 elementwise passes over (B, D, N, T) per segment, so every operand is
first made dense in (B, D, L) order; on transposed (time-major) views the same ops run 2-4x slower.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seq2exp.architectures import DEFAULT_CHUNK

# Largest total decay inside one segment. Factors are centred on the segment, so they lie within
# exp(+-max_decay / 2): fp32 keeps ~1e26 * |input| finite and ~1e-26 normal (not subnormal).
MAX_DECAY = {torch.float32: 120.0, torch.float64: 600.0}


def selective_scan_reference(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    initial_state=None,
    return_last_state=False,
):
    """Naive sequential scan, one position at a time (mamba-ssm's `selective_scan_ref`); for tests."""
    delta, state_dtype = _prepare_delta(delta, delta_bias, delta_softplus, u.dtype)
    u, A, B, C = (t.to(state_dtype) for t in (u, A, B, C))
    batch, d_inner, length = u.shape
    state = _initial_state(initial_state, batch, d_inner, A.shape[1], u)
    decay = torch.exp(delta.unsqueeze(2) * A[None, :, :, None])  # (B, D, N, L)
    drive = (delta * u).unsqueeze(2) * B.unsqueeze(1)
    ys = []
    for t in range(length):
        state = decay[..., t] * state + drive[..., t]
        ys.append((state * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    return _finish(y, u, D, z, state, return_last_state)


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    initial_state=None,
    return_last_state=False,
    chunk_size=DEFAULT_CHUNK,
):
    """Exact chunked selective scan in PyTorch, differentiable, memory O(B D N chunk).

    `initial_state` (B, D, N) continues a scan from a previous block (streamed inference);
    `return_last_state` also returns the state after the last position.
    """
    with torch.autocast(u.device.type, enabled=False):
        # Time-major views (e.g. the transposed projections of a Mamba block) make every elementwise
        # op below strided and several times slower: copy them to (B, D, L) / (B, N, L) order once.
        state_dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
        u32, delta, A32, B32, C32 = (_dense(t, state_dtype) for t in (u, delta, A, B, C))
        z = None if z is None else _dense(z, z.dtype)
        delta, _ = _prepare_delta(delta, delta_bias, delta_softplus, u.dtype)
        batch, d_inner, _ = u.shape
        state = _initial_state(initial_state, batch, d_inner, A.shape[1], u32)
        y, last = ChunkedScan.apply(u32, delta, A32, B32, C32, state, chunk_size)
        return _finish(y, u32, D, z, last, return_last_state)


def _dense(t, dtype):
    """`t` as `dtype` in contiguous (row-major) memory; a no-op when it already is.
    (`t.to(dtype, memory_format=...)` would not copy a strided tensor that has the dtype already.)"""
    return t.to(dtype).contiguous()


def _prepare_delta(delta, delta_bias, delta_softplus, input_dtype):
    state_dtype = torch.float64 if input_dtype == torch.float64 else torch.float32
    delta = delta.to(state_dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(state_dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return delta, state_dtype


def _initial_state(initial_state, batch, d_inner, d_state, like):
    if initial_state is None:
        return like.new_zeros(batch, d_inner, d_state)
    return initial_state.to(like.dtype)


def _finish(y, u, D, z, last_state, return_last_state):
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return (y, last_state) if return_last_state else y


def plan_segments(delta: torch.Tensor, A: torch.Tensor, chunk_size: int) -> list[tuple[int, int]]:
    """Cut [0, L) into segments of at most `chunk_size` positions whose decay stays below MAX_DECAY.

    The bound per position is max over batch and channels of delta * |A|; the first position of a
    segment does not count (its decay multiplies the incoming state only, exp(delta A) <= 1).
    """
    length = delta.shape[-1]
    limit = MAX_DECAY[delta.dtype]
    worst = (delta * (-A).amax(-1)[:, None]).amax(dim=(0, 1))  # (L,)
    if float(worst.max()) * chunk_size <= limit:
        return [(s, min(s + chunk_size, length)) for s in range(0, length, chunk_size)]
    segments, start, total = [], 0, 0.0
    for t, decay in enumerate(worst.tolist()[1:], start=1):
        if t - start >= chunk_size or total + decay > limit:
            segments.append((start, t))
            start, total = t, 0.0
        else:
            total += decay
    segments.append((start, length))
    return segments


def _segment_states(u, delta, negA, B, s0):
    """States (B, D, N, T) of one segment from state s0, and the pieces the backward pass reuses.

    h_t = sum_{k=2..t} delta_k; E_t = exp(|A| (h_t - h_T / 2)) is centred on the segment so that it
    stays within exp(+-MAX_DECAY / 2); s_t = (E_1 a_1 s0 + cumsum_j(E_j drive_j)) / E_t.
    """
    drive_u = delta * u  # (B, D, T)
    decay_sum = delta.cumsum(-1)
    decay_sum -= (decay_sum[..., -1:] - delta[..., :1]) * 0.5 + delta[..., :1]  # h_t - h_T / 2
    growth = torch.mul(decay_sum.unsqueeze(2), negA[:, :, None]).exp_()  # (B, D, N, T)
    drive = drive_u.unsqueeze(2) * B.unsqueeze(1)  # delta_t u_t B_t
    first = torch.mul(delta[..., 0].unsqueeze(2), negA).neg_().exp_()  # a_1 (B, D, N)
    states = torch.mul(drive, growth)
    states[..., 0] += first * s0 * growth[..., 0]
    states = states.cumsum_(-1).div_(growth)
    return states, growth, drive, drive_u, first


class ChunkedScan(torch.autograd.Function):
    """y_t = C_t . s_t over segments; saves only inputs and the state at each segment start."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, s0, chunk_size):
        segments = plan_segments(delta, A, chunk_size)
        negA = -A
        y = u.new_empty(u.shape)
        starts = []
        state = s0
        for lo, hi in segments:
            starts.append(state)
            states = _segment_states(u[..., lo:hi], delta[..., lo:hi], negA, B[..., lo:hi], state)[0]
            state = states[..., -1].clone()
            states *= C[:, None, :, lo:hi]
            y[..., lo:hi] = states.sum(2)
        ctx.segments = segments
        ctx.save_for_backward(u, delta, A, B, C, *starts)
        return y, state

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A, B, C, *starts = ctx.saved_tensors
        dy = dy.contiguous()
        negA = -A
        du, ddelta, dB, dC = (torch.empty_like(t) for t in (u, delta, B, C))
        dA = torch.zeros_like(A)
        carry = dlast  # dL/ds from the right of the current segment
        for (lo, hi), s0 in zip(reversed(ctx.segments), reversed(starts)):
            sl = slice(lo, hi)
            d_seg, dy_seg, B_seg, C_seg = delta[..., sl], dy[..., sl], B[..., sl], C[..., sl]
            states, growth, drive, drive_u, first = _segment_states(u[..., sl], d_seg, negA, B_seg, s0)
            dC[..., sl] = (states * dy_seg.unsqueeze(2)).sum(1)
            # adjoint: lam_t = C_t dy_t + a_{t+1} lam_{t+1}, solved like the forward scan, right to left
            source = dy_seg.unsqueeze(2) * C_seg.unsqueeze(1)
            source /= growth
            lam = torch.flip(torch.cumsum(torch.flip(source, (-1,)), dim=-1), (-1,))
            lam += (carry / growth[..., -1]).unsqueeze(-1)
            lam *= growth
            dB[..., sl] = (lam * drive_u.unsqueeze(2)).sum(1)
            d_drive_u = (lam * B_seg.unsqueeze(1)).sum(2)
            # gradient of log a_t = delta_t A is lam_t * a_t s_{t-1} = lam_t * (s_t - drive_t)
            states -= drive
            states *= lam
            dd = (states * A[:, :, None]).sum(2)
            dd += d_drive_u * u[..., sl]
            ddelta[..., sl] = dd
            dA += (states * d_seg.unsqueeze(2)).sum((0, 3))
            du[..., sl] = d_drive_u * d_seg
            carry = first * lam[..., 0]
        return du, ddelta, dA, dB, dC, carry, None


def random_scan_inputs(batch, d_inner, d_state, length, generator=None, dtype=torch.float32):
    """Random (u, delta, A, B, C, D, z) in mamba-ssm's layout, delta before softplus."""

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype)

    u = randn(batch, d_inner, length)
    delta = randn(batch, d_inner, length) * 0.5 - 1.0
    A = -torch.exp(randn(d_inner, d_state) * 0.5)
    return (
        u,
        delta,
        A,
        randn(batch, d_state, length),
        randn(batch, d_state, length),
        randn(d_inner),
        randn(batch, d_inner, length),
    )
