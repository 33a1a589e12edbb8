"""CPU benchmark of the selective scan inside whole models; prints tables.

    python benchmarks/bench_scan.py            # everything (~10 min on 2 cores)
    python benchmarks/bench_scan.py --quick    # L = 1,000 and 2,000 only, no 200 kb
    python benchmarks/bench_scan.py --threads 1 --rounds 3   # one thread, three alternating rounds

Each measurement runs in a fresh subprocess so that its peak memory (max RSS) is its own.
Compared side by side: our chunked scan, the naive sequential scan (same model, one position at a
time), and mambapy (PyPI, Blelloch parallel scan) in the same bidirectional 4-layer architecture.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn as nn

THREADS = torch.get_num_threads()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MambapyBiMamba(nn.Module):
    """mambapy blocks arranged like our Caduceus: pre-norm residual, add of both directions, tied projections."""

    def __init__(self, d_model: int, n_layer: int, d_state: int):
        super().__init__()
        from mambapy.mamba import MambaBlock, MambaConfig, RMSNorm

        cfg = MambaConfig(d_model=d_model, n_layers=n_layer, d_state=d_state)
        self.norms = nn.ModuleList(RMSNorm(d_model) for _ in range(n_layer))
        self.fwd = nn.ModuleList(MambaBlock(cfg) for _ in range(n_layer))
        self.rev = nn.ModuleList(MambaBlock(cfg) for _ in range(n_layer))
        for f, r in zip(self.fwd, self.rev):
            r.in_proj.weight, r.out_proj.weight = f.in_proj.weight, f.out_proj.weight
        self.norm_f = RMSNorm(d_model)

    def forward(self, x):
        for norm, f, r in zip(self.norms, self.fwd, self.rev):
            h = norm(x)
            x = x + f(h) + r(h.flip(1)).flip(1)
        return self.norm_f(x)


def build(impl: str, d_model: int, n_layer: int):
    from seq2exp.models import Caduceus
    from seq2exp.models.mamba import BackboneConfig, MambaMixer
    from seq2exp.models.scan.chunked import selective_scan_reference

    if impl == "mambapy":
        return MambapyBiMamba(d_model, n_layer, 16)
    model = Caduceus(BackboneConfig(d_model=d_model, n_layer=n_layer, scan_impl="torch"))
    if impl == "naive":
        for m in model.modules():
            if isinstance(m, MambaMixer):
                m._scan, m._scan_device = selective_scan_reference, torch.device("cpu")
    return model


def measure(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `repeats` calls after one warm-up call (repeats 1: no warm-up).
    CPU time (all threads) is the robust figure when other processes share the cores."""
    if repeats > 1:
        fn()
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return sorted(times)[len(times) // 2]


def child(args) -> dict:
    from seq2exp.models import build_model, tune_allocator

    torch.set_num_threads(args.threads)
    tuned = tune_allocator() if args.tune else False
    torch.manual_seed(0)
    base = peak_rss_mb()
    if args.kind == "backbone":
        model = build(args.impl, args.d_model, args.n_layer)
        x = torch.randn(args.batch, args.length, args.d_model)

        def step():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
    elif args.kind == "demo":
        model = build_model("seq2exp_soft", {"d_model": args.d_model, "n_layer": args.n_layer, "scan_impl": "torch"})
        L = args.length
        batch = {
            "dna": torch.eye(4)[torch.randint(0, 4, (args.batch, L))],
            "signals": torch.rand(args.batch, L, 3),
            "features": torch.randn(args.batch, 9),
            "target": torch.rand(args.batch),
        }

        def step():
            model.zero_grad(set_to_none=True)
            model.loss(model(batch), batch["target"])[0].backward()
    else:  # streamed forward-only inference
        model = build("ours", args.d_model, args.n_layer).eval()
        x = torch.randn(args.batch, args.length, args.d_model)

        def step():
            with torch.no_grad():
                model(x, block_size=args.block)

    seconds, cpu = measure(step, args.repeats)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_mb": peak_rss_mb(),
        "above_start_mb": peak_rss_mb() - base,
        "tuned": tuned,
    }


def run(kind, impl, length, tune=True, d_model=128, n_layer=4, batch=1, repeats=3, block=16384) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        impl,
        str(length),
        "--threads",
        str(THREADS),
        "--d-model",
        str(d_model),
        "--n-layer",
        str(n_layer),
        "--batch",
        str(batch),
        "--repeats",
        str(repeats),
        "--block",
        str(block),
    ]
    if not tune:
        cmd.append("--no-tune")
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(results: list[dict]) -> dict:
    """The round with the least wall time (other processes only ever add time); an error if all failed."""
    ok = [r for r in results if "error" not in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else results[0]


def fmt(r: dict) -> str:
    if "error" in r:
        return f"{'failed: ' + r['error'][:60]:>33}"
    return f"{r['seconds']:7.2f} s {r['cpu']:7.2f} cpu-s {r['peak_mb']:6.0f} MB"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("KIND", "IMPL", "LENGTH"))
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--block", type=int, default=16384)
    parser.add_argument("--no-tune", dest="tune", action="store_false")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="alternating ours/mambapy processes per length")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    if args.child:
        args.kind, args.impl, args.length = args.child[0], args.child[1], int(args.child[2])
        print(json.dumps(child(args)))
        return

    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"torch {torch.__version__}, {THREADS} thread(s); wall s, CPU s (all threads), peak = max RSS; "
        f"load average {load} at start\n"
    )
    print("Forward+backward, 4 layers, d_model 128, d_state 16, expand 2, bidirectional, batch 1 (allocator tuned)")
    print(f"ours and mambapy alternate, {args.rounds} fresh process(es) each; the faster round of each is shown")
    lengths = (1000, 2000) if args.quick else (1000, 2000, 4000)
    print(f"{'L':>6} | {'ours (chunked)':>20} | {'mambapy':>20} | {'naive sequential':>20} | speed-up vs mambapy")
    for L in lengths:
        rounds = [(run("backbone", "ours", L), run("backbone", "mambapy", L)) for _ in range(args.rounds)]
        ours, mpy = (best([r[i] for r in rounds]) for i in (0, 1))
        naive = run("backbone", "naive", L, repeats=1) if L <= 1000 else {"error": "skipped (minutes)"}
        ok = "error" not in ours and "error" not in mpy
        ratio = f"{mpy['seconds'] / ours['seconds']:4.1f}x, {mpy['cpu'] / ours['cpu']:4.1f}x" if ok else "n/a"
        print(f"{L:>6} | {fmt(ours)} | {fmt(mpy)} | {fmt(naive)} | {ratio}", flush=True)

    print("\nAllocator tuning (mallopt M_MMAP_THRESHOLD = 32 MiB), forward+backward at L = 2,000")
    for impl in ("ours", "mambapy"):
        on, off = run("backbone", impl, 2000), run("backbone", impl, 2000, tune=False)
        print(f"{impl:>8}: tuned {fmt(on)} | default {fmt(off)} | {off['cpu'] / on['cpu']:4.1f}x cpu", flush=True)

    print("\nDemo model: Seq2Exp-soft training step (generator + predictor), d_model 32, 2 layers, L = 2,000, batch 8")
    print(f"  ours: {fmt(run('demo', 'ours', 2000, d_model=32, n_layer=2, batch=8))}", flush=True)

    if not args.quick:
        print("\nForward only at 200 kb, streamed in 16,384-position blocks, 4 layers, d_model 128, batch 1")
        print(f"  ours: {fmt(run('stream', 'ours', 200_000, repeats=1))}", flush=True)
    print(f"\nload average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
