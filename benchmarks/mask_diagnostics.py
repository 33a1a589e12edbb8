"""Why a trained Seq2Exp mask does (not) find elements: where the predictor looks, and which loss
term moves the generator.

    python benchmarks/mask_diagnostics.py results/demo/models/K562/seq2exp-soft/best.ckpt \
        --store results/demo/store --cell K562 --genes results/demo/K562/genes.tsv [--png out.png]

On up to --genes-used training genes, in training mode (the Beta sampled, as in a training step):
- |d prediction / d signals| and |d prediction / d mask| averaged over genes and channels, by
  distance from the TSS: a predictor that only reads the (always selected) central region gives
  the mask nothing to learn from;
- the gradient norm that the regression loss and the weighted KL term each send to the Beta head
  (the generator's last layer), and the derivative of a Beta sample with respect to alpha.
Prints the figures; with --png, a plot of the first.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch
import torch.nn.functional as F

from seq2exp.batches import BatchMaker, FeatureScaling, IndexedWindows, split_indices
from seq2exp.models import seq2exp as s2e
from seq2exp.store import GeneWindows
from seq2exp.train import ExpressionModule

DISTANCE_BINS = (0, 50, 100, 200, 400, 700, 1_000, 5_000, 20_000, 50_000)


def training_batch(module, store: str, cell: str, genes: str, n: int) -> dict:
    windows = GeneWindows(store, cell)
    rows = split_indices(windows, pd.read_csv(genes, sep="\t"))["train"][:n]
    items = IndexedWindows(windows, rows)
    return BatchMaker(FeatureScaling.from_dict(module.hparams.scaling))([items[i] for i in range(len(items))])


def sensitivity_by_distance(model, batch: dict) -> pd.DataFrame:
    """Mean |d prediction / d input| per distance bin, for the signals and (Seq2Exp) the applied mask."""
    signals = batch["signals"].clone().requires_grad_(True)
    applied = {}
    force_mask = s2e.force_mask

    def keep_mask(mask, blacklist, central_bp):
        mask = force_mask(mask, blacklist, central_bp)
        mask.retain_grad()
        applied["mask"] = mask
        return mask

    s2e.force_mask = keep_mask
    try:
        model(dict(batch, signals=signals)).prediction.sum().backward()
    finally:
        s2e.force_mask = force_mask
    per_base = {"signals": signals.grad.abs().mean((0, 2))}
    if "mask" in applied:
        per_base["mask"] = applied["mask"].grad.abs().mean(0)
    length = signals.shape[1]
    distance = (torch.arange(length) - length // 2).abs()
    edges = [b for b in DISTANCE_BINS if b < length // 2] + [length // 2 + 1]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (distance >= lo) & (distance < hi)
        if inside.any():
            rows.append({"distance_bp": f"{lo}-{hi}", **{k: float(v[inside].mean()) for k, v in per_base.items()}})
    return pd.DataFrame(rows)


def generator_gradients(model, batch: dict) -> dict:
    """Gradient norms on the Beta head from the regression loss and from kl_weight x KL."""
    output = model(batch)
    regression = F.smooth_l1_loss(output.prediction.float(), batch["target"].float())
    kl = model.cfg.kl_weight * output.kl
    head = list(model.beta_head.parameters())
    norms = {name: float(torch.cat([g.flatten() for g in torch.autograd.grad(loss, head, retain_graph=True)]).norm())
             for name, loss in (("regression", regression), ("kl", kl))}
    alpha = output.alpha.detach().requires_grad_(True)
    (d_sample,) = torch.autograd.grad(torch.distributions.Beta(alpha, output.beta.detach()).rsample().sum(), alpha)
    return {"beta-head gradient from the regression loss": norms["regression"],
            "beta-head gradient from kl_weight x KL": norms["kl"],
            "median |d sample / d alpha|": float(d_sample.abs().median()),
            "median alpha of the mask": float(output.alpha.detach().median()),
            "median beta of the mask": float(output.beta.detach().median())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--store", required=True)
    parser.add_argument("--cell", required=True)
    parser.add_argument("--genes", required=True, help="the cell type's gene table (split column)")
    parser.add_argument("--genes-used", type=int, default=16)
    parser.add_argument("--png", help="plot the sensitivity by distance here")
    args = parser.parse_args()
    torch.manual_seed(0)
    module = ExpressionModule.load_from_checkpoint(args.checkpoint, map_location="cpu")
    model = module.model.train()
    batch = training_batch(module, args.store, args.cell, args.genes, args.genes_used)
    profile = sensitivity_by_distance(model, batch)
    print("mean |d prediction / d input| by distance from the TSS (training mode):")
    print(profile.to_string(index=False, float_format=lambda x: f"{x:.2e}"))
    if isinstance(model, s2e.Seq2Exp):
        for name, value in generator_gradients(model, batch).items():
            print(f"{name}: {value:.3g}")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for column in profile.columns[1:]:
            ax.semilogy(profile["distance_bp"], profile[column], marker="o", label=f"d prediction / d {column}")
        ax.set_xlabel("distance from the TSS (bp)")
        ax.set_ylabel("mean |gradient|")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
        print(f"figure: {args.png}")


if __name__ == "__main__":
    main()
