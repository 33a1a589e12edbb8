"""Fused selective scan (Mamba-1) in Triton: forward and backward, mamba-ssm's `selective_scan_fn` semantics.

Same layout and math as `scan.py` (time is the last axis): u, delta, z (B, D, L); A (D, N); B, C (B, N, L);
D, delta_bias (D,); initial / last state (B, D, N). One program owns BLOCK_D channels of one batch
element and walks the sequence in chunks of CHUNK positions. Per chunk it reads each input once,
casts it to the compute dtype (fp32, or fp64 for fp64 inputs), forms the (BLOCK_D, N, CHUNK) decays
exp(delta A) and drives delta u B in registers, and runs the recurrence s_t = a_t s_{t-1} + x_t as
an associative scan over (a, x) pairs; the state itself never leaves the chip except once per chunk.

The forward saves only the state at each chunk start, (B, D, n_chunks, N): N / CHUNK values per
(b, d, position) instead of the (B, D, N, L) states. The backward walks the chunks right to left,
recomputes a chunk's states from its saved start state, and solves the adjoint
g_t = C_t dy_t + a_{t+1} g_{t+1} as a scan over the time-flipped chunk (Triton's reverse=True scan is
not reliable for non-commutative combines, triton-lang/triton#4362, so we flip instead).
dB and dC sum over channels from several programs: fp32 (fp64) atomic adds, D / BLOCK_D_BWD per element
(as mamba-ssm's kernel does per channel; a cost to watch on the GPU); dA, dD and delta_bias's
gradient are per-program partial sums reduced over the batch in PyTorch.

Requirements: triton >= MIN_TRITON, the oldest version checked (3.7.1, which torch 2.13 pins; 3.2's
interpreter fails on these kernels). On CUDA machines use the triton that torch pins. On CPU tensors
the kernels run only in Triton's interpreter (TRITON_INTERPRET=1 before triton is first imported):
that is how the tests run without a GPU.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

MIN_TRITON = (3, 7)
CHUNK = 64          # positions per chunk (a power of two): also the spacing of the saved states
# Channels per program: guesses that keep the (BLOCK_D, 16, CHUNK) blocks within ~32 fp32 values per
# thread and block; untuned until measured on a GPU (benchmarks/bench_triton_scan.py --configs).
BLOCK_D_FWD = 4
BLOCK_D_BWD = 2
NUM_WARPS = 4


@triton.jit
def _affine_combine(a_left, x_left, a_right, x_right):
    """(x -> a_r (a_l x + x_l) + x_r): the composition of two steps s -> a s + x, left one first."""
    return a_left * a_right, x_left * a_right + x_right


@triton.jit
def _adjoint_combine(last_left, inner_left, g_left, last_right, inner_right, g_right):
    """Segments of g_r = c_r + a_{r-1} g_{r-1} (time-flipped adjoint) as (a of the last position,
    product of the other positions' a, g at the last position given g = 0 before the segment)."""
    bridge = inner_right * last_left
    return last_right, bridge * inner_left, g_right + bridge * g_left


@triton.jit
def _softplus(x):
    return tl.where(x <= 20.0, tl.log(1.0 + tl.exp(tl.minimum(x, 20.0))), x)


@triton.jit
def _sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _last(block, CHUNK: tl.constexpr):
    """block[..., CHUNK - 1] of a (BLOCK_D, BLOCK_N, CHUNK) block."""
    is_last = (tl.arange(0, CHUNK) == CHUNK - 1)[None, None, :]
    return tl.sum(tl.where(is_last, block, 0.0), axis=2)


@triton.jit
def _load_chunk(u_ptr, delta_ptr, bias, B_ptr, C_ptr, b, d, n, t, d_ok, n_ok, t_ok,
                stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, stride_B_b, stride_B_n,
                stride_C_b, stride_C_n, SOFTPLUS: tl.constexpr, COMPUTE: tl.constexpr):
    """u, delta (raw and as used), B, C of one chunk in the compute dtype; delta is 0 outside the data,
    so that padding positions leave the state unchanged (a = 1, x = 0)."""
    dl = d_ok[:, None] & t_ok[None, :]
    nl = n_ok[:, None] & t_ok[None, :]
    u = tl.load(u_ptr + b * stride_u_b + d[:, None] * stride_u_d + t[None, :], dl, other=0.0).to(COMPUTE)
    raw = tl.load(delta_ptr + b * stride_delta_b + d[:, None] * stride_delta_d + t[None, :], dl,
                  other=0.0).to(COMPUTE) + bias[:, None]
    delta = raw
    if SOFTPLUS:
        delta = _softplus(raw)
    delta = tl.where(dl, delta, 0.0)
    Bt = tl.load(B_ptr + b * stride_B_b + n[:, None] * stride_B_n + t[None, :], nl, other=0.0).to(COMPUTE)
    Ct = tl.load(C_ptr + b * stride_C_b + n[:, None] * stride_C_n + t[None, :], nl, other=0.0).to(COMPUTE)
    return u, raw, delta, Bt, Ct


@triton.jit
def _chunk_states(u, delta, A, Bt, s0):
    """States (BLOCK_D, BLOCK_N, CHUNK) of a chunk from its start state, with its decays and drives."""
    a = tl.exp(delta[:, None, :] * A[:, :, None])
    x = (delta * u)[:, None, :] * Bt[None, :, :]
    a_run, x_run = tl.associative_scan((a, x), 2, _affine_combine)
    return a_run * s0[:, :, None] + x_run, a, x


@triton.jit
def _scan_fwd_kernel(u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, s0_ptr,
                     out_ptr, starts_ptr, last_ptr,
                     stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, stride_B_b, stride_B_n,
                     stride_C_b, stride_C_n, stride_z_b, stride_z_d,
                     n_channels, n_state, L, n_chunks,
                     HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_S0: tl.constexpr,
                     SOFTPLUS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                     CHUNK: tl.constexpr, COMPUTE: tl.constexpr):
    b = tl.program_id(1).to(tl.int64)
    d = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    n = tl.arange(0, BLOCK_N)
    d_ok, n_ok = d < n_channels, n < n_state
    dn = d_ok[:, None] & n_ok[None, :]
    A = tl.load(A_ptr + d[:, None] * n_state + n[None, :], dn, other=0.0).to(COMPUTE)
    bias = tl.zeros((BLOCK_D,), COMPUTE)
    if HAS_BIAS:
        bias += tl.load(bias_ptr + d, d_ok, other=0.0).to(COMPUTE)
    state_offsets = (b * n_channels + d[:, None]) * n_state + n[None, :]
    if HAS_S0:
        state = tl.load(s0_ptr + state_offsets, dn, other=0.0).to(COMPUTE)
    else:
        state = tl.zeros((BLOCK_D, BLOCK_N), COMPUTE)
    for c in range(n_chunks):
        tl.store(starts_ptr + ((b * n_channels + d[:, None]) * n_chunks + c) * n_state + n[None, :], state, dn)
        t = c * CHUNK + tl.arange(0, CHUNK)
        t_ok = t < L
        u, raw, delta, Bt, Ct = _load_chunk(u_ptr, delta_ptr, bias, B_ptr, C_ptr, b, d, n, t, d_ok, n_ok, t_ok,
                                            stride_u_b, stride_u_d, stride_delta_b, stride_delta_d,
                                            stride_B_b, stride_B_n, stride_C_b, stride_C_n, SOFTPLUS, COMPUTE)
        states, a, x = _chunk_states(u, delta, A, Bt, state)
        y = tl.sum(states * Ct[None, :, :], axis=1)
        if HAS_D:
            y += u * tl.load(D_ptr + d, d_ok, other=0.0).to(COMPUTE)[:, None]
        dl = d_ok[:, None] & t_ok[None, :]
        if HAS_Z:
            z = tl.load(z_ptr + b * stride_z_b + d[:, None] * stride_z_d + t[None, :], dl, other=0.0).to(COMPUTE)
            y *= z * _sigmoid(z)
        out_offsets = (b * n_channels + d[:, None]) * L + t[None, :]
        tl.store(out_ptr + out_offsets, y.to(out_ptr.dtype.element_ty), dl)
        state = _last(states, CHUNK)
    tl.store(last_ptr + state_offsets, state, dn)


@triton.jit
def _scan_bwd_kernel(u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, starts_ptr, dout_ptr, dlast_ptr,
                     du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dz_ptr, dbias_ptr, ds0_ptr,
                     stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, stride_B_b, stride_B_n,
                     stride_C_b, stride_C_n, stride_z_b, stride_z_d,
                     n_channels, n_state, L, n_chunks,
                     HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
                     SOFTPLUS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                     CHUNK: tl.constexpr, COMPUTE: tl.constexpr):
    b = tl.program_id(1).to(tl.int64)
    d = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    n = tl.arange(0, BLOCK_N)
    d_ok, n_ok = d < n_channels, n < n_state
    dn = d_ok[:, None] & n_ok[None, :]
    A = tl.load(A_ptr + d[:, None] * n_state + n[None, :], dn, other=0.0).to(COMPUTE)
    bias = tl.zeros((BLOCK_D,), COMPUTE)
    if HAS_BIAS:
        bias += tl.load(bias_ptr + d, d_ok, other=0.0).to(COMPUTE)
    D = tl.zeros((BLOCK_D,), COMPUTE)
    if HAS_D:
        D += tl.load(D_ptr + d, d_ok, other=0.0).to(COMPUTE)
    state_offsets = (b * n_channels + d[:, None]) * n_state + n[None, :]
    carry = tl.load(dlast_ptr + state_offsets, dn, other=0.0).to(COMPUTE)  # a_{t+1} g_{t+1} right of the chunk
    dA = tl.zeros((BLOCK_D, BLOCK_N), COMPUTE)
    dD = tl.zeros((BLOCK_D,), COMPUTE)
    dbias = tl.zeros((BLOCK_D,), COMPUTE)
    first = (tl.arange(0, CHUNK) == 0)[None, None, :]
    for i in range(n_chunks):
        c = n_chunks - 1 - i
        t = c * CHUNK + tl.arange(0, CHUNK)
        t_ok = t < L
        dl = d_ok[:, None] & t_ok[None, :]
        nl = n_ok[:, None] & t_ok[None, :]
        u, raw, delta, Bt, Ct = _load_chunk(u_ptr, delta_ptr, bias, B_ptr, C_ptr, b, d, n, t, d_ok, n_ok, t_ok,
                                            stride_u_b, stride_u_d, stride_delta_b, stride_delta_d,
                                            stride_B_b, stride_B_n, stride_C_b, stride_C_n, SOFTPLUS, COMPUTE)
        s0 = tl.load(starts_ptr + ((b * n_channels + d[:, None]) * n_chunks + c) * n_state + n[None, :], dn,
                     other=0.0)
        states, a, x = _chunk_states(u, delta, A, Bt, s0)
        out_offsets = (b * n_channels + d[:, None]) * L + t[None, :]
        dy = tl.load(dout_ptr + out_offsets, dl, other=0.0).to(COMPUTE)
        if HAS_Z:
            z = tl.load(z_ptr + b * stride_z_b + d[:, None] * stride_z_d + t[None, :], dl, other=0.0).to(COMPUTE)
            y = tl.sum(states * Ct[None, :, :], axis=1) + u * D[:, None]
            gate = _sigmoid(z)
            dz = dy * y * gate * (1.0 + z * (1.0 - gate))
            tl.store(dz_ptr + out_offsets, dz.to(dz_ptr.dtype.element_ty), dl)
            dy = dy * z * gate
        dD += tl.sum(dy * u, axis=1)
        dC = tl.sum(states * dy[:, None, :], axis=0)
        bn_offsets = (b * n_state + n[:, None]) * L + t[None, :]
        tl.atomic_add(dC_ptr + bn_offsets, dC, nl)
        # adjoint g_t = C_t dy_t + a_{t+1} g_{t+1}, in flipped time r: g_r = c_r + a_{r-1} g_{r-1}
        source = tl.flip(dy, 1)[:, None, :] * tl.flip(Ct, 1)[None, :, :]
        source += tl.where(first, carry[:, :, None], 0.0)
        a_flipped = tl.flip(a, 2)
        _, _, g_flipped = tl.associative_scan((a_flipped, tl.full(a.shape, 1.0, COMPUTE), source), 2,
                                              _adjoint_combine)
        carry = _last(a_flipped * g_flipped, CHUNK)  # a_{t0} g_{t0}: passed to the chunk on the left
        g = tl.flip(g_flipped, 2)
        dB = tl.sum(g * (delta * u)[:, None, :], axis=0)
        tl.atomic_add(dB_ptr + bn_offsets, dB, nl)
        d_drive = tl.sum(g * Bt[None, :, :], axis=1)          # d(delta_t u_t)
        d_log_decay = g * (states - x)                          # g_t a_t s_{t-1}: gradient of delta_t A
        dA += tl.sum(d_log_decay * delta[:, None, :], axis=2)
        ddelta = d_drive * u + tl.sum(d_log_decay * A[:, :, None], axis=1)
        if SOFTPLUS:
            ddelta *= _sigmoid(raw)
        ddelta = tl.where(dl, ddelta, 0.0)
        dbias += tl.sum(ddelta, axis=1)
        du = d_drive * delta + dy * D[:, None]
        tl.store(du_ptr + out_offsets, du.to(du_ptr.dtype.element_ty), dl)
        tl.store(ddelta_ptr + out_offsets, ddelta.to(ddelta_ptr.dtype.element_ty), dl)
    tl.store(ds0_ptr + state_offsets, carry, dn)
    tl.store(dA_ptr + state_offsets, dA, dn)
    tl.store(dD_ptr + b * n_channels + d, dD, d_ok)
    tl.store(dbias_ptr + b * n_channels + d, dbias, d_ok)


# ----------------------------------------------------------------------------------------------
# PyTorch side: argument checks, launches, autograd.

def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          initial_state=None, return_last_state=False, chunk_size=None):
    """mamba-ssm's `selective_scan_fn` (plus `initial_state`) on the fused kernels; differentiable in
    every tensor argument. The output has u's dtype, the last state the compute dtype (fp32, fp64).
    `chunk_size` (a power of two; default CHUNK) is the positions per chunk, and the spacing of the
    saved states."""
    _check_shapes(u, delta, A, B, C, D, z, delta_bias, initial_state)
    _check_device(u)
    chunk_size = chunk_size or CHUNK
    if chunk_size < 2 or chunk_size & (chunk_size - 1):
        raise ValueError(f"selective_scan_triton: chunk_size must be a power of two >= 2, got {chunk_size}")
    with torch.autocast(u.device.type, enabled=False):
        out, last = TritonScan.apply(u, delta, A, B, C, D, z, delta_bias, initial_state, bool(delta_softplus),
                                     chunk_size)
    return (out, last) if return_last_state else out


def _check_shapes(u, delta, A, B, C, D, z, delta_bias, initial_state):
    if u.dim() != 3 or A.dim() != 2:
        raise ValueError(f"selective_scan_triton: u must be (batch, d_inner, length) and A (d_inner, d_state), "
                         f"got {tuple(u.shape)} and {tuple(A.shape)}")
    batch, channels, length = u.shape
    n_state = A.shape[-1]
    expected = {"delta": (delta, (batch, channels, length)), "A": (A, (channels, n_state)),
                "B": (B, (batch, n_state, length)), "C": (C, (batch, n_state, length)),
                "D": (D, (channels,)), "z": (z, (batch, channels, length)),
                "delta_bias": (delta_bias, (channels,)), "initial_state": (initial_state, (batch, channels, n_state))}
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"selective_scan_triton: {name} has shape {tuple(tensor.shape)}, expected {shape} "
                             "(u is (batch, d_inner, length), A (d_inner, d_state))")


def _check_device(u):
    if u.device.type == "cpu" and not interpreter_active():
        raise RuntimeError("selective_scan_triton runs on CPU tensors only in Triton's interpreter: set "
                           "TRITON_INTERPRET=1 before triton is first imported (or use scan_impl 'torch')")


def interpreter_active() -> bool:
    """Whether our kernels were built for Triton's interpreter (TRITON_INTERPRET=1 at import)."""
    from triton.runtime.interpreter import InterpretedFunction
    return isinstance(_scan_fwd_kernel, InterpretedFunction)


def _rows(t):
    """t with unit stride along time (the kernels take batch and row strides, not a time stride)."""
    return t if t.stride(-1) == 1 else t.contiguous()


def _compute_dtype(u):
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _launch_options(u, n_state, block_d, chunk):
    batch, channels, length = u.shape
    grid = (triton.cdiv(channels, block_d), batch)
    compute = tl.float64 if u.dtype == torch.float64 else tl.float32
    return grid, dict(BLOCK_D=block_d, BLOCK_N=triton.next_power_of_2(n_state), CHUNK=chunk, COMPUTE=compute,
                      num_warps=NUM_WARPS)


def _strides(u, delta, B, C, z):
    zs = (0, 0) if z is None else (z.stride(0), z.stride(1))
    return (u.stride(0), u.stride(1), delta.stride(0), delta.stride(1), B.stride(0), B.stride(1),
            C.stride(0), C.stride(1), *zs)


class TritonScan(torch.autograd.Function):
    """Saves the inputs and the state at each chunk start; the backward recomputes the rest."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, chunk):
        u, delta, B, C = (_rows(t) for t in (u, delta, B, C))
        z = None if z is None else _rows(z)
        A, D, delta_bias = (None if t is None else t.contiguous() for t in (A, D, delta_bias))
        batch, channels, length = u.shape
        n_state = A.shape[1]
        n_chunks = triton.cdiv(length, chunk)
        compute = _compute_dtype(u)
        out = torch.empty(u.shape, dtype=u.dtype, device=u.device)
        starts = torch.empty(batch, channels, n_chunks, n_state, dtype=compute, device=u.device)
        last = torch.empty(batch, channels, n_state, dtype=compute, device=u.device)
        s0 = None if initial_state is None else initial_state.to(compute).contiguous()
        grid, options = _launch_options(u, n_state, BLOCK_D_FWD, chunk)
        _scan_fwd_kernel[grid](
            u, delta, A, B, C, D, z, delta_bias, s0, out, starts, last, *_strides(u, delta, B, C, z),
            channels, n_state, length, n_chunks,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, HAS_S0=s0 is not None,
            SOFTPLUS=softplus, **options)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, starts)
        ctx.softplus, ctx.chunk = softplus, chunk
        ctx.initial_state_dtype = None if initial_state is None else initial_state.dtype
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast):
        u, delta, A, B, C, D, z, delta_bias, starts = ctx.saved_tensors
        batch, channels, length = u.shape
        n_state = A.shape[1]
        compute = starts.dtype
        dout, dlast = dout.contiguous(), dlast.to(compute).contiguous()  # autograd gives zeros for unused outputs
        du, ddelta = torch.empty_like(u, memory_format=torch.contiguous_format), \
            torch.empty_like(delta, memory_format=torch.contiguous_format)
        dz = None if z is None else torch.empty_like(z, memory_format=torch.contiguous_format)
        dB = torch.zeros(B.shape, dtype=compute, device=u.device)
        dC = torch.zeros(C.shape, dtype=compute, device=u.device)
        dA, ds0 = (torch.empty(batch, channels, n_state, dtype=compute, device=u.device) for _ in range(2))
        dD, dbias = (torch.empty(batch, channels, dtype=compute, device=u.device) for _ in range(2))
        grid, options = _launch_options(u, n_state, BLOCK_D_BWD, ctx.chunk)
        _scan_bwd_kernel[grid](
            u, delta, A, B, C, D, z, delta_bias, starts, dout, dlast,
            du, ddelta, dA, dB, dC, dD, dz, dbias, ds0, *_strides(u, delta, B, C, z),
            channels, n_state, length, starts.shape[2],
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
            SOFTPLUS=ctx.softplus, **options)
        grads = [du, ddelta, dA.sum(0).to(A.dtype), dB.to(B.dtype), dC.to(C.dtype),
                 None if D is None else dD.sum(0).to(D.dtype), dz,
                 None if delta_bias is None else dbias.sum(0).to(delta_bias.dtype),
                 None if ctx.initial_state_dtype is None else ds0.to(ctx.initial_state_dtype), None, None]
        return tuple(grads)


def version_problem() -> str | None:
    """Why this triton is too old for the kernels, or None."""
    version = tuple(int(part) for part in triton.__version__.split(".")[:2])
    return None if version >= MIN_TRITON else \
        f"triton {triton.__version__} is older than {'.'.join(map(str, MIN_TRITON))}, the oldest checked"


@functools.lru_cache(maxsize=None)
def triton_problem(device_index: int = 0) -> str | None:
    """None when the kernels compile on this CUDA device and match the PyTorch scan, else why not."""
    from .scan import random_scan_inputs, selective_scan
    device = torch.device("cuda", device_index)
    gen = torch.Generator(device="cpu").manual_seed(0)
    args = [t.to(device).requires_grad_() for t in random_scan_inputs(2, 8, 4, 300, generator=gen)]
    try:
        theirs = selective_scan_triton(*args, delta_softplus=True)
        theirs_grads = torch.autograd.grad(theirs.sum(), args)
    except Exception as err:  # compilation or launch failure: no usable kernel here
        return f"kernel failed: {err}"
    ours = selective_scan(*args, delta_softplus=True)
    ours_grads = torch.autograd.grad(ours.sum(), args)
    for name, a, b in zip(("output", "du", "ddelta", "dA", "dB", "dC", "dD", "dz"),
                          (theirs, *theirs_grads), (ours, *ours_grads)):
        error = (a - b).abs().max().item()
        if not error <= 1e-3 * (1 + b.abs().max().item()):
            return f"self-check mismatch in {name} (max abs difference {error:.3g})"
    return None
