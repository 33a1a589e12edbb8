"""Prediction speed of the paper's Seq2Exp-soft (config/config.yaml: 4 layers, d_model 128) at 200 kb:
genes/s and peak memory of the prediction job's per-batch work, the old path against the new.

    python benchmarks/bench_predict.py                         # 200 kb, 2 genes, CPU, 1 thread, scans in 10 kb blocks
    python benchmarks/bench_predict.py --threads 2 --genes 4 --block-size 0   # whole windows (a GPU)

old: the prediction (one forward), the mask (a second forward) and the untrained model's mask (a
third forward, generator and predictor). new (`train.predict`): one forward gives prediction and
mask, the untrained model's generator alone its mask. Inputs are random tensors of one gene per
batch; each path runs in a fresh process (peak memory is its own: the process's maximum resident
set on a CPU, so it includes torch itself; allocated memory on a GPU).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench_training import CHILD_SETUP  # the benchmark beside this one

REPO = Path(__file__).resolve().parents[1]
RUN = (
    CHILD_SETUP
    + r"""
from seq2exp.training.train import ExpressionModule, stream_scans
device = "cuda" if torch.cuda.is_available() else "cpu"
options = model_options(config, "seq2exp-soft")
trained, untrained = (ExpressionModule("seq2exp-soft", options, config["training"], {}).to(device).eval()
                      for _ in range(2))
for module in (trained, untrained):
    stream_scans(module, args["block_size"] or None)
length = args["length"]
g = torch.Generator().manual_seed(0)
batch = {"dna": one_hot(torch.randint(0, 4, (1, length), generator=g)),
         "signals": torch.rand(1, length, 3, generator=g),
         "features": torch.randn(1, options["n_features"], generator=g),
         "blacklist": torch.zeros(1, length, dtype=torch.bool)}
batch = {k: v.to(device) for k, v in batch.items()}
def old():
    trained.predict_batch(batch); trained.model(batch); untrained.model(batch)
def new():
    trained.evaluate(batch); untrained.model.generator_mask(batch)
start = time.perf_counter()
with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
    for _ in range(args["genes"]):
        {"old": old, "new": new}[args["path"]]()
if device == "cuda":
    torch.cuda.synchronize()
seconds = time.perf_counter() - start
memory = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"path": args["path"], "device": device, "genes_per_s": args["genes"] / seconds,
                  "s_per_gene": seconds / args["genes"], "peak_mb": memory}))
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genes", type=int, default=2, help="genes per path, one per batch")
    parser.add_argument("--length", type=int, default=200_000, help="window length, bp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--block-size", type=int, default=10_000, help="streamed scans' block (0: whole windows)")
    parser.add_argument("--paths", nargs="+", default=["old", "new"], choices=["old", "new"])
    args = parser.parse_args()
    print(
        f"seq2exp-soft, config/config.yaml model, {args.length:,} bp, {args.genes} genes, {args.threads} thread(s), "
        f"block {args.block_size or 'none'}"
    )
    print(f"{'path':<5} {'device':<6} {'genes/s':>10} {'s/gene':>9} {'peak MB':>9}")
    for path in args.paths:
        run = {
            "path": path,
            "genes": args.genes,
            "length": args.length,
            "threads": args.threads,
            "block_size": args.block_size,
            "config": str(REPO / "config/config.yaml"),
            "schema": str(REPO / "workflow/schemas/config.schema.yaml"),
        }
        out = subprocess.run([sys.executable, "-c", RUN, json.dumps(run)], capture_output=True, text=True, cwd=REPO)
        if out.returncode:
            sys.exit(f"{path}: failed\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{path:<5} {r['device']:<6} {r['genes_per_s']:>10.5f} {r['s_per_gene']:>9.1f} {r['peak_mb']:>9.0f}")


if __name__ == "__main__":
    main()
