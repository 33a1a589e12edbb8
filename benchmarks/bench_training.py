"""Training-step speed of every table model: steps/s, samples/s and tokens (bases)/s of forward +
backward + AdamW step, parameters and peak memory, side by side.

    python benchmarks/bench_training.py                    # demo sizes (config/demo.yaml), CPU, 1 thread
    python benchmarks/bench_training.py --threads 2 --steps 10
    python benchmarks/bench_training.py --models mamba hyenadna enformer epinformer   # the DNA baselines
    python benchmarks/bench_training.py --paper            # the paper's sizes (config/config.yaml) on the GPU
    nice python benchmarks/bench_training.py --paper --device cpu --batch 1 --warmup 0 --steps 1 --threads 2 \
        --models seq2exp-soft caduceus                     # one paper-size step on the CPU (minutes; capped RSS)
    python benchmarks/bench_training.py --paper --device cpu --batch 1 --half-width 10000 --profile   # what dominates

Batches are random inputs of the configured window, with peaks as 50 bp blocks over about 10% of
it (EPInformer's candidate enhancers); each model runs in a fresh process (peak memory is its own:
the process's maximum resident set on a CPU, so it includes torch itself; allocated memory on a
GPU). On a GPU the step runs under bf16 autocast, as the trainer does. A CPU step also reports its
CPU seconds (all threads), which other jobs sharing the machine inflate less than its wall time; a
model whose process passes `--max-rss-gb` is stopped and reported with the memory it reached.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD_SETUP = r"""
import contextlib, json, sys, time, resource
import torch
from seq2exp.config import load_config, validate_config
from seq2exp.training.specs import MODEL_SPECS, model_options
from seq2exp.models import build_model, one_hot, tune_allocator
tune_allocator()
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
config = validate_config(load_config(args["config"]), args["schema"])
"""  # the start of a benchmark's fresh process: args (JSON in argv[1]), threads, the validated config
STEP = (
    CHILD_SETUP
    + r"""
spec = MODEL_SPECS[args["model"]]
device = args["device"]
model = build_model(spec.registry_name, model_options(config, args["model"])).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
batch_size = args["batch"] or config["training"]["batch_size"]
length = 2 * (args["half_width"] or config["window"]["half_width"])
g = torch.Generator().manual_seed(0)
batch = {"dna": one_hot(torch.randint(0, 4, (batch_size, length), generator=g)),
         "signals": torch.rand(batch_size, length, 3, generator=g), "features": torch.randn(batch_size, 9, generator=g),
         "target": torch.randn(batch_size, generator=g), "blacklist": torch.zeros(batch_size, length, dtype=torch.bool),
         "mask": (torch.rand(batch_size, length, generator=g) < 0.1).float(),
         "peaks": (torch.rand(batch_size, -(-length // 50), generator=g) < 0.1).repeat_interleave(50, 1)[:, :length]}
batch = {k: v.to(device) for k, v in batch.items()}
def step():
    optimizer.zero_grad()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
        loss, _ = model.loss(model(batch), batch["target"])
    loss.backward()
    optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
for _ in range(args["warmup"]):
    step()
profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if args["profile"] else None
start, cpu_start = time.perf_counter(), time.process_time()
with profiler or contextlib.nullcontext() as profile:
    for _ in range(args["steps"]):
        step()
seconds = (time.perf_counter() - start) / args["steps"]
cpu_seconds = (time.process_time() - cpu_start) / args["steps"]
if profile:
    print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), file=sys.stderr)
memory = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "memory_mb": memory, "device": device,
                  "batch": batch_size, "length": length, "parameters": sum(p.numel() for p in model.parameters())}))
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper", action="store_true", help="the paper's sizes (config/config.yaml)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda if there is one")
    parser.add_argument("--batch", type=int, default=None, help="default: the config's training.batch_size")
    parser.add_argument("--half-width", type=int, default=None, help="default: the config's window.half_width")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="stop a CPU model's process above this")
    parser.add_argument("--profile", action="store_true", help="print the ops of the timed steps by CPU time")
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args()
    config = REPO / "config" / ("config.yaml" if args.paper else "demo.yaml")
    import torch
    import yaml

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.paper and device == "cpu" and args.device is None:
        print("--paper: no GPU here; --device cpu measures the paper's sizes on the CPU (minutes per step)")
        return
    models = args.models or yaml.safe_load(config.read_text())["models"]
    print(
        f"{config.name}: {args.steps} timed steps after {args.warmup} warm-up, {args.threads} thread(s), "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"{'model':<18} {'params':>8} {'s/step':>8} {'CPU s':>8} {'steps/s':>8} {'samples/s':>10} {'tokens/s':>10} "
        f"{'peak MB':>8}"
    )
    for model in models:
        payload = json.dumps(
            {
                "config": str(config),
                "schema": str(REPO / "workflow/schemas/config.schema.yaml"),
                "model": model,
                "threads": args.threads,
                "steps": args.steps,
                "warmup": args.warmup,
                "device": device,
                "batch": args.batch,
                "half_width": args.half_width,
                "profile": args.profile,
            }
        )
        finished, peak_mb, seconds = run_capped([sys.executable, "-c", STEP, payload], args.max_rss_gb * 2**10)
        if finished is None:
            print(
                f"{model:<18} stopped above --max-rss-gb {args.max_rss_gb:g}: {peak_mb:,.0f} MB resident after "
                f"{seconds:.0f} s"
            )
            continue
        if finished.returncode:
            print(f"{model:<18} failed: {finished.stderr.strip().splitlines()[-1]}")
            continue
        if args.profile:
            print(finished.stderr)
        r = json.loads(finished.stdout.strip().splitlines()[-1])
        print(
            f"{model:<18} {r['parameters']:>8,} {r['seconds']:>8.3f} {r['cpu_seconds']:>8.1f} "
            f"{1 / r['seconds']:>8.3g} {r['batch'] / r['seconds']:>10.3g} "
            f"{r['batch'] * r['length'] / r['seconds']:>10.3g} {r['memory_mb']:>8.0f}"
        )
        print(
            f"{'':<18} (batch {r['batch']}, window {r['length']:,} bp, {r['device']}; load average now "
            f"{os.getloadavg()[0]:.2f})"
        )


def run_capped(command: list[str], max_rss_mb: float) -> tuple[subprocess.CompletedProcess | None, float, float]:
    """Run `command`; stop it once its resident memory passes `max_rss_mb` (a step too big for the
    machine is a figure, not a crash). (the finished process or None if stopped, the largest
    resident memory seen in MB, seconds)."""
    import psutil

    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) as process:
        watched, peak_mb = psutil.Process(process.pid), 0.0
        while process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                peak_mb = max(peak_mb, watched.memory_info().rss / 2**20)
            if peak_mb > max_rss_mb:
                process.kill()
                process.wait()
                return None, peak_mb, time.perf_counter() - start
            time.sleep(0.05)
        stdout, stderr = process.communicate()
    finished = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return finished, peak_mb, time.perf_counter() - start


if __name__ == "__main__":
    main()
