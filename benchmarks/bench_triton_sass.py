"""The Triton scan kernels as an H200 would run them, estimated from their machine code; no GPU needed.

    python benchmarks/bench_triton_sass.py            # the kernels' configuration, batch 8, d_inner 256, L 200,000

Compiles the forward and backward kernels offline for sm_90a (Triton's own ptxas), with the argument
types and 16-divisibility a launch at that size gives (bf16 u, delta, z, dy as a bf16 Mamba block gives
them; fp32 A, D, bias, states; B and C cast to fp32, as both kernels read them), and prints registers, spills,
and SASS instructions and warp shuffles per (batch, channel, state, position) element: the count of one
pass of the chunk loop (straight-line: the loop over states is unrolled) divided by the elements one
thread handles in it. The estimate of each kernel is the larger of its instruction issue time at the
H200's rate and its bytes at HBM bandwidth; the floor counts bytes only, each tensor read or written once.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from seq2exp.models.scan import triton as scan_triton

BIN = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
HBM_BYTES_PER_S = 4.8e12  # H200
THREAD_INSTRUCTIONS_PER_S = 3.3e13  # H200: 132 SMs x 4 schedulers x ~1.98 GHz x 32 lanes
BF16_ARGS = {"u_ptr", "delta_ptr", "z_ptr", "out_ptr", "dout_ptr", "du_ptr", "ddelta_ptr", "dz_ptr"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--d-inner", type=int, default=256)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--length", type=int, default=200_000)
    return parser.parse_args()


def int_values(args, backward):
    """The integer arguments' values at this size (their 16-divisibility is specialised on at launch)."""
    chunk = scan_triton.CHUNK
    n_chunks = triton.cdiv(args.length, chunk)
    channel_stride, state_stride = args.d_inner * args.length, args.d_state * args.length
    values = dict(
        stride_u_b=channel_stride,
        stride_u_d=args.length,
        stride_delta_b=channel_stride,
        stride_delta_d=args.length,
        stride_B_b=state_stride,
        stride_B_n=args.length,
        stride_C_b=state_stride,
        stride_C_n=args.length,
        stride_z_b=channel_stride,
        stride_z_d=args.length,
        n_channels=args.d_inner,
        L=args.length,
        n_chunks=n_chunks,
        n_slots=n_chunks + 1,
    )
    return values


def compile_kernel(args, backward):
    kernel = scan_triton._scan_bwd_kernel if backward else scan_triton._scan_fwd_kernel
    block_d = scan_triton.BLOCK_D_BWD if backward else scan_triton.BLOCK_D_FWD
    warps = scan_triton.NUM_WARPS_BWD if backward else scan_triton.NUM_WARPS_FWD
    constexprs = dict(
        HAS_D=True,
        HAS_Z=True,
        HAS_BIAS=True,
        SOFTPLUS=True,
        BLOCK_D=block_d,
        CHUNK=scan_triton.CHUNK,
        COMPUTE=tl.float32,
    )
    constexprs.update(N_STATE=args.d_state, RUN=16 // 2)  # bf16 u: 8 positions per 16-byte load
    bf16 = BF16_ARGS  # both kernels read B, C cast to fp32
    ints = int_values(args, backward)
    signature, attrs = {}, {}
    for index, name in enumerate(kernel.arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
        elif name.endswith("_ptr"):
            signature[name] = "*bf16" if name in bf16 else "*fp32"
            attrs[(index,)] = [["tt.divisibility", 16]]
        else:
            signature[name] = "i64" if ints[name] >= 2**31 else "i32"
            if ints[name] % 16 == 0:
                attrs[(index,)] = [["tt.divisibility", 16]]
    compiled = triton.compile(
        ASTSource(kernel, signature, constexprs, attrs), target=GPUTarget("cuda", 90, 32), options={"num_warps": warps}
    )
    elements_per_thread = block_d * triton.next_power_of_2(args.d_state) * scan_triton.CHUNK / (32 * warps)
    return compiled, elements_per_thread, (block_d, scan_triton.CHUNK, warps)


def cuda_tool(contents, file_name: str, command) -> subprocess.CompletedProcess:
    """Runs a CUDA tool of BIN on `contents` written to a temporary `file_name`; `command(path, tmp)`
    gives the tool's name and arguments."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, file_name)
        with open(path, "wb" if isinstance(contents, bytes) else "w") as f:
            f.write(contents)
        tool, *arguments = command(path, tmp)
        return subprocess.run([os.path.join(BIN, tool), *arguments], capture_output=True, text=True, check=True)


def registers_and_spills(ptx):
    report = cuda_tool(
        ptx, "kernel.ptx", lambda path, tmp: ["ptxas", "-v", "--gpu-name=sm_90a", path, "-o", f"{tmp}/kernel.cubin"]
    ).stderr
    registers = int(re.search(r"Used (\d+) registers", report).group(1))
    spills = sum(map(int, re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report).groups()))
    return registers, spills


def loop_body(cubin):
    """Opcodes of the chunk loop: from the earliest backward branch target to the last backward branch."""
    sass = cuda_tool(cubin, "kernel.cubin", lambda path, tmp: ["cuobjdump", "-sass", path]).stdout
    code = [(int(m.group(1), 16), m.group(2)) for m in re.finditer(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);", sass)]
    loops = [
        (int(m.group(1), 16), address)
        for address, text in code
        if (m := re.search(r"\bBRA\b.*?(0x[0-9a-f]+)", text)) and int(m.group(1), 16) < address
    ]
    start, end = min(lo for lo, _ in loops), max(hi for _, hi in loops)
    opcode = lambda text: re.sub(r"^@!?U?P\w+\s+", "", text.strip()).split()[0].split(".")[0]  # noqa: E731
    return [opcode(text) for address, text in code if start <= address <= end]


def pass_bytes(args, backward):
    """(floor bytes, bytes this implementation moves) of one pass."""
    channel_rows, state_rows = args.batch * args.d_inner * args.length, args.batch * args.d_state * args.length
    chunk_states = args.batch * args.d_inner * triton.cdiv(args.length, scan_triton.CHUNK) * args.d_state * 4
    # B, C cast to fp32 first (read bf16, write fp32, kernel reads fp32); chunk-start states written, read back
    cast = 2 * (2 + 4 + 4 - 2) * state_rows
    if not backward:  # u, delta, z in, y out (bf16); B, C in (bf16)
        floor = 4 * 2 * channel_rows + 2 * 2 * state_rows
        return floor, floor + cast + chunk_states
    # u, delta, z, dy in and du, ddelta, dz out (bf16); B, C in (bf16); dB, dC out (fp32)
    floor = 7 * 2 * channel_rows + 2 * 2 * state_rows + 2 * 4 * state_rows
    return floor, floor + cast + chunk_states


def main():
    args = parse_args()
    elements = args.batch * args.d_inner * args.d_state * args.length
    print(
        f"triton {triton.__version__} | sm_90a offline | batch {args.batch} | d_inner {args.d_inner} | "
        f"d_state {args.d_state} | L {args.length:,} | {elements:.3g} (b, d, n, t) elements"
    )
    print(f"H200 figures: {HBM_BYTES_PER_S / 1e12:.1f} TB/s, {THREAD_INSTRUCTIONS_PER_S:.2g} thread instructions/s")
    estimates, floors = [], []
    for backward in (False, True):
        name = "backward" if backward else "forward"
        compiled, per_thread, (block_d, chunk, warps) = compile_kernel(args, backward)
        registers, spills = registers_and_spills(compiled.asm["ptx"])
        body = loop_body(compiled.asm["cubin"])
        counts = collections.Counter(body)
        per_element, shuffles = len(body) / per_thread, counts["SHFL"] / per_thread
        issue = elements * per_element / THREAD_INSTRUCTIONS_PER_S
        floor_bytes, moved_bytes = pass_bytes(args, backward)
        floor, memory = floor_bytes / HBM_BYTES_PER_S, moved_bytes / HBM_BYTES_PER_S
        estimate = max(issue, memory)
        estimates.append(estimate)
        floors.append(floor)
        top = ", ".join(f"{op} {n / per_thread:.1f}" for op, n in counts.most_common(8))
        print(f"\n{name}: BLOCK_D {block_d}, CHUNK {chunk}, {warps} warps; {registers} registers, {spills} spill bytes")
        print(
            f"  chunk loop: {len(body)} instructions, {counts['SHFL']} shuffles per thread for {per_thread:g} "
            f"elements: {per_element:.1f} instructions, {shuffles:.2f} shuffles per element ({top})"
        )
        print(
            f"  issue: {elements:.3g} x {per_element:.1f} / {THREAD_INSTRUCTIONS_PER_S:.2g} = {issue * 1e3:.2f} ms; "
            f"memory: {moved_bytes / 1e9:.2f} GB / {HBM_BYTES_PER_S / 1e12:.1f} TB/s = {memory * 1e3:.2f} ms; "
            f"estimate {estimate * 1e3:.2f} ms"
        )
        print(
            f"  floor: {floor_bytes / 1e9:.2f} GB / {HBM_BYTES_PER_S / 1e12:.1f} TB/s = {floor * 1e3:.2f} ms; "
            f"estimate / floor {estimate / floor:.1f}"
        )
        if backward:
            print(
                f"  not in the estimate: dB, dC atomic adds per element (as mamba-ssm's), 2 x {elements:.3g} fp32 = "
                f"{2 * elements * 4 / 1e9:.0f} GB read-modify-written in L2"
            )
    ratio = sum(estimates) / sum(floors)
    print(f"\nforward + backward: estimate {sum(estimates) * 1e3:.2f} ms, floor {sum(floors) * 1e3:.2f} ms")
    print(f"estimated fwd+bwd / floor: {ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
