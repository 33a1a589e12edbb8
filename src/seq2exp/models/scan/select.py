"""Choosing the selective scan: mamba-ssm's CUDA kernel when it imports and agrees, else our fused
Triton kernel (triton.py) on CUDA when it passes its self-check, else the chunked PyTorch scan
(chunked.py). Each self-check compares a kernel with the PyTorch scan on a small input."""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Callable

import torch

from .chunked import random_scan_inputs, selective_scan

SCAN_IMPLS = ("auto", "torch", "triton", "mamba_ssm")
ScanFn = Callable[..., torch.Tensor]
log = logging.getLogger(__name__)


def resolve_scan(impl: str = "auto", device: torch.device | str = "cpu") -> ScanFn:
    """The scan function for `impl` in SCAN_IMPLS on `device`.

    "torch": ours in PyTorch. "mamba_ssm": mamba-ssm's kernel, an error if it is unusable. "triton":
    our fused kernel, an error if it is unusable (on CPU tensors it runs only in Triton's interpreter,
    for tests). "auto": on CUDA mamba-ssm's kernel if it imports and passes a self-check, else the
    Triton kernel if it passes its self-check, else the PyTorch scan (with a warning); on other
    devices the PyTorch scan. The choice is logged once per (impl, device).
    """
    if impl not in SCAN_IMPLS:
        raise ValueError(f"scan_impl must be one of {SCAN_IMPLS}, got {impl!r}")
    device = torch.device(device)
    if impl == "torch" or (impl == "auto" and device.type != "cuda"):
        return _chosen(impl, device, selective_scan, "PyTorch chunked scan")
    problem = None  # why mamba-ssm's kernel is not used, where it was wanted
    if impl in ("auto", "mamba_ssm"):
        problem = mamba_ssm_problem(device.index or 0) if device.type == "cuda" else "device is not CUDA"
        if problem is None:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

            return _chosen(impl, device, selective_scan_fn, "mamba-ssm selective_scan_fn")
        if impl == "mamba_ssm":
            raise RuntimeError(f"scan_impl 'mamba_ssm' requested but unusable: {problem}")
    kernel, kernel_problem = triton_scan(device)
    if kernel_problem is None:
        return _chosen(impl, device, kernel, "fused Triton kernel" + (f" (mamba-ssm: {problem})" if problem else ""))
    if impl == "triton":
        raise RuntimeError(f"scan_impl 'triton' requested but unusable: {kernel_problem}")
    warnings.warn(
        f"mamba-ssm selective scan unusable ({problem}) and the Triton kernel too ({kernel_problem}); "
        "using the PyTorch chunked scan",
        stacklevel=2,
    )
    return _chosen(impl, device, selective_scan, "PyTorch chunked scan")


def triton_scan(device: torch.device) -> tuple[ScanFn | None, str | None]:
    """(our Triton scan, None) when it is usable on `device`, else (None, why not)."""
    try:
        from . import triton as scan_triton
    except Exception as err:  # triton missing, or it fails to load
        return None, f"import failed: {err}"
    if scan_triton.version_problem():
        problem = scan_triton.version_problem()
    elif device.type == "cuda":
        problem = triton_problem(device.index or 0)
    elif not scan_triton.interpreter_active():
        problem = f"device is {device.type}, not CUDA, and Triton's interpreter is off"
    else:
        problem = None
    return (None, problem) if problem else (scan_triton.selective_scan_triton, None)


def _chosen(impl: str, device: torch.device, scan: ScanFn, name: str) -> ScanFn:
    _log_choice(impl, str(device), name)
    return scan


@functools.lru_cache(maxsize=None)
def _log_choice(impl: str, device: str, name: str) -> None:
    log.info("scan_impl %r on %s: %s", impl, device, name)


@functools.lru_cache(maxsize=None)
def triton_problem(device_index: int = 0) -> str | None:
    """None when our Triton kernels compile on this CUDA device and match the PyTorch scan, else why not."""
    return triton_self_check(torch.device("cuda", device_index))


def triton_self_check(device: torch.device, length: int = 300) -> str | None:
    """None when the Triton scan's output and gradients on `device` (at `length` positions) match the
    PyTorch scan's, else why not.
    Gradients are on whatever the caller's mode: a process's first forward is often a prediction under
    no_grad, and the cached verdict must not depend on it."""
    from .triton import selective_scan_triton

    gen = torch.Generator(device="cpu").manual_seed(0)
    with torch.enable_grad():
        args = [t.to(device).requires_grad_() for t in random_scan_inputs(2, 8, 4, length, generator=gen)]
        try:
            theirs = selective_scan_triton(*args, delta_softplus=True)
            theirs_grads = torch.autograd.grad(theirs.sum(), args)
        except Exception as err:  # compilation or launch failure: no usable kernel here
            return f"kernel failed: {err}"
        ours = selective_scan(*args, delta_softplus=True)
        ours_grads = torch.autograd.grad(ours.sum(), args)
    for name, a, b in zip(
        ("output", "du", "ddelta", "dA", "dB", "dC", "dD", "dz"), (theirs, *theirs_grads), (ours, *ours_grads)
    ):
        error = (a - b).abs().max().item()
        if not error <= 1e-3 * (1 + b.abs().max().item()):
            return f"self-check mismatch in {name} (max abs difference {error:.3g})"
    return None


@functools.lru_cache(maxsize=None)
def mamba_ssm_problem(device_index: int = 0) -> str | None:
    """None when mamba-ssm's selective scan imports and matches ours on a small input, else why not."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as err:  # ImportError, or a missing/incompatible CUDA extension
        return f"import failed: {err}"
    device = torch.device("cuda", device_index)
    gen = torch.Generator(device="cpu").manual_seed(0)
    args = random_scan_inputs(2, 8, 4, 300, generator=gen)
    args = [t.to(device) for t in args]
    try:
        theirs = selective_scan_fn(*args, delta_softplus=True)
    except Exception as err:
        return f"kernel failed: {err}"
    ours = selective_scan(*args, delta_softplus=True)
    error = (theirs - ours).abs().max().item()
    if not error <= 1e-3 * (1 + ours.abs().max().item()):
        return f"self-check mismatch (max abs difference {error:.3g})"
    return None
