"""GPU benchmark: tokens/s and peak memory of the 4-layer d=128 Caduceus at 200 kb, batch 8, bf16 autocast,
forward+backward, against the memory-bandwidth bound of the scan.

    python benchmarks/bench_gpu.py [--length 200000] [--batch 8] [--impl auto|torch|mamba_ssm]

The bound counts only the scan's unavoidable traffic per layer and direction (read u, delta, z, B, C
and write y in the forward; read those plus dy and write their gradients in the backward), at the
device-to-device copy bandwidth measured here. Our PyTorch scan also writes and reads the
(B, d_inner, d_state, chunk) states in fp32 about 35 times per position (forward + recomputing
backward), which is why it sits far above that bound; mamba-ssm's fused kernel keeps them in SRAM.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def copy_bandwidth(n_bytes: int = 1 << 30) -> float:
    src = torch.empty(n_bytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    torch.cuda.synchronize()
    return 2 * n_bytes * 10 / (time.perf_counter() - start)  # read + write


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--impl", default="auto")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure")
        return 0
    from seq2exp.models import Caduceus
    from seq2exp.models.mamba import BackboneConfig

    cfg = BackboneConfig(d_model=128, n_layer=4, scan_impl=args.impl)
    model = Caduceus(cfg).cuda()
    x = torch.randn(args.batch, args.length, cfg.d_model, device="cuda")

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(x)
        out.float().sum().backward()

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    repeats = 3
    for _ in range(repeats):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / repeats
    tokens = args.batch * args.length
    bandwidth = copy_bandwidth()
    per_position = (3 * cfg.d_inner + 2 * cfg.d_state + cfg.d_inner) * 2  # bf16 u, delta, z, B, C in; y out
    scan_bytes = 2 * cfg.n_layer * tokens * per_position * 3  # two directions; backward ~2x the forward
    bound = scan_bytes / bandwidth
    print(f"{torch.cuda.get_device_name()} | impl {args.impl} | L {args.length} | batch {args.batch} | bf16")
    print(
        f"forward+backward {seconds:.2f} s, {tokens / seconds:,.0f} tokens/s, "
        f"peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    )
    print(
        f"copy bandwidth {bandwidth / 1e9:,.0f} GB/s; scan traffic bound {bound * 1e3:.1f} ms "
        f"({tokens / bound:,.0f} tokens/s): {seconds / bound:.0f}x off"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
