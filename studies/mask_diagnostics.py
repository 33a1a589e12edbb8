"""Why a trained Seq2Exp mask does (not) find elements: where the predictor looks, and which loss
term moves the generator.

    python studies/mask_diagnostics.py results/demo/models/K562/seq2exp-soft/best.ckpt \
        --store results/demo/store --cell K562 --genes results/demo/K562/genes.tsv \
        [--truth resources/demo/truth/K562.causal_elements.bed] [--png out.png]

On up to --genes-used training genes, in training mode (the Beta sampled, as in a training step):
- |d prediction / d signals| and |d prediction / d mask| averaged over genes and channels, by
  distance from the TSS: a predictor that only reads the (always selected) central region gives
  the mask nothing to learn from;
- the gradient norm that the regression loss and the weighted KL term each send to the Beta head
  (the generator's last layer), and the derivative of a Beta sample with respect to alpha.
On the test genes, in evaluation mode (any model with signals):
- test Pearson with the signals zeroed beyond, or within, a distance of the TSS: what the
  prediction is actually read from;
- with --truth, the per-base AUPRC of the sequence Beta's mean alone (the part of the mask the
  generator learns from DNA; the signal Beta is fixed), trained and at initialisation, and its
  spread over a window's positions (0: the generator has collapsed to one value for every base);
- with --truth, on --genes-used training genes, the per-base AUPRC of the regression loss's push
  on the sequence Beta (how a descent step would move its mean, averaged over --draws mask samples):
  whether the regression points the generator at the known elements at all.
Prints the figures; with --png, a plot of the first.
"""

from __future__ import annotations

import argparse

import lightning as L
import pandas as pd
import torch
import torch.nn.functional as F
from generator_probe import auprc, dna_one_hot, labelled_windows  # the study beside this one

from seq2exp.evaluation import discovery
from seq2exp.models import beta_mask
from seq2exp.models import seq2exp as s2e
from seq2exp.training.batches import BatchMaker, FeatureScaling, IndexedWindows, split_indices
from seq2exp.training.dataset import GeneWindows
from seq2exp.training.train import ExpressionModule

DISTANCE_BINS = (0, 50, 100, 200, 400, 700, 1_000, 5_000, 20_000, 50_000)
REACH_BP = (50, 100, 250, 500)


def split_batch(module, store: str, cell: str, genes: str, split: str, n: int | None = None) -> dict:
    windows = GeneWindows(store, cell)
    rows = split_indices(windows, pd.read_csv(genes, sep="\t"))[split][:n]
    items = IndexedWindows(windows, rows)
    return BatchMaker(FeatureScaling.from_dict(module.hparams.scaling))([items[i] for i in range(len(items))])


def pearson_by_reach(module, batch: dict) -> pd.DataFrame:
    """Test Pearson with every signal channel zeroed beyond, or within, each distance of the TSS."""
    module.eval()
    length = batch["signals"].shape[1]
    distance = (torch.arange(length) - length // 2).abs()

    def pearson(zeroed: torch.Tensor) -> float:
        signals = batch["signals"].masked_fill(zeroed[None, :, None], 0.0)
        with torch.no_grad():
            prediction = module.predict_batch(dict(batch, signals=signals)).float()
        return float(torch.corrcoef(torch.stack([prediction, batch["target"].float()]))[0, 1])

    rows = [{"signals zeroed": "none", "test pearson": pearson(torch.zeros(length, dtype=torch.bool))}]
    for reach in REACH_BP:
        rows.append({"signals zeroed": f"beyond {reach} bp", "test pearson": pearson(distance >= reach)})
        rows.append({"signals zeroed": f"within {reach} bp", "test pearson": pearson(distance < reach)})
    return pd.DataFrame(rows)


def sequence_beta_auprc(module, store: str, cell: str, genes: str, truth_bed: str) -> tuple[dict, dict]:
    """Per-base AUPRC over the test genes (central region, blacklist and N excluded) of the mean of
    the sequence Beta alone, for the trained generator and the same model at initialisation."""
    untrained = untrained_twin(module)
    cfg = module.model.cfg
    test = split_windows(store, cell, genes, "test", truth_bed, cfg.central_region_bp)
    dna = dna_one_hot(test["dna"])
    result, spread = {}, {}
    for name, m in (("trained", module.model.eval()), ("untrained", untrained.model.eval())):
        with torch.no_grad():
            logits = m.generator_logits(dna, m.dna_embed(dna))
        alpha, beta = beta_mask.sequence_beta(logits, cfg.beta_min)
        mean = sequence_mean(logits, cfg.beta_min)
        result[name] = auprc(test["labels"], mean, test["eligible"])
        spread[name] = (float(mean.mean()), float(mean.std(1).mean()), float(alpha.median()), float(beta.median()))
    return {**result, "chance": float(test["labels"][test["eligible"]].mean())}, spread


def split_windows(store: str, cell: str, genes: str, split: str, truth_bed: str, central_bp: int) -> dict:
    """One split's windows with their per-base labels (`labelled_windows`)."""
    table = pd.read_csv(genes, sep="\t")
    return labelled_windows(GeneWindows(store, cell), table, split, discovery.read_truth_bed(truth_bed), central_bp)


def untrained_twin(module) -> ExpressionModule:
    """The checkpoint's model as it was at step 0 (same seed)."""
    L.seed_everything(module.hparams.training["seed"], verbose=False)
    return ExpressionModule(
        module.hparams.model, module.hparams.options, module.hparams.training, module.hparams.scaling
    )


def sequence_mean(logits: torch.Tensor, beta_min: float) -> torch.Tensor:
    alpha, beta = beta_mask.sequence_beta(logits, beta_min)
    return alpha / (alpha + beta)


def teacher_direction(model, batch: dict, draws: int) -> torch.Tensor:
    """(B, L): how one descent step of the regression loss alone would move the sequence Beta's mean
    at each base, averaged over `draws` samples of the mask (training mode). What the generator is
    taught: where it is positive, the loss asks for more mask."""
    kept = {}
    generator_logits = model.generator_logits

    def keep_logits(dna, dna_embedding):
        kept["logits"] = logits = generator_logits(dna, dna_embedding)
        logits.retain_grad()
        return logits

    model.generator_logits = keep_logits
    total = 0.0
    try:
        for _ in range(draws):
            F.smooth_l1_loss(model(batch).prediction.float(), batch["target"].float()).backward()
            _, moved = torch.func.jvp(
                lambda logits: sequence_mean(logits, model.cfg.beta_min),
                (kept["logits"].detach(),),
                (-kept["logits"].grad,),
            )
            total = total + moved
    finally:
        del model.generator_logits
    return total / draws


def teacher_auprc(module, store: str, cell: str, genes: str, truth_bed: str, n: int, draws: int) -> dict:
    """Per-base AUPRC over `n` training genes of `teacher_direction`, trained and at step 0: does the
    regression loss point the generator at the known elements at all?"""
    cfg = module.model.cfg
    labelled = split_windows(store, cell, genes, "train", truth_bed, cfg.central_region_bp)
    labelled = {k: v[:n] for k, v in labelled.items()}
    batch = split_batch(module, store, cell, genes, "train", n)
    result = {}
    for name, m in (("trained", module), ("untrained", untrained_twin(module))):
        torch.manual_seed(0)
        direction = teacher_direction(m.model.train(), batch, draws)
        result[name] = auprc(labelled["labels"], direction, labelled["eligible"])
    return {**result, "chance": float(labelled["labels"][labelled["eligible"]].mean())}


def input_gradients(model, batch: dict) -> dict[str, torch.Tensor]:
    """Mean over genes (and channels) of |d prediction / d input| at each base, for the signals and
    (Seq2Exp) the applied mask, in the model's current mode."""
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
    return per_base


def sensitivity_by_distance(model, batch: dict) -> pd.DataFrame:
    """Mean |d prediction / d input| per distance bin, for the signals and (Seq2Exp) the applied mask."""
    per_base = input_gradients(model, batch)
    length = batch["signals"].shape[1]
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
    norms = {
        name: float(torch.cat([g.flatten() for g in torch.autograd.grad(loss, head, retain_graph=True)]).norm())
        for name, loss in (("regression", regression), ("kl", kl))
    }
    alpha = output.alpha.detach().requires_grad_(True)
    (d_sample,) = torch.autograd.grad(torch.distributions.Beta(alpha, output.beta.detach()).rsample().sum(), alpha)
    return {
        "beta-head gradient from the regression loss": norms["regression"],
        "beta-head gradient from kl_weight x KL": norms["kl"],
        "median |d sample / d alpha|": float(d_sample.abs().median()),
        "median alpha of the mask": float(output.alpha.detach().median()),
        "median beta of the mask": float(output.beta.detach().median()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--store", required=True)
    parser.add_argument("--cell", required=True)
    parser.add_argument("--genes", required=True, help="the cell type's gene table (split column)")
    parser.add_argument("--genes-used", type=int, default=16)
    parser.add_argument("--truth", help="BED of known elements (the demo's causal elements), for the AUPRC")
    parser.add_argument("--draws", type=int, default=8, help="mask samples averaged for the regression's push")
    parser.add_argument("--png", help="plot the sensitivity by distance here")
    args = parser.parse_args()
    torch.manual_seed(0)
    module = ExpressionModule.load_from_checkpoint(args.checkpoint, map_location="cpu")
    model = module.model.train()
    batch = split_batch(module, args.store, args.cell, args.genes, "train", args.genes_used)
    profile = sensitivity_by_distance(model, batch)
    print("mean |d prediction / d input| by distance from the TSS (training mode):")
    print(profile.to_string(index=False, float_format=lambda x: f"{x:.2e}"))
    if isinstance(model, s2e.Seq2Exp):
        for name, value in generator_gradients(model, batch).items():
            print(f"{name}: {value:.3g}")
    if module.model.uses_signals:
        test = split_batch(module, args.store, args.cell, args.genes, "test")
        print("test Pearson with the signals zeroed by distance from the TSS (evaluation mode):")
        print(pearson_by_reach(module, test).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if isinstance(model, s2e.Seq2Exp) and args.truth:
        auprc, spread = sequence_beta_auprc(module, args.store, args.cell, args.genes, args.truth)
        print(
            "per-base AUPRC of the sequence Beta's mean alone over the test genes: "
            + ", ".join(f"{k} {v:.4f}" for k, v in auprc.items())
        )
        for name, (mean, sd, alpha, beta) in spread.items():
            print(
                f"sequence Beta, {name}: mean {mean:.3f}, SD over a window's positions {sd:.4f}, "
                f"median alpha {alpha:.3f}, beta {beta:.3f}"
            )
        auprc = teacher_auprc(module, args.store, args.cell, args.genes, args.truth, args.genes_used, args.draws)
        print(
            f"per-base AUPRC of the regression loss's push on the sequence Beta ({args.genes_used} training genes, "
            f"{args.draws} mask draws): " + ", ".join(f"{k} {v:.4f}" for k, v in auprc.items())
        )
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
