"""Fused selective scan (Mamba-1) in Triton: forward and backward, mamba-ssm's `selective_scan_fn` semantics.

Same layout and math as `chunked.py` (time is the last axis): u, delta, z (B, D, L); A (D, N); B, C (B, N, L);
D, delta_bias (D,); initial / last state (B, D, N). One program owns BLOCK_D channels of one batch
element and walks the sequence in chunks of CHUNK positions, reading each input once and computing in
fp32 (fp64 for fp64 inputs).

The forward is laid out for throughput (benchmarks/bench_triton_sass.py counts its machine code): per
chunk it loops over the states n (unrolled) on (BLOCK_D, CHUNK) tiles, whose layout gives each thread
runs of RUN consecutive positions of one channel (the positions of a 16-byte load), so that the scan
of s_t = a_t s_{t-1} + x_t over (a, x) pairs is sequential in registers within a run, with one
cross-lane combine per run; y accumulates over n in registers. A state passes from chunk to chunk
through memory, (B, D, slots, N): the start state is folded into the first position's x, and the end
state is stored by the one thread that holds it. With a backward to come every chunk keeps its slot
(the saved chunk-start states, N / CHUNK values per (b, d, position) instead of the (B, D, N, L)
states); in inference two slots serve in turn.

The backward has the same layout and walks the chunks right to left. Per chunk and state it recomputes
the states from the saved start state (each run in registers, then one scan across runs) and solves the
adjoint g_t = C_t dy_t + a_{t+1} g_{t+1} without a right-to-left scan across lanes (Triton's
reverse=True is not reliable for non-commutative combines, triton-lang/triton#4362): each thread scans
its run back to front in registers, the runs' affine maps of the adjoint carry are gathered in
right-to-left order for one left-to-right scan across lanes, and each run is scanned again from its
carry. The carry into the chunk on the left and the partial sums of
dA stay in registers (a tuple over states). dB and dC sum over channels from several programs: fp32
(fp64) relaxed atomic adds per element, as mamba-ssm's kernel does per channel, into buffers padded to
whole chunks (no masks); dA, dD and delta_bias's gradient are per-program partial sums reduced over the
batch in PyTorch.

Requirements: triton >= MIN_TRITON, the oldest version checked (3.7.1, which torch 2.13 pins; 3.2's
interpreter fails on these kernels). On CUDA machines use the triton that torch pins. On CPU tensors
the kernels run only in Triton's interpreter (TRITON_INTERPRET=1 before triton is first imported):
that is how the tests run without a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

MIN_TRITON = (3, 7)
LOG2E = tl.constexpr(1.4426950408889634)
CHUNK = 64  # positions per chunk (a power of two): also the spacing of the saved states
# Channels per program and warps, chosen by the SASS count (bench_triton_sass.py): 8 x 64 positions on
# 2 warps, 8 per thread (forward 15.4 instructions per element, backward 31.1); untuned on a GPU
# (benchmarks/bench_triton_scan.py --configs).
BLOCK_D_FWD = 8
NUM_WARPS_FWD = 2
BLOCK_D_BWD = 8
NUM_WARPS_BWD = 2


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
    """log(1 + e^x) with log1p's accuracy for small e^x (Kahan's log1p(e) = log(1 + e) e / ((1 + e) - 1);
    log(1 + e) alone loses ~6e-4 relative at e = 1e-4 in fp32; Triton's interpreter has no libdevice)."""
    e = tl.exp2(tl.minimum(x, 20.0) * LOG2E)  # tl.exp's own lowering, but flushing subnormals: no range fix-ups
    one_plus = 1.0 + e
    log1p = tl.where(one_plus == 1.0, e, tl.log(one_plus) * e * _reciprocal(one_plus - 1.0))
    return tl.where(x <= 20.0, log1p, x)


@triton.jit
def _reciprocal(x):
    """1 / x for 2^-60 <= x (0 beyond 2^63). In fp32 one MUFU.RSQ and a multiply, where Triton's division
    (div.full) adds range checks and rescaling, at the same relative accuracy (~1e-7); fp64's rsqrt is
    an approximation, so fp64 divides."""
    if x.dtype == tl.float64:
        result = 1.0 / x
    else:
        result = tl.math.rsqrt(x * x)
    return result


@triton.jit
def _sigmoid(x):
    return _reciprocal(1.0 + tl.exp2(-x * LOG2E))


@triton.jit
def _runs(block, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """(BLOCK_D, CHUNK) -> (BLOCK_D, CHUNK // RUN, RUN): runs of RUN positions, each held by one thread in the
    layout Triton gives these tiles (RUN = the positions per vector load), so indexing within a run is a
    choice of register, known at compile time."""
    return tl.reshape(block, (block.shape[0], CHUNK // RUN, RUN))


@triton.jit
def _store_last(ptr, block, mask, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """Store block[:, CHUNK - 1] at ptr (BLOCK_D,) from the one thread that holds it (no reduction)."""
    is_end = (tl.arange(0, RUN) == RUN - 1)[None, None, :]
    run_ends = tl.sum(tl.where(is_end, _runs(block, CHUNK, RUN), 0.0), axis=2)
    is_last = (tl.arange(0, CHUNK // RUN) == CHUNK // RUN - 1)[None, :]
    tl.store(tl.broadcast_to(ptr[:, None], run_ends.shape), run_ends, mask[:, None] & is_last)


@triton.jit
def _with_start(x, a, s0, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """x with a_0 s0 added at the chunk's first position: the scan of (a, x) then gives the states."""
    is_first = ((tl.arange(0, CHUNK // RUN) == 0)[:, None] & (tl.arange(0, RUN) == 0)[None, :])[None, :, :]
    runs = _runs(x, CHUNK, RUN) + tl.where(is_first, _runs(a, CHUNK, RUN) * s0[:, None, None], 0.0)
    return tl.reshape(runs, x.shape)


@triton.jit
def _load_rows(
    u_ptr, delta_ptr, bias, b, d, t, dl, stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, COMPUTE: tl.constexpr
):
    """u and delta + delta_bias of one chunk, (BLOCK_D, CHUNK) in the compute dtype."""
    u = tl.load(u_ptr + b * stride_u_b + d[:, None] * stride_u_d + t[None, :], dl, other=0.0).to(COMPUTE)
    raw = (
        tl.load(delta_ptr + b * stride_delta_b + d[:, None] * stride_delta_d + t[None, :], dl, other=0.0).to(COMPUTE)
        + bias[:, None]
    )
    return u, raw


@triton.jit
def _chunk_inputs(
    u_ptr,
    delta_ptr,
    bias,
    b,
    d,
    d_ok,
    c,
    L,
    stride_u_b,
    stride_u_d,
    stride_delta_b,
    stride_delta_d,
    CHUNK: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """Chunk c's positions t, their mask dl and, as (BLOCK_D, CHUNK) tiles in the compute dtype, u, delta
    (raw and as used) and delta u; delta is 0 outside the data, so that padding positions leave the
    state unchanged (a = 1, x = 0)."""
    t = c * CHUNK + tl.arange(0, CHUNK)
    dl = d_ok[:, None] & (t < L)[None, :]
    u, raw = _load_rows(
        u_ptr, delta_ptr, bias, b, d, t, dl, stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, COMPUTE
    )
    delta = raw
    if SOFTPLUS:
        delta = _softplus(raw)
    delta = tl.where(dl, delta, 0.0)
    return t, dl, u, raw, delta, delta * u


@triton.jit
def _channel_block(bias_ptr, n_channels, HAS_BIAS: tl.constexpr, BLOCK_D: tl.constexpr, COMPUTE: tl.constexpr):
    """This program's batch row b, its block of channels d (and which exist) and their delta bias."""
    b = tl.program_id(1).to(tl.int64)
    d = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    d_ok = d < n_channels
    bias = tl.zeros((BLOCK_D,), COMPUTE)
    if HAS_BIAS:
        bias += tl.load(bias_ptr + d, d_ok, other=0.0).to(COMPUTE)
    return b, d, d_ok, bias


@triton.jit
def _decays(delta, A_ptr, d, d_ok, n, N_STATE: tl.constexpr, COMPUTE: tl.constexpr):
    """(a = e^{delta A_n} as a (BLOCK_D, CHUNK) tile, A_n (BLOCK_D,)) of state n."""
    A = tl.load(A_ptr + d * N_STATE + n, d_ok, other=0.0).to(COMPUTE)
    return tl.exp2(delta * (A * LOG2E)[:, None]), A


@triton.jit
def _state_run(
    delta,
    drive,
    Bt,
    A_ptr,
    slot,
    d,
    d_ok,
    n,
    N_STATE: tl.constexpr,
    CHUNK: tl.constexpr,
    RUN: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    """States (BLOCK_D, CHUNK) of state n over a chunk from its start state (read from `slot`)."""
    a, _ = _decays(delta, A_ptr, d, d_ok, n, N_STATE, COMPUTE)
    x = _with_start(drive * Bt, a, tl.load(slot + n, d_ok, other=0.0), CHUNK, RUN)
    return tl.associative_scan((a, x), 1, _affine_combine)[1]


@triton.jit
def _scan_fwd_kernel(
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    out_ptr,
    states_ptr,
    stride_u_b,
    stride_u_d,
    stride_delta_b,
    stride_delta_d,
    stride_B_b,
    stride_B_n,
    stride_C_b,
    stride_C_n,
    stride_z_b,
    stride_z_d,
    n_channels,
    L,
    n_chunks,
    n_slots,
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr,
    N_STATE: tl.constexpr,
    CHUNK: tl.constexpr,
    RUN: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    b, d, d_ok, bias = _channel_block(bias_ptr, n_channels, HAS_BIAS, BLOCK_D, COMPUTE)
    slots = states_ptr + (b * n_channels + d) * n_slots * N_STATE
    for c in range(n_chunks):
        tl.debug_barrier()  # the previous chunk's end states, stored by other threads, are read below
        t, dl, u, raw, delta, drive = _chunk_inputs(
            u_ptr,
            delta_ptr,
            bias,
            b,
            d,
            d_ok,
            c,
            L,
            stride_u_b,
            stride_u_d,
            stride_delta_b,
            stride_delta_d,
            CHUNK,
            SOFTPLUS,
            COMPUTE,
        )
        tile_t = tl.broadcast_to(t[None, :], (BLOCK_D, CHUNK))
        y = tl.zeros((BLOCK_D, CHUNK), COMPUTE)
        slot_in, slot_out = slots + (c % n_slots) * N_STATE, slots + ((c + 1) % n_slots) * N_STATE
        for n in tl.static_range(N_STATE):
            # B, C as (BLOCK_D, CHUNK) tiles in the layout of u (each row reloads them from cache):
            # a (CHUNK,) load would be relaid out to the tiles' layout through shared memory per state.
            Bt = tl.load(B_ptr + b * stride_B_b + n * stride_B_n + tile_t, tile_t < L, other=0.0).to(COMPUTE)
            Ct = tl.load(C_ptr + b * stride_C_b + n * stride_C_n + tile_t, tile_t < L, other=0.0).to(COMPUTE)
            states = _state_run(delta, drive, Bt, A_ptr, slot_in, d, d_ok, n, N_STATE, CHUNK, RUN, COMPUTE)
            y += states * Ct
            _store_last(slot_out + n, states, d_ok, CHUNK, RUN)
        if HAS_D:
            y += u * tl.load(D_ptr + d, d_ok, other=0.0).to(COMPUTE)[:, None]
        if HAS_Z:
            z = tl.load(z_ptr + b * stride_z_b + d[:, None] * stride_z_d + t[None, :], dl, other=0.0).to(COMPUTE)
            y *= z * _sigmoid(z)
        out_offsets = (b * n_channels + d[:, None]) * L + t[None, :]
        tl.store(out_ptr + out_offsets, y.to(out_ptr.dtype.element_ty), dl)


@triton.jit
def _run_last(runs):
    """runs (BLOCK_D, runs, RUN) -> (BLOCK_D, runs): each run's last value (a register of its thread)."""
    is_last = (tl.arange(0, runs.shape[2]) == runs.shape[2] - 1)[None, None, :]
    return tl.sum(tl.where(is_last, runs, 0.0), axis=2)


@triton.jit
def _chunk_states(a, xs, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """(states (BLOCK_D, CHUNK) of s_t = a_t s_{t-1} + xs_t from s = 0 before the chunk, the product of a
    over each run (BLOCK_D, CHUNK // RUN)): each run scanned in registers, then one scan across runs."""
    K: tl.constexpr = CHUNK // RUN
    a_runs, x_runs = tl.associative_scan((_runs(a, CHUNK, RUN), _runs(xs, CHUNK, RUN)), 2, _affine_combine)
    decays = _run_last(a_runs)
    ends = tl.associative_scan((decays, _run_last(x_runs)), 1, _affine_combine)[1]
    lanes = tl.broadcast_to(tl.arange(0, K)[None, :], ends.shape)
    entering = tl.where(lanes == 0, 0.0, tl.gather(ends, tl.maximum(lanes - 1, 0), 1))
    return tl.reshape(x_runs + a_runs * entering[:, :, None], a.shape), decays


@triton.jit
def _back_to_front(a, c, entering, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """g_t = c_t + a_{t+1} g_{t+1} within each run, back to front in registers, from `entering` (BLOCK_D,
    runs) = a_T g_T of the position T right of the run: g as runs (BLOCK_D, runs, RUN) in time order."""
    is_end = (tl.arange(0, RUN) == 0)[None, None, :]  # back to front: the run's last position first
    c_runs = tl.flip(_runs(c, CHUNK, RUN), 2)
    c_runs = tl.where(is_end, c_runs + entering[:, :, None], c_runs)
    a_runs = tl.flip(_runs(a, CHUNK, RUN), 2)
    g_runs = tl.associative_scan((a_runs, tl.full(a_runs.shape, 1.0, a.dtype), c_runs), 2, _adjoint_combine)[2]
    return tl.flip(g_runs, 2)


@triton.jit
def _adjoint(a, c, decays, carry, CHUNK: tl.constexpr, RUN: tl.constexpr):
    """The adjoint g_t = c_t + a_{t+1} g_{t+1} over a chunk (BLOCK_D, CHUNK), given the product of a over
    each run (`decays`) and carry = a_T g_T of the position T right of the chunk as a (BLOCK_D, runs) tile
    (the same value in every run); returns g and, in the same form, the carry a_{t0} g_{t0} to pass left.

    No right-to-left scan across lanes (Triton's reverse=True is not reliable for non-commutative
    combines, triton-lang/triton#4362): each run is scanned back to front in registers (its flip is a
    choice of register) from 0, which gives its map h -> decays h + H from the carry entering it on the
    right to the one leaving it on the left; the maps, gathered in right-to-left order (one value per
    thread), are scanned across lanes left to right; the runs are then scanned again from their carries."""
    K: tl.constexpr = CHUNK // RUN
    run_start = (tl.arange(0, RUN) == 0)[None, None, :]
    alone = _back_to_front(a, c, tl.zeros(decays.shape, a.dtype), CHUNK, RUN)
    H = tl.sum(tl.where(run_start, _runs(a, CHUNK, RUN) * alone, 0.0), axis=2)
    lanes = tl.broadcast_to(tl.arange(0, K)[None, :], H.shape)
    P, H = tl.gather(decays, K - 1 - lanes, 1), tl.gather(H, K - 1 - lanes, 1)  # runs right to left
    H = tl.where(lanes == 0, H + P * carry, H)
    leaving = tl.associative_scan((P, H), 1, _affine_combine)[1]
    entering = tl.where(lanes == K - 1, carry, tl.gather(leaving, tl.maximum(K - 2 - lanes, 0), 1))
    g = tl.reshape(_back_to_front(a, c, entering, CHUNK, RUN), a.shape)
    return g, tl.gather(leaving, tl.full(P.shape, K - 1, tl.int32), 1)


@triton.jit
def _replace(items, index: tl.constexpr, value):
    """The tuple `items` with items[index] replaced by value (per-state values kept in registers)."""
    result = ()
    for i in tl.static_range(len(items)):
        if i == index:
            result = result + (value,)
        else:
            result = result + (items[i],)
    return result


@triton.jit
def _scan_bwd_kernel(
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    starts_ptr,
    dout_ptr,
    dlast_ptr,
    du_ptr,
    ddelta_ptr,
    dA_ptr,
    dB_ptr,
    dC_ptr,
    dD_ptr,
    dz_ptr,
    dbias_ptr,
    ds0_ptr,
    stride_u_b,
    stride_u_d,
    stride_delta_b,
    stride_delta_d,
    stride_B_b,
    stride_B_n,
    stride_C_b,
    stride_C_n,
    stride_z_b,
    stride_z_d,
    n_channels,
    L,
    n_chunks,
    n_slots,
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr,
    N_STATE: tl.constexpr,
    CHUNK: tl.constexpr,
    RUN: tl.constexpr,
    COMPUTE: tl.constexpr,
):
    K: tl.constexpr = CHUNK // RUN
    b, d, d_ok, bias = _channel_block(bias_ptr, n_channels, HAS_BIAS, BLOCK_D, COMPUTE)
    D = tl.zeros((BLOCK_D,), COMPUTE)
    if HAS_D:
        D += tl.load(D_ptr + d, d_ok, other=0.0).to(COMPUTE)
    # per state n, as (BLOCK_D, runs) tiles: the adjoint carry a_T g_T from the chunk on the right (the same in
    # every run) and the runs' partial sums of dA
    carries, dA = (), ()
    for n in tl.static_range(N_STATE):
        dlast = tl.load(dlast_ptr + (b * n_channels + d) * N_STATE + n, d_ok, other=0.0).to(COMPUTE)
        carries = carries + (tl.broadcast_to(dlast[:, None], (BLOCK_D, K)),)
        dA = dA + (tl.zeros((BLOCK_D, K), COMPUTE),)
    dD = tl.zeros((BLOCK_D, K), COMPUTE)  # partial sums per run, as dA's
    dbias = tl.zeros((BLOCK_D, K), COMPUTE)
    slots = starts_ptr + (b * n_channels + d) * n_slots * N_STATE
    for i in range(n_chunks):
        c = n_chunks - 1 - i
        t, dl, u, raw, delta, drive = _chunk_inputs(
            u_ptr,
            delta_ptr,
            bias,
            b,
            d,
            d_ok,
            c,
            L,
            stride_u_b,
            stride_u_d,
            stride_delta_b,
            stride_delta_d,
            CHUNK,
            SOFTPLUS,
            COMPUTE,
        )
        out_offsets = (b * n_channels + d[:, None]) * L + t[None, :]
        dy = tl.load(dout_ptr + out_offsets, dl, other=0.0).to(COMPUTE)
        # what the loop over states does not need is used up before it or reloaded after it (registers)
        if HAS_Z:
            z = tl.load(z_ptr + b * stride_z_b + d[:, None] * stride_z_d + t[None, :], dl, other=0.0).to(COMPUTE)
            gate = _sigmoid(z)
            dz_per_y = dy * gate * (1.0 + z * (1.0 - gate))
            dy = dy * z * gate
        dD += tl.sum(_runs(dy * u, CHUNK, RUN), axis=2)
        y = u * D[:, None]  # + sum over n of C_t s_t
        tile_t = tl.broadcast_to(t[None, :], (BLOCK_D, CHUNK))
        d_drive = tl.zeros((BLOCK_D, CHUNK), COMPUTE)  # d(delta_t u_t), summed over n
        d_log_decays = tl.zeros((BLOCK_D, CHUNK), COMPUTE)  # sum over n of A_n g_t a_t s_{t-1}
        for n in tl.static_range(N_STATE):
            # B, C, dB, dC are zero-padded to whole chunks: their loads and atomics need no mask (channels
            # past the last add zeros)
            Bt = tl.load(B_ptr + b * stride_B_b + n * stride_B_n + tile_t)
            Ct = tl.load(C_ptr + b * stride_C_b + n * stride_C_n + tile_t)
            a, A = _decays(delta, A_ptr, d, d_ok, n, N_STATE, COMPUTE)
            x = drive * Bt
            s0 = tl.load(slots + c * N_STATE + n, d_ok, other=0.0)
            states, decays = _chunk_states(a, _with_start(x, a, s0, CHUNK, RUN), CHUNK, RUN)
            y += states * Ct
            tl.atomic_add(dC_ptr + b * stride_C_b + n * stride_C_n + tile_t, states * dy, sem="relaxed")
            g, carry = _adjoint(a, Ct * dy, decays, carries[n], CHUNK, RUN)
            carries = _replace(carries, n, carry)
            tl.atomic_add(dB_ptr + b * stride_B_b + n * stride_B_n + tile_t, g * drive, sem="relaxed")
            d_drive += g * Bt
            g_decay = g * (states - x)  # g_t a_t s_{t-1}: gradient of delta_t A_n
            dA = _replace(dA, n, dA[n] + tl.sum(_runs(g_decay * delta, CHUNK, RUN), axis=2))
            d_log_decays += g_decay * A[:, None]
        if HAS_Z:
            tl.store(dz_ptr + out_offsets, (dz_per_y * y).to(dz_ptr.dtype.element_ty), dl)
        u, raw = _load_rows(
            u_ptr, delta_ptr, bias, b, d, t, dl, stride_u_b, stride_u_d, stride_delta_b, stride_delta_d, COMPUTE
        )
        ddelta = d_drive * u + d_log_decays
        if SOFTPLUS:
            ddelta *= _sigmoid(raw)
        ddelta = tl.where(dl, ddelta, 0.0)
        dbias += tl.sum(_runs(ddelta, CHUNK, RUN), axis=2)
        du = d_drive * delta + dy * D[:, None]
        tl.store(du_ptr + out_offsets, du.to(du_ptr.dtype.element_ty), dl)
        tl.store(ddelta_ptr + out_offsets, ddelta.to(ddelta_ptr.dtype.element_ty), dl)
    first_run = tl.arange(0, K)[None, :] == 0
    for n in tl.static_range(N_STATE):
        state = (b * n_channels + d) * N_STATE + n
        tl.store(ds0_ptr + state, tl.sum(tl.where(first_run, carries[n], 0.0), axis=1), d_ok)
        tl.store(dA_ptr + state, tl.sum(dA[n], axis=1), d_ok)
    tl.store(dD_ptr + b * n_channels + d, tl.sum(dD, axis=1), d_ok)
    tl.store(dbias_ptr + b * n_channels + d, tl.sum(dbias, axis=1), d_ok)


# ----------------------------------------------------------------------------------------------
# PyTorch side: argument checks, launches, autograd.


def selective_scan_triton(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    initial_state=None,
    chunk_size=None,
):
    """mamba-ssm's `selective_scan_fn` (same positional order, plus `initial_state`) on the fused kernels;
    differentiable in every tensor argument. The output has u's dtype, the last state the compute dtype (fp32, fp64).
    `chunk_size` (a power of two; default CHUNK) is the positions per chunk, and the spacing of the
    saved states."""
    _check_shapes(u, delta, A, B, C, D, z, delta_bias, initial_state)
    _check_device(u)
    chunk_size = chunk_size or CHUNK
    if chunk_size < 2 or chunk_size & (chunk_size - 1):
        raise ValueError(f"selective_scan_triton: chunk_size must be a power of two >= 2, got {chunk_size}")
    tensors = (u, delta, A, B, C, D, z, delta_bias, initial_state)
    with torch.autocast(u.device.type, enabled=False):
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
            out, last = TritonScan.apply(*tensors, bool(delta_softplus), chunk_size)
        else:  # inference: no chunk start states kept for a backward
            out, last, _ = _forward(*tensors, bool(delta_softplus), chunk_size, save_starts=False)
    return (out, last) if return_last_state else out


def _check_shapes(u, delta, A, B, C, D, z, delta_bias, initial_state):
    if u.dim() != 3 or A.dim() != 2:
        raise ValueError(
            f"selective_scan_triton: u must be (batch, d_inner, length) and A (d_inner, d_state), "
            f"got {tuple(u.shape)} and {tuple(A.shape)}"
        )
    batch, channels, length = u.shape
    n_state = A.shape[-1]
    expected = {
        "delta": (delta, (batch, channels, length)),
        "A": (A, (channels, n_state)),
        "B": (B, (batch, n_state, length)),
        "C": (C, (batch, n_state, length)),
        "D": (D, (channels,)),
        "z": (z, (batch, channels, length)),
        "delta_bias": (delta_bias, (channels,)),
        "initial_state": (initial_state, (batch, channels, n_state)),
    }
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(
                f"selective_scan_triton: {name} has shape {tuple(tensor.shape)}, expected {shape} "
                "(u is (batch, d_inner, length), A (d_inner, d_state))"
            )


def _check_device(u):
    if u.device.type == "cpu" and not interpreter_active():
        raise RuntimeError(
            "selective_scan_triton runs on CPU tensors only in Triton's interpreter: set "
            "TRITON_INTERPRET=1 before triton is first imported (or use scan_impl 'torch')"
        )


def interpreter_active() -> bool:
    """Whether our kernels were built for Triton's interpreter (TRITON_INTERPRET=1 at import)."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(_scan_fwd_kernel, InterpretedFunction)


def _rows(t):
    """t with unit stride along time (the kernels take batch and row strides, not a time stride)."""
    return t if t.stride(-1) == 1 else t.contiguous()


def _compute_dtype(u):
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _launch(kernel, block_d, num_warps, inputs, buffers, n_chunks, n_slots, softplus, chunk):
    """`kernel` on `inputs` (u, delta, A, B, C, D, z, delta_bias, as both kernels take them first) and
    its own `buffers`, then the strides, sizes and flags that both kernels take after those."""
    u, delta, A, B, C, D, z, delta_bias = inputs
    batch, channels, length = u.shape
    kernel[(triton.cdiv(channels, block_d), batch)](
        *inputs,
        *buffers,
        *_strides(u, delta, B, C, z),
        channels,
        length,
        n_chunks,
        n_slots,
        HAS_D=D is not None,
        HAS_Z=z is not None,
        HAS_BIAS=delta_bias is not None,
        SOFTPLUS=softplus,
        BLOCK_D=block_d,
        N_STATE=A.shape[1],
        CHUNK=chunk,
        RUN=_run_length(u, chunk),
        COMPUTE=tl.float64 if u.dtype == torch.float64 else tl.float32,
        num_warps=num_warps,
    )


def _padded(t, dtype, n_chunks, chunk):
    """t (batch, rows, length) in `dtype`, zero-padded to whole chunks (padding positions have delta = 0
    and dy = 0, so zeros there add nothing: garbage could be NaN)."""
    padded = torch.zeros(*t.shape[:-1], n_chunks * chunk, dtype=dtype, device=t.device)
    padded[..., : t.shape[-1]] = t
    return padded


def _run_length(u, chunk):
    """Positions per thread in the kernels' tiles: those of one 16-byte load of u."""
    return min(chunk, 16 // u.element_size())


def _strides(u, delta, B, C, z):
    zs = (0, 0) if z is None else (z.stride(0), z.stride(1))
    return (
        u.stride(0),
        u.stride(1),
        delta.stride(0),
        delta.stride(1),
        B.stride(0),
        B.stride(1),
        C.stride(0),
        C.stride(1),
        *zs,
    )


def _forward(u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, chunk, save_starts):
    """(out, last state, the state at each chunk start or None): the forward kernel's launch.

    The kernel passes each state from chunk to chunk through `states` (B, D, slots, N): slot c holds the
    state at chunk c's start. With `save_starts` every chunk has its slot (kept for the backward);
    without, two slots are reused in turn."""
    u, delta = _rows(u), _rows(delta)
    z = None if z is None else _rows(z)
    compute = _compute_dtype(u)
    # B and C in the compute dtype: converting them in the kernel would cost an instruction per
    # (channel, state, position); here once per (state, position).
    B, C = (t.to(compute).contiguous() for t in (B, C))
    A, D, delta_bias = (None if t is None else t.contiguous() for t in (A, D, delta_bias))
    batch, channels, length = u.shape
    n_state = A.shape[1]
    n_chunks = triton.cdiv(length, chunk)
    n_slots = n_chunks + 1 if save_starts else 2
    out = torch.empty(u.shape, dtype=u.dtype, device=u.device)
    states = torch.empty(batch, channels, n_slots, n_state, dtype=compute, device=u.device)
    states[:, :, 0] = 0.0 if initial_state is None else initial_state.to(compute)
    inputs = (u, delta, A, B, C, D, z, delta_bias)
    _launch(_scan_fwd_kernel, BLOCK_D_FWD, NUM_WARPS_FWD, inputs, (out, states), n_chunks, n_slots, softplus, chunk)
    return out, states[:, :, n_chunks % n_slots], states if save_starts else None


class TritonScan(torch.autograd.Function):
    """Saves the inputs and the state at each chunk start; the backward recomputes the rest."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, chunk):
        out, last, starts = _forward(
            u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, chunk, save_starts=True
        )
        u, delta, B, C = (_rows(t) for t in (u, delta, B, C))
        z = None if z is None else _rows(z)
        A, D, delta_bias = (None if t is None else t.contiguous() for t in (A, D, delta_bias))
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
        du, ddelta = (
            torch.empty_like(u, memory_format=torch.contiguous_format),
            torch.empty_like(delta, memory_format=torch.contiguous_format),
        )
        dz = None if z is None else torch.empty_like(z, memory_format=torch.contiguous_format)
        B_rows, C_rows = (_padded(t, compute, starts.shape[2] - 1, ctx.chunk) for t in (B, C))
        dB, dC = torch.zeros_like(B_rows), torch.zeros_like(C_rows)
        dA, ds0 = (torch.empty(batch, channels, n_state, dtype=compute, device=u.device) for _ in range(2))
        dD, dbias = (torch.empty(batch, channels, dtype=compute, device=u.device) for _ in range(2))
        _launch(
            _scan_bwd_kernel,
            BLOCK_D_BWD,
            NUM_WARPS_BWD,
            (u, delta, A, B_rows, C_rows, D, z, delta_bias),
            (starts, dout, dlast, du, ddelta, dA, dB, dC, dD, dz, dbias, ds0),
            starts.shape[2] - 1,
            starts.shape[2],
            ctx.softplus,
            ctx.chunk,
        )
        grads = [
            du,
            ddelta,
            dA.sum(0).to(A.dtype),
            dB[..., :length].to(B.dtype),
            dC[..., :length].to(C.dtype),
            None if D is None else dD.sum(0).to(D.dtype),
            dz,
            None if delta_bias is None else dbias.sum(0).to(delta_bias.dtype),
            None if ctx.initial_state_dtype is None else ds0.to(ctx.initial_state_dtype),
            None,
            None,
        ]
        return tuple(grads)


def version_problem() -> str | None:
    """Why this triton is too old for the kernels, or None."""
    version = tuple(int(part) for part in triton.__version__.split(".")[:2])
    return (
        None
        if version >= MIN_TRITON
        else f"triton {triton.__version__} is older than {'.'.join(map(str, MIN_TRITON))}, the oldest checked"
    )
