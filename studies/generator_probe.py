"""Can a generator learn known elements from DNA alone, given the answer? A ceiling for the mask.

    python studies/generator_probe.py --config config/demo.yaml --cell K562 \
        --store results/demo/store --genes results/demo/K562/genes.tsv \
        --truth resources/demo/truth/K562.causal_elements.bed \
        [--elements resources/demo/truth/elements.tsv] [--steps 300] [--lr 2e-3]

Trains, with a per-base cross-entropy against the known elements of the training genes (the
central region, blacklist and N excluded, as in discovery), (1) the configured Seq2Exp generator
(DNA embedding -> Caduceus -> Beta head, its first logit) and (2) a reference motif scanner (a
15 bp convolution, ReLU, max-pool over an element's length, a linear read-out). Prints the test
genes' per-base AUPRC as training goes, and chance; with --elements (the demo's), also a
motif-class oracle: every element carrying motifs of the cell type's class or the shared one.
The Seq2Exp mask learns from the regression loss only, a far weaker signal than this: a generator
that cannot learn the elements here cannot learn them there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from seq2exp.config import load_config
from seq2exp.evaluation import discovery
from seq2exp.features.genome import N_CODE
from seq2exp.models import build_model, one_hot
from seq2exp.training.batches import split_indices
from seq2exp.training.dataset import GeneWindows
from seq2exp.training.specs import model_options

MOTIF_WIDTH = 15


def labelled_windows(
    windows: GeneWindows,
    genes: pd.DataFrame,
    split: str,
    truth: pd.DataFrame,
    central_bp: int,
    elements: pd.DataFrame | None = None,
    cell: str = "",
) -> dict:
    """DNA codes, per-base labels and eligible bases of a split's genes (and the oracle's scores)."""
    table = genes.set_index("gene_id")
    background = int((truth["end"] - truth["start"]).median())
    out = {"dna": [], "labels": [], "eligible": [], "oracle": []}
    for row in split_indices(windows, genes)[split]:
        item, gene = windows[row], table.loc[windows.gene_ids[row]]
        window = discovery.Window(
            gene["chrom"],
            int(gene["tss"]),
            windows.length // 2,
            gene["strand"] == "-",
            windows.reverse_complement_minus_strand,
        )
        eligible = discovery.eligible_positions(windows.length, central_bp, item["blacklist"], item["dna"] == N_CODE)
        labelled = discovery.gene_window(window, windows.gene_ids[row], truth, eligible, {}, background_bp=background)
        out["dna"].append(torch.from_numpy(item["dna"].astype(np.int64)))
        out["labels"].append(torch.from_numpy(labelled.labels.astype(np.float32)))
        out["eligible"].append(torch.from_numpy(labelled.eligible))
        if elements is not None:
            oracle = np.zeros(windows.length, dtype=np.float32)
            for e in window.overlapping(elements[elements["motif_class"].isin([cell, "shared"])]).itertuples():
                oracle[max(e.i, 0) : min(e.j, windows.length)] = 1.0
            out["oracle"].append(torch.from_numpy(oracle))
    return {k: torch.stack(v) for k, v in out.items() if v}


def dna_one_hot(codes: torch.Tensor) -> torch.Tensor:
    return one_hot(codes.clamp(max=3)).float() * (codes != N_CODE)[..., None]


class MotifScanner(torch.nn.Module):
    def __init__(self, width: int, element_bp: int):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, width, MOTIF_WIDTH, padding=MOTIF_WIDTH // 2)
        self.read_out = torch.nn.Conv1d(width, 1, 1)
        self.pool = element_bp | 1

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(dna_one_hot(codes).transpose(1, 2)))
        return self.read_out(F.max_pool1d(h, self.pool, 1, self.pool // 2)).squeeze(1)


class GeneratorLogit(torch.nn.Module):
    def __init__(self, options: dict):
        super().__init__()
        self.model = build_model("seq2exp_soft", options)
        del self.model.predictor, self.model.head, self.model.signal_embed  # only the generator's parts train here

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        dna = dna_one_hot(codes)
        return self.model.generator_logits(dna, self.model.dna_embed(dna))[..., 0]


def auprc(labels: torch.Tensor, scores: torch.Tensor, eligible: torch.Tensor) -> float:
    return discovery.average_precision(labels[eligible].numpy() > 0, scores[eligible].numpy())


def probe(model: torch.nn.Module, train: dict, test: dict, steps: int, lr: float, batch: int, every: int) -> None:
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(train["dna"]), (batch,), generator=generator)
        eligible = train["eligible"][idx]
        loss = F.binary_cross_entropy_with_logits(model(train["dna"][idx])[eligible], train["labels"][idx][eligible])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % every == 0 or step == steps:
            with torch.no_grad():
                scores = model(test["dna"])
            print(
                f"  step {step}: test per-base AUPRC {auprc(test['labels'], scores, test['eligible']):.4f} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


def job_arguments(description: str, truth_help: str) -> argparse.ArgumentParser:
    """The arguments every probe of one cell type's store and truth takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True)
    parser.add_argument("--cell", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--genes", required=True, help="the cell type's gene table (split column)")
    parser.add_argument("--truth", required=True, help=truth_help)
    return parser


def main() -> None:
    parser = job_arguments(__doc__.split("\n")[0], "BED of the known elements")
    parser.add_argument("--elements", help="the demo's elements table, for the motif-class oracle")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    windows, genes = GeneWindows(args.store, args.cell), pd.read_csv(args.genes, sep="\t")
    truth = discovery.read_truth_bed(args.truth)
    elements = pd.read_csv(args.elements, sep="\t") if args.elements else None
    central = config["window"]["central_region"]
    train = labelled_windows(windows, genes, "train", truth, central)
    test = labelled_windows(windows, genes, "test", truth, central, elements, args.cell)
    print(
        f"{args.cell}: {len(train['dna'])} training genes, {len(test['dna'])} test genes; chance "
        f"{float(test['labels'][test['eligible']].mean()):.4f}"
    )
    if "oracle" in test:
        print(f"motif-class oracle: per-base AUPRC {auprc(test['labels'], test['oracle'], test['eligible']):.4f}")
    element_bp = int((truth["end"] - truth["start"]).median())
    for name, model in (
        ("Seq2Exp generator", GeneratorLogit(model_options(config, "seq2exp-soft"))),
        ("motif scanner", MotifScanner(config["model"]["d_model"], element_bp)),
    ):
        torch.manual_seed(0)
        print(f"{name} ({sum(p.numel() for p in model.parameters())} parameters), lr {args.lr}:")
        probe(model, train, test, args.steps, args.lr, args.batch, args.every)


if __name__ == "__main__":
    main()
