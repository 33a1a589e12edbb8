"""The choice of scan: ours on CPU, on CUDA mamba-ssm's kernel or ours in Triton after its self-check."""

import sys

import pytest

from seq2exp.models.scan import select
from seq2exp.models.scan.chunked import selective_scan
from seq2exp.models.scan.select import resolve_scan
from seq2exp.models.scan.triton import selective_scan_triton


def test_resolve_scan_on_cpu_is_ours_and_mamba_ssm_request_fails_clearly():
    assert resolve_scan("auto", "cpu") is selective_scan
    assert resolve_scan("torch", "cpu") is selective_scan
    with pytest.raises(RuntimeError, match="mamba_ssm"):
        resolve_scan("mamba_ssm", "cpu")
    with pytest.raises(ValueError, match="scan_impl"):
        resolve_scan("cuda_kernel", "cpu")


def test_auto_on_cuda_without_mamba_ssm_resolves_to_the_kernel_and_logs_once(monkeypatch, caplog):
    """CUDA faked: mamba-ssm made unimportable, the kernel's CUDA self-check stubbed as passed."""
    monkeypatch.setitem(sys.modules, "mamba_ssm", None)
    select.mamba_ssm_problem.cache_clear()
    select._log_choice.cache_clear()
    monkeypatch.setattr(select, "triton_problem", lambda device_index=0: None)
    with caplog.at_level("INFO", logger=select.__name__):
        assert resolve_scan("auto", "cuda") is selective_scan_triton
        assert resolve_scan("auto", "cuda") is selective_scan_triton
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("scan_impl 'auto' on cuda: fused Triton kernel (mamba-ssm: import failed")
    assert resolve_scan("auto", "cpu") is selective_scan

    monkeypatch.setattr(select, "triton_problem", lambda device_index=0: "kernel failed: planted")
    with pytest.warns(UserWarning, match="planted"):
        assert resolve_scan("auto", "cuda") is selective_scan
    with pytest.raises(RuntimeError, match="'triton' requested but unusable: kernel failed: planted"):
        resolve_scan("triton", "cuda")
    select.mamba_ssm_problem.cache_clear()
