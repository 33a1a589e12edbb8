"""The chunked selective scan equals the naive sequential scan (values and gradients)."""

import pytest
import torch
import torch.nn.functional as F

from seq2exp.models.scan.chunked import (
    MAX_DECAY,
    plan_segments,
    random_scan_inputs,
    selective_scan,
    selective_scan_reference,
)


def _inputs(batch=2, d_inner=6, d_state=4, length=150, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [t.to(dtype).requires_grad_() for t in random_scan_inputs(batch, d_inner, d_state, length, generator=gen)]


def _grads(out, inputs, seed=1):
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad((out * weights).sum(), inputs)


@pytest.mark.parametrize("length,chunk", [(1, 16), (150, 16), (150, 7), (333, 128)])
def test_chunked_scan_equals_reference_float64(length, chunk):
    inputs = _inputs(length=length)
    bias = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64, requires_grad=True)
    kwargs = dict(delta_bias=bias, delta_softplus=True)
    ref = selective_scan_reference(*inputs, **kwargs)
    ours = selective_scan(*inputs, **kwargs, chunk_size=chunk)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    for g_ours, g_ref in zip(_grads(ours, inputs + [bias]), _grads(ref, inputs + [bias])):
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-5, atol=1e-5)


def test_initial_and_last_state_match_reference_including_gradients():
    u, delta, A, B, C, D, z = _inputs(length=90)
    s0 = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    kwargs = dict(delta_softplus=True, initial_state=s0, return_last_state=True)
    y_ref, last_ref = selective_scan_reference(u, delta, A, B, C, **kwargs)
    y, last = selective_scan(u, delta, A, B, C, **kwargs, chunk_size=32)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(last, last_ref)
    loss_ref, loss = (y_ref.sum() + last_ref.pow(2).sum()), (y.sum() + last.pow(2).sum())
    for a, b in zip(
        torch.autograd.grad(loss, [u, delta, A, B, C, s0]), torch.autograd.grad(loss_ref, [u, delta, A, B, C, s0])
    ):
        torch.testing.assert_close(a, b)


def test_scan_in_blocks_with_carried_state_equals_one_pass():
    u, delta, A, B, C, D, z = (t.detach() for t in _inputs(length=200))
    whole = selective_scan(u, delta, A, B, C, D, z, delta_softplus=True)
    parts, state = [], None
    for lo in range(0, 200, 64):
        sl = slice(lo, lo + 64)
        y, state = selective_scan(
            u[..., sl],
            delta[..., sl],
            A,
            B[..., sl],
            C[..., sl],
            D,
            z[..., sl],
            delta_softplus=True,
            initial_state=state,
            return_last_state=True,
        )
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, -1), whole)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_strong_decay_is_split_and_stays_exact(dtype):
    """delta * |A| far beyond exp's range within a chunk: segments are cut, nothing overflows."""
    u, delta, A, B, C, D, z = (t.detach() for t in _inputs(length=300, dtype=dtype))
    delta = delta + 6.0  # softplus ~ 6, |A| up to ~4: decay ~ 25 per position
    segments = plan_segments(F.softplus(delta), A, 128)
    assert len(segments) > 300 // 128 + 1
    assert segments[0][0] == 0 and segments[-1][1] == 300
    assert all(a[1] == b[0] for a, b in zip(segments, segments[1:]))
    ours = selective_scan(u, delta, A, B, C, D, z, delta_softplus=True)
    ref = selective_scan_reference(*(t.double() for t in (u, delta, A, B, C, D, z)), delta_softplus=True)
    assert torch.isfinite(ours).all()
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(ours.double(), ref, rtol=tol, atol=tol)


def test_segments_respect_chunk_size_and_decay_bound():
    delta = F.softplus(torch.randn(2, 8, 1000) + 1.0)
    A = -torch.rand(8, 5) * 10
    segments = plan_segments(delta, A, 64)
    worst = (delta * (-A).amax(-1)[:, None]).amax(dim=(0, 1))
    for lo, hi in segments:
        assert 1 <= hi - lo <= 64
        assert worst[lo + 1 : hi].sum() <= MAX_DECAY[torch.float32]


def test_float32_scan_close_to_float64_reference():
    inputs64 = [t.detach() for t in _inputs(batch=1, d_inner=16, d_state=16, length=2000)]
    ref = selective_scan_reference(*inputs64, delta_softplus=True)
    ours = selective_scan(*(t.float() for t in inputs64), delta_softplus=True)
    torch.testing.assert_close(ours.double(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: GPU scan checks need one")
def test_cuda_scan_fp32_bf16_and_mamba_ssm_against_cpu_float64():
    """Ours on CUDA in fp32 and from bf16 inputs (state in fp32) against float64 on the CPU; mamba-ssm
    too where it imports. Tolerances: fp32 1e-4; bf16 inputs are rounded first, so the reference
    takes the same rounded inputs and the tolerance covers fp32 accumulation only."""
    inputs = [t.detach() for t in _inputs(batch=2, d_inner=64, d_state=16, length=4096)]
    ref = selective_scan_reference(*inputs, delta_softplus=True)
    cuda = [t.float().cuda() for t in inputs]
    torch.testing.assert_close(selective_scan(*cuda, delta_softplus=True).cpu().double(), ref, rtol=1e-4, atol=1e-4)
    rounded = [t.to(torch.bfloat16) for t in inputs]
    ref_bf16 = selective_scan_reference(*(t.double() for t in rounded), delta_softplus=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        ours_bf16 = selective_scan(*(t.cuda() for t in rounded), delta_softplus=True)
    assert ours_bf16.dtype == torch.float32
    torch.testing.assert_close(ours_bf16.cpu().double(), ref_bf16, rtol=1e-4, atol=1e-4)
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as err:  # noqa: BLE001 - any import failure means: not available here
        pytest.skip(f"mamba-ssm not importable: {err}")
    theirs = selective_scan_fn(*cuda, delta_softplus=True)
    torch.testing.assert_close(theirs.cpu().double(), ref, rtol=1e-3, atol=1e-3)


def test_time_major_views_give_the_same_values_and_gradients():
    """A Mamba block's delta, B, C, z may arrive as transposed (time-major) views; the scan makes them
    dense internally, which must not change values or gradients."""
    u, delta, A, B, C, D, z = _inputs(length=130)

    def time_major(t):  # same values, memory laid out as (batch, L, channels)
        return t.detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()

    views = [u, time_major(delta), A, time_major(B), time_major(C), D, time_major(z)]
    assert not views[1].is_contiguous()
    dense = selective_scan(u, delta, A, B, C, D, z, delta_softplus=True, chunk_size=32)
    strided = selective_scan(*views, delta_softplus=True, chunk_size=32)
    torch.testing.assert_close(strided, dense, rtol=0, atol=0)
    for a, b in zip(_grads(strided, views), _grads(dense, [u, delta, A, B, C, D, z])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_float32_segments_use_the_centred_decay_range():
    """With the decay of a freshly initialised block (|A| <= 16, delta <= ~0.15) fp32 segments span
    MAX_DECAY (factors centred within exp(+-60)), i.e. ~50 positions, and stay finite and exact."""
    gen = torch.Generator().manual_seed(3)
    u, _, _, B, C, D, z = random_scan_inputs(1, 32, 16, 600, generator=gen)
    delta = torch.full((1, 32, 600), 0.15)
    A = -torch.arange(1, 17, dtype=torch.float32).repeat(32, 1)
    segments = plan_segments(delta, A, 128)
    assert min(hi - lo for lo, hi in segments[:-1]) >= 45
    ours = selective_scan(u, delta, A, B, C, D, z)
    ref = selective_scan_reference(*(t.double() for t in (u, delta, A, B, C, D, z)))
    torch.testing.assert_close(ours.double(), ref, rtol=1e-4, atol=1e-4)


def test_mamba_mixer_channel_major_projections_match_linear_layers():
    """MambaMixer computes its projections as W @ h^T (dense (B, channels, L) rows for the scan);
    that must equal the nn.Linear formulation with the naive scan, values and gradients."""
    from seq2exp.models.mamba import BackboneConfig, MambaMixer

    torch.manual_seed(0)
    mixer = MambaMixer(BackboneConfig(d_model=16, d_state=4, scan_impl="torch", chunk_size=16)).double()
    h = torch.randn(2, 70, 16, dtype=torch.float64, requires_grad=True)

    def reference(h):
        cfg = mixer.cfg
        x, z = mixer.in_proj(h).transpose(1, 2).chunk(2, dim=1)
        x = F.silu(F.conv1d(F.pad(x, (cfg.d_conv - 1, 0)), mixer.conv1d.weight, mixer.conv1d.bias, groups=x.shape[1]))
        dt, B, C = mixer.x_proj(x.transpose(1, 2)).split([cfg.rank, cfg.d_state, cfg.d_state], dim=-1)
        delta = F.linear(dt, mixer.dt_proj.weight).transpose(1, 2)
        y = selective_scan_reference(
            x,
            delta,
            -torch.exp(mixer.A_log),
            B.transpose(1, 2),
            C.transpose(1, 2),
            mixer.D,
            z,
            delta_bias=mixer.dt_proj.bias,
            delta_softplus=True,
        )
        return mixer.out_proj(y.transpose(1, 2))

    ours, ref = mixer(h), reference(h)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    params = [h] + list(mixer.parameters())
    for a, b in zip(_grads(ours, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
