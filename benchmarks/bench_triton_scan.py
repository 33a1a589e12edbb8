"""The fused Triton selective scan (scan_impl triton) against its floor and the other scans, on a GPU.

    python benchmarks/bench_triton_scan.py              # GPU: 200 kb, batch 8, d_model 128, d_state 16, bf16
    python benchmarks/bench_triton_scan.py --configs "8,2,64,2,4;4,2,64,4,4"   # tune the kernel
    python benchmarks/bench_triton_scan.py --smoke      # CPU: tiny sizes in Triton's interpreter (no figures)

On a short GPU lease, `--repeats 1` first: the chunked PyTorch scan's training step at 200 kb takes
seconds per call, and every figure is measured after one warm-up (compilation) call.

Prints, for one scan call (bf16 u, delta, z, B, C as a bf16 Mamba block gives them; fp32 A, D, bias)
and for one Seq2Exp-soft training step (two 4-layer bidirectional backbones, bf16 autocast, AdamW):
forward and forward+backward time, tokens/s and peak memory per scan implementation, and the
projected wall time of the paper's 50,000 steps.

The scan's floor is the larger of two bounds: bytes / memory bandwidth, with every input read once
and every output written once (forward: u, delta, z, B, C in, y out; backward: the same plus dy in,
their gradients out, dB and dC in fp32), at the device-to-device copy bandwidth measured here; and
B x D x N x L exponentials per pass (the backward recomputes them); forward+backward adds both passes' bounds at the exp
throughput measured here by a Triton kernel that does nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "--smoke" in sys.argv:
    os.environ["TRITON_INTERPRET"] = "1"  # the interpreter must be chosen before triton is first imported
import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from seq2exp.models.scan import triton as scan_triton  # noqa: E402

PAPER_STEPS = 50_000


@triton.jit
def _chained_exps(x_ptr, STEPS: tl.constexpr, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offsets)
    for _ in range(STEPS):
        x = tl.exp(x * -0.5)
    tl.store(x_ptr + offsets, x)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU in Triton's interpreter")
    parser.add_argument("--length", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--impls", default="triton,torch,mamba_ssm", help="comma-separated scan_impl values")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--configs",
        help="kernel configs for the scan call, 'FWD,BWD,CHUNK,WARPS_FWD,WARPS_BWD;...': "
        "channels per program forward and backward, positions per chunk, warps forward and "
        "backward; the first one is used "
        "for the training step (default: the kernel's)",
    )
    args = parser.parse_args()
    warps = f"{scan_triton.NUM_WARPS_FWD},{scan_triton.NUM_WARPS_BWD}"
    defaults = f"{scan_triton.BLOCK_D_FWD},{scan_triton.BLOCK_D_BWD},{scan_triton.CHUNK},{warps}"
    if args.smoke:
        args.length, args.batch, args.d_model, args.n_layer, args.d_state, args.repeats = 20, 1, 4, 1, 4, 1
        args.impls = "triton,torch"
        defaults = f"{scan_triton.BLOCK_D_FWD},{scan_triton.BLOCK_D_BWD},8,{warps}"  # 3 chunks
    args.configs = [tuple(int(x) for x in config.split(",")) for config in (args.configs or defaults).split(";")]
    return args


def use_config(config):
    (
        scan_triton.BLOCK_D_FWD,
        scan_triton.BLOCK_D_BWD,
        scan_triton.CHUNK,
        scan_triton.NUM_WARPS_FWD,
        scan_triton.NUM_WARPS_BWD,
    ) = config


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    """Mean seconds of `repeats` calls, after a warm-up call (compilation) on CUDA; peak GiB over them (CUDA)."""
    if device.type == "cuda":
        fn()
        synchronize(device)
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return (time.perf_counter() - start) / repeats, peak


def attempt(fn, *args):
    """fn(*args), or the reason it failed (out of memory, an unusable implementation) as a string."""
    try:
        return fn(*args)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return f"failed: {str(err).splitlines()[0][:100]}"


def copy_bandwidth(device, n_bytes=1 << 30):
    """Bytes per second read + written by a device-to-device copy."""
    src = torch.empty(n_bytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    seconds, _ = timed(lambda: dst.copy_(src), device, 10)
    return 2 * n_bytes / seconds


def exp_throughput(device, n=1 << 22, per_element=256):
    """Exponentials per second of a Triton kernel that only chains exps on data held in registers."""
    x = torch.rand(n, device=device)
    block = 1024
    seconds, _ = timed(lambda: _chained_exps[(n // block,)](x, STEPS=per_element, BLOCK=block), device, 5)
    return n * per_element / seconds


def scan_inputs(args, device):
    from seq2exp.models.scan.chunked import random_scan_inputs

    d_inner = 2 * args.d_model
    gen = torch.Generator().manual_seed(0)
    u, delta, A, B, C, D, z = random_scan_inputs(args.batch, d_inner, args.d_state, args.length, generator=gen)
    bias = torch.full((d_inner,), -4.0)  # softplus ~ 0.02, as dt_proj's initial bias gives
    low = [t.to(device, torch.bfloat16).requires_grad_() for t in (u, delta, B, C, z)]
    full = [t.to(device).requires_grad_() for t in (A, D, bias)]
    u, delta, B, C, z = low
    A, D, bias = full
    return (u, delta, A, B, C, D, z), bias


def scan_bytes(args, backward):
    """Bytes read and written once: bf16 (B, D, L) and (B, N, L) tensors; fp32 dB, dC in the backward."""
    d_inner, tokens = 2 * args.d_model, args.batch * args.length
    channel_rows = 4 if not backward else 4 + 3  # u, delta, z in, y out; + dy in, du, ddelta, dz out
    state_rows = 2 * 2 if not backward else 2 * 2 + 2 * 4  # B, C bf16; + dB, dC fp32
    return tokens * (channel_rows * d_inner * 2 + state_rows * args.d_state)


def bench_scan(args, impl, device):
    from seq2exp.models.scan.select import resolve_scan

    scan = resolve_scan(impl, device)
    inputs, bias = scan_inputs(args, device)
    kwargs = dict(delta_bias=bias, delta_softplus=True)

    def forward():
        with torch.no_grad():
            scan(*inputs, **kwargs)

    def forward_backward():
        out = scan(*inputs, **kwargs)
        torch.autograd.grad(out.float().sum(), [*inputs, bias])

    return timed(forward, device, args.repeats), timed(forward_backward, device, args.repeats)


def bench_step(args, impl, device):
    from seq2exp.models import build_model

    torch.manual_seed(0)
    model = build_model(
        "seq2exp_soft", {"d_model": args.d_model, "n_layer": args.n_layer, "d_state": args.d_state, "scan_impl": impl}
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    L = args.length
    batch = {
        "dna": torch.eye(4, device=device)[torch.randint(0, 4, (args.batch, L), device=device)],
        "signals": torch.rand(args.batch, L, 3, device=device),
        "features": torch.randn(args.batch, 9, device=device),
        "target": torch.rand(args.batch, device=device),
    }
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def forward():
        with autocast:
            model.loss(model(batch), batch["target"])

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = model.loss(model(batch), batch["target"])[0]
        loss.backward()
        optimizer.step()

    return timed(forward, device, args.repeats), timed(step, device, args.repeats)


def row(name, result, tokens, floor=None):
    if isinstance(result, str):
        return f"{name:<28} {result}"
    seconds, peak = result
    text = f"{name:<28} {seconds * 1e3:10.2f} ms {tokens / seconds:>16,.0f} tokens/s   peak {peak:6.2f} GiB"
    return text + (f"   {seconds / floor:6.1f}x floor" if floor else "")


def main():
    args = parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if device.type == "cpu" and not args.smoke:
        print("no CUDA device: nothing to measure (run with --smoke to check that the script runs)")
        return 0
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU, Triton interpreter (smoke: no figures)"
    tokens = args.batch * args.length
    d_inner = 2 * args.d_model
    print(
        f"{name} | torch {torch.__version__} | triton {triton.__version__} | "
        f"L {args.length:,} | batch {args.batch} | d_inner {d_inner} | d_state {args.d_state} | bf16"
    )

    bandwidth, exps = (
        copy_bandwidth(device, 1 << 20 if args.smoke else 1 << 30),
        exp_throughput(device, *((1 << 10, 4) if args.smoke else ())),
    )
    n_exp = args.batch * d_inner * args.d_state * args.length
    # forward+backward: the forward's bytes and exponentials, then the backward's (which recomputes the exps)
    passes = [max(scan_bytes(args, backward) / bandwidth, n_exp / exps) for backward in (0, 1)]
    floors = [passes[0], sum(passes)]
    fwd_bwd_bytes = scan_bytes(args, 0) + scan_bytes(args, 1)
    print(
        f"copy bandwidth {bandwidth / 1e9:,.0f} GB/s; exp throughput {exps / 1e12:,.2f} T/s; floor of one scan: "
        f"forward {floors[0] * 1e3:.2f} ms ({scan_bytes(args, 0) / 1e9:.2f} GB, {n_exp / 1e9:.2f} G exp), "
        f"forward+backward {floors[1] * 1e3:.2f} ms ({fwd_bwd_bytes / 1e9:.2f} GB, {2 * n_exp / 1e9:.2f} G exp)"
    )

    impls = args.impls.split(",")
    print(
        "\nOne scan call (one layer, one direction); triton configs: channels per program forward,backward,"
        "chunk,warps forward,backward"
    )
    scan_results = {}
    runs = [(impl, config) for impl in impls for config in (args.configs if impl == "triton" else [None])]
    for impl, config in runs:
        if config:
            use_config(config)
        label = f"{impl} {','.join(map(str, config))}" if config else impl
        result = attempt(bench_scan, args, impl, device)
        scan_results.setdefault(impl, result)
        if isinstance(result, str):
            print(row(label, result, tokens))
            continue
        print(row(f"{label} forward", result[0], tokens, floors[0]))
        print(row(f"{label} fwd+bwd", result[1], tokens, floors[1]))
    use_config(args.configs[0])
    ours, theirs = scan_results.get("triton"), scan_results.get("torch")
    if isinstance(ours, tuple) and isinstance(theirs, tuple):
        print(
            f"triton vs chunked PyTorch scan: forward {theirs[0][0] / ours[0][0]:.1f}x, "
            f"forward+backward {theirs[1][0] / ours[1][0]:.1f}x faster"
        )

    print(
        f"\nOne Seq2Exp-soft training step ({args.n_layer} layers, d_model {args.d_model}, AdamW; "
        f"triton config {','.join(map(str, args.configs[0]))})"
    )
    for impl in impls:
        result = attempt(bench_step, args, impl, device)
        if isinstance(result, str):
            print(row(impl, result, tokens))
            continue
        print(row(f"{impl} forward", result[0], tokens))
        print(row(f"{impl} training step", result[1], tokens))
        hours = result[1][0] * PAPER_STEPS / 3600
        print(f"{'':<28} {PAPER_STEPS:,} steps: {hours:,.1f} h per model on this device")
    return 0


if __name__ == "__main__":
    sys.exit(main())
