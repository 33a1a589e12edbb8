"""The fused Triton scan equals the naive sequential scan: output, last state and every gradient.

Without a GPU the kernels run in Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1 before
triton is imported), which executes them element by element in NumPy: shapes stay tiny, with a small
chunk so that every case crosses several chunk boundaries and pads the last chunk. With a GPU the same
tests run the compiled kernels.
"""

import pytest
import torch
import torch.nn.functional as F

from seq2exp.models.scan import select
from seq2exp.models.scan import triton as scan_triton
from seq2exp.models.scan.chunked import random_scan_inputs, selective_scan, selective_scan_reference
from seq2exp.models.scan.triton import selective_scan_triton

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state")


def _inputs(length, batch=2, d_inner=3, d_state=3, seed=0, dtype=torch.float64, decay_shift=0.0):
    """d_inner 3 and d_state 3 leave padding lanes in the kernels' channel and state blocks."""
    gen = torch.Generator().manual_seed(seed)
    u, delta, A, B, C, D, z = random_scan_inputs(batch, d_inner, d_state, length, generator=gen)
    bias = torch.linspace(-1.0, 1.0, d_inner)
    s0 = torch.randn(batch, d_inner, d_state, generator=gen)
    return dict(u=u, delta=delta + decay_shift, A=A, B=B, C=C, D=D, z=z, delta_bias=bias, initial_state=s0)


def _loss_grads(scan_fn, tensors, kwargs, seed=1):
    """Output, last state, and the gradients of a random weighting of both w.r.t. every given tensor."""
    out, last = scan_fn(**tensors, **kwargs, return_last_state=True)
    gen = torch.Generator().manual_seed(seed)
    w_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device, out.dtype)
    w_last = torch.randn(last.shape, generator=gen, dtype=torch.float64).to(last.device, last.dtype)
    loss = (out * w_out).sum() + (last * w_last).sum()
    names = [k for k, v in tensors.items() if v is not None]
    return out, last, dict(zip(names, torch.autograd.grad(loss, [tensors[k] for k in names])))


def _compare(kernel_inputs, kwargs, chunk_size, rtol, atol, reference_inputs=None):
    """The kernel on DEVICE against the naive scan in float64 on the CPU (same inputs unless given)."""
    reference_inputs = reference_inputs or kernel_inputs
    ref = {k: None if v is None else v.double().requires_grad_() for k, v in reference_inputs.items()}
    ours = {k: None if v is None else v.to(DEVICE).requires_grad_() for k, v in kernel_inputs.items()}
    out_ref, last_ref, grads_ref = _loss_grads(selective_scan_reference, ref, kwargs)
    out, last, grads = _loss_grads(lambda **kw: selective_scan_triton(**kw, chunk_size=chunk_size), ours, kwargs)
    torch.testing.assert_close(out.cpu().double(), out_ref, rtol=rtol, atol=atol, msg="output")
    torch.testing.assert_close(last.cpu().double(), last_ref, rtol=rtol, atol=atol, msg="last state")
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        assert grads[name].dtype == ours[name].dtype, name
        torch.testing.assert_close(
            grads[name].cpu().double(),
            grads_ref[name],
            rtol=rtol,
            atol=atol,
            msg=lambda m, name=name: f"gradient of {name}: {m}",
        )
    return out


CASES = {
    # name: (length, chunk, delta_softplus, inputs left out, decay shift)
    "one_position": (1, 8, True, (), 0.0),
    "odd_length_all_inputs": (37, 8, True, (), 0.0),
    "whole_chunks_no_softplus_no_D_z_bias_state": (24, 8, False, ("D", "z", "delta_bias", "initial_state"), 1.5),
    "D_without_z": (21, 4, True, ("z",), 0.0),
    "z_without_D": (19, 16, True, ("D", "initial_state"), 0.0),
    "strong_decay": (29, 8, True, (), 6.0),  # delta |A| ~ 25 per position: decays underflow to 0 in a chunk
}


@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_reference_float64(case):
    length, chunk, softplus, left_out, shift = CASES[case]
    inputs = _inputs(length, decay_shift=shift)
    inputs = {k: None if k in left_out else v.double() for k, v in inputs.items()}
    _compare(inputs, dict(delta_softplus=softplus), chunk, rtol=1e-10, atol=1e-10)


def test_float32_inputs_compute_in_float32():
    """fp32 inputs: fp32 compute, against the float64 reference on the same values."""
    inputs = _inputs(27)
    out = _compare(inputs, dict(delta_softplus=True), 8, rtol=1e-5, atol=1e-5)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("length, chunk", [(23, 8), (70, scan_triton.CHUNK)])
def test_bfloat16_inputs_are_cast_to_float32_inside_the_kernel(length, chunk):
    """bf16 u, delta, B, C, z (as a bf16 Mamba block gives them; A, D, bias, state stay fp32): the
    kernel loads and casts them, so against the reference on the same rounded values only the output
    and the bf16 gradients' final rounding differ (relative 2^-8), not fp32 accumulation. At the
    default chunk, the kernels' real layout: runs of 8 positions, 8 runs per chunk."""
    inputs = _inputs(length)
    for name in ("u", "delta", "B", "C", "z"):
        inputs[name] = inputs[name].to(torch.bfloat16)
    out = _compare(inputs, dict(delta_softplus=True), chunk, rtol=2e-2, atol=2e-2)
    assert out.dtype == torch.bfloat16


def test_gradients_when_only_the_output_is_used():
    """As in a training step: no last state asked for, so autograd hands the backward zeros for it."""
    inputs = {k: v.double() for k, v in _inputs(13).items()}
    ref = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    ours = {k: v.to(DEVICE).requires_grad_() for k, v in inputs.items()}
    weights = torch.randn(2, 3, 13, dtype=torch.float64)
    expected = torch.autograd.grad((selective_scan_reference(**ref) * weights).sum(), list(ref.values()))
    out = selective_scan_triton(**ours, chunk_size=4)
    got = torch.autograd.grad((out * weights.to(DEVICE)).sum(), list(ours.values()))
    for name, a, b in zip(ours, got, expected):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")


def test_blocks_with_carried_state_equal_one_pass():
    inputs = {k: v.double() for k, v in _inputs(40).items()}
    del inputs["initial_state"]
    kernel = dict(delta_softplus=True, chunk_size=8)
    whole = selective_scan_triton(**{k: v.to(DEVICE) for k, v in inputs.items()}, **kernel)
    parts, state = [], None
    for lo in range(0, 40, 16):
        block = {k: (v[..., lo : lo + 16] if v.dim() == 3 else v).to(DEVICE) for k, v in inputs.items()}
        y, state = selective_scan_triton(**block, **kernel, initial_state=state, return_last_state=True)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=1e-12, atol=1e-12)


def test_mamba_mixer_streams_through_the_kernel(monkeypatch):
    """scan_impl 'triton': the streamed (state-carrying) forward calls the kernel with the state too."""
    from seq2exp.models.mamba import BackboneConfig, MambaMixer

    calls = []

    def spy(*args, initial_state=None, **kwargs):
        calls.append(initial_state is not None)
        return selective_scan_triton(*args, **kwargs, initial_state=initial_state, chunk_size=8)

    monkeypatch.setattr(scan_triton, "selective_scan_triton", spy)
    torch.manual_seed(0)
    mixer = MambaMixer(BackboneConfig(d_model=2, d_state=3, scan_impl="triton")).double().to(DEVICE)
    hidden = torch.randn(1, 20, 2, dtype=torch.float64, device=DEVICE)
    whole = mixer(hidden)
    streamed = mixer.forward_streamed(hidden, block_size=8)
    assert calls == [False, False, True, True]
    torch.testing.assert_close(streamed, whole, rtol=1e-10, atol=1e-10)


def test_bad_shapes_and_chunk_size_are_named():
    inputs = {k: v.to(DEVICE) for k, v in _inputs(5).items()}
    with pytest.raises(ValueError, match=r"B has shape \(2, 4, 5\), expected \(2, 3, 5\)"):
        selective_scan_triton(**{**inputs, "B": inputs["B"][:, :1].expand(2, 4, 5)})
    with pytest.raises(ValueError, match=r"u must be \(batch, d_inner, length\)"):
        selective_scan_triton(**{**inputs, "u": inputs["u"][0]})
    with pytest.raises(ValueError, match="chunk_size must be a power of two"):
        selective_scan_triton(**inputs, chunk_size=12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: real-size kernel checks need one")
def test_cuda_kernel_matches_chunked_torch_scan_at_real_size():
    """At d_inner 64, d_state 16, L 4,096 (many 64-position chunks): fp32 against the PyTorch scan
    (values and gradients), and the CUDA self-check that `auto` relies on passes."""
    assert select.triton_problem(0) is None
    gen = torch.Generator().manual_seed(0)
    u, delta, A, B, C, D, z = (t.cuda().requires_grad_() for t in random_scan_inputs(2, 64, 16, 4096, generator=gen))
    args = (u, delta, A, B, C, D, z)
    ours = selective_scan_triton(*args, delta_softplus=True)
    ref = selective_scan(*args, delta_softplus=True)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    weights = torch.randn_like(ref)
    for a, b in zip(
        torch.autograd.grad((ours * weights).sum(), args), torch.autograd.grad((ref * weights).sum(), args)
    ):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    assert torch.isfinite(selective_scan_triton(u, F.softplus(delta) + 6.0, A, B, C)).all()


def test_positional_arguments_follow_mamba_ssm_selective_scan_fn():
    """selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)."""
    inputs = {k: v.to(DEVICE) for k, v in _inputs(9).items()}
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    out, last = selective_scan_triton(*args, True, True)
    expected, expected_last = selective_scan_reference(*args, delta_softplus=True, return_last_state=True)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last, expected_last, rtol=1e-5, atol=1e-5)


def test_softplus_keeps_its_relative_accuracy_for_small_steps():
    """delta = softplus(raw) ~ 1e-4 in fp32: log(1 + e^raw) alone is off by ~6e-4 relative there. With
    u = B = C = 1 and no start state, y_0 = delta_0 exactly."""
    raw = torch.linspace(-10.0, -8.5, 8).reshape(1, 8, 1)
    ones = torch.ones(1, 1, 1)
    y = selective_scan_triton(
        torch.ones(1, 8, 1).to(DEVICE),
        raw.to(DEVICE),
        -torch.ones(8, 1).to(DEVICE),
        ones.to(DEVICE),
        ones.to(DEVICE),
        delta_softplus=True,
    )
    torch.testing.assert_close(y.cpu().double(), F.softplus(raw.double()), rtol=2e-6, atol=0)


@pytest.mark.parametrize("mode", ["no_grad", "no_input_requires_grad", "training"])
def test_chunk_start_states_are_kept_only_when_a_backward_can_run(mode, monkeypatch):
    kept = []

    def spy(*args, save_starts):
        result = forward(*args, save_starts=save_starts)
        kept.append(result[2] is not None)
        return result

    forward = scan_triton._forward
    monkeypatch.setattr(scan_triton, "_forward", spy)
    inputs = {k: v.to(DEVICE).requires_grad_(mode != "no_input_requires_grad") for k, v in _inputs(12).items()}
    with torch.set_grad_enabled(mode != "no_grad"):
        selective_scan_triton(**inputs, chunk_size=4)
    assert kept == [mode == "training"]


def test_triton_self_check_passes_under_no_grad():
    """The self-check `auto` caches runs a backward: under a caller's no_grad (a prediction as the first
    forward of a process) it must still pass, not report the kernel unusable. (Shorter than on CUDA, for
    the interpreter's sake.)"""
    with torch.no_grad():
        assert select.triton_self_check(torch.device(DEVICE), length=20) is None
