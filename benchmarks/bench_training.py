"""Training-step speed of every table model: steps/s, samples/s and tokens (bases)/s of forward +
backward + AdamW step, parameters and peak memory, side by side.

    python benchmarks/bench_training.py                    # demo sizes (config/demo.yaml), CPU, 1 thread
    python benchmarks/bench_training.py --threads 2 --steps 10
    python benchmarks/bench_training.py --models mamba hyenadna enformer epinformer   # the DNA baselines
    python benchmarks/bench_training.py --paper            # the paper's sizes (config/config.yaml); GPU only

Batches are random inputs of the configured window, with peaks as 50 bp blocks over about 10% of
it (EPInformer's candidate enhancers); each model runs in a fresh process (peak memory is its own:
the process's maximum resident set on a CPU, so it includes torch itself; allocated memory on a
GPU). On a GPU the step runs under bf16 autocast, as the trainer does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEP = r"""
import json, sys, time, resource
import torch
from seq2exp.config import load_config, validate_config
from seq2exp.jobs import MODEL_SPECS
from seq2exp.models import build_model, one_hot, tune_allocator
from seq2exp.jobs import model_options
tune_allocator()
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
config = validate_config(load_config(args["config"]), args["schema"])
spec = MODEL_SPECS[args["model"]]
device = "cuda" if torch.cuda.is_available() else "cpu"
model = build_model(spec.registry_name, model_options(config, args["model"])).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
batch_size, length = config["training"]["batch_size"], 2 * config["window"]["half_width"]
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
step()
start = time.perf_counter()
for _ in range(args["steps"]):
    step()
seconds = (time.perf_counter() - start) / args["steps"]
memory = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"seconds": seconds, "memory_mb": memory, "device": device, "batch": batch_size, "length": length,
                  "parameters": sum(p.numel() for p in model.parameters())}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper", action="store_true", help="the paper's sizes (needs a GPU)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args()
    config = REPO / "config" / ("config.yaml" if args.paper else "demo.yaml")
    import torch
    import yaml

    if args.paper and not torch.cuda.is_available():
        print("--paper: the paper's sizes (200 kb, 4 x 128) train on a GPU; none here, nothing measured")
        return
    models = args.models or yaml.safe_load(config.read_text())["models"]
    print(f"{config.name}: {args.steps} timed steps after one warm-up, {args.threads} thread(s)")
    print(f"{'model':<18} {'params':>8} {'s/step':>8} {'steps/s':>8} {'samples/s':>10} {'tokens/s':>10} {'peak MB':>8}")
    for model in models:
        payload = json.dumps({"config": str(config), "schema": str(REPO / "workflow/schemas/config.schema.yaml"),
                              "model": model, "threads": args.threads, "steps": args.steps})
        run = subprocess.run([sys.executable, "-c", STEP, payload], capture_output=True, text=True, cwd=REPO)
        if run.returncode:
            print(f"{model:<18} failed: {run.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{model:<18} {r['parameters']:>8,} {r['seconds']:>8.3f} {1 / r['seconds']:>8.2f} "
              f"{r['batch'] / r['seconds']:>10.1f} {r['batch'] * r['length'] / r['seconds']:>10.3g} {r['memory_mb']:>8.0f}")
    print(f"(batch {r['batch']}, window {r['length']:,} bp, {r['device']})")


if __name__ == "__main__":
    main()
