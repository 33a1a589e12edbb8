"""Where the Seq2Exp mask starts to learn: seq2exp-soft with the paper's generator, trained on the
demo over a grid of budgets, against its untrained self.

    python studies/mask_study.py --config config/demo.yaml --cell K562 \
        --store results/demo/store --genes results/demo/K562/genes.tsv \
        --truth resources/demo/truth/K562.causal_elements.bed [--quick] [--threads 2]

One run per training-gene count x (layers, d_model) x `mask_applies_to` x seed, each trained for the
largest of --steps (the config's schedule: warm-up, then a cosine to that step) and scored at every
--steps milestone along the way. Printed per point:
- `grad beyond centre`: the share of the predictor's |d prediction / d mask| (training mode, on
  --grad-genes training genes) at bases beyond the always-selected central region: the only
  gradient the generator learns from; near 0, the mask has nothing to learn;
- `mask AUPRC`: per-base AUPRC of the mask the predictor sees (evaluation mode, the Beta mean) over
  the test genes against the known elements (central region, blacklist and N excluded, as in the
  discovery table), trained, and `gain`, trained minus the same model at step 0, whose mask is the
  signal Beta times an untrained generator's: > 0, the generator added something to its signal prior;
- `test r`: test Pearson of the prediction.
The full grid (no --quick) is a few CPU-hours; --quick runs in minutes on 2 cores.
"""

from __future__ import annotations

import copy
import itertools
import time

import lightning as L
import pandas as pd
import torch
from generator_probe import auprc, job_arguments, labelled_windows  # the studies beside this one
from mask_diagnostics import input_gradients, split_batch

from seq2exp.config import load_config
from seq2exp.evaluation import discovery
from seq2exp.features.genome import central_slice
from seq2exp.training.batches import BatchMaker, FeatureScaling, IndexedWindows, split_indices
from seq2exp.training.dataset import GeneWindows
from seq2exp.training.specs import model_options
from seq2exp.training.train import ExpressionModule

# sizes: (n_layer, d_model) of both backbones. Full: 24 runs of 2,000 steps (the 1 x 16 runs alone
# are about 2 CPU-hours at the quick grid's 0.5 s/step; the larger sizes cost more per step).
FULL = dict(
    train_genes=[60, 240],
    steps=[250, 500, 1000, 2000],
    sizes=[(1, 16), (2, 16), (1, 32)],
    mask_applies_to=["inputs", "embeddings"],
    seeds=[0, 1],
)
QUICK = dict(train_genes=[240], steps=[100, 300], sizes=[(1, 16)], mask_applies_to=["inputs", "embeddings"], seeds=[0])


def grad_share_beyond_centre(module: ExpressionModule, batch: dict) -> float:
    """Share of |d prediction / d mask| beyond the central region (training mode, the Beta sampled)."""
    gradient = input_gradients(module.model.train(), batch)["mask"]
    centre = torch.zeros_like(gradient, dtype=torch.bool)
    centre[central_slice(len(gradient), module.model.cfg.central_region_bp)] = True
    return float(gradient[~centre].sum() / gradient.sum())


@torch.no_grad()
def mask_scores(module: ExpressionModule, test_batch: dict, test_labels: dict) -> tuple[float, float]:
    """(per-base AUPRC of the evaluation-mode mask over the test genes, test Pearson)."""
    module.eval()
    prediction, output = module.evaluate(test_batch)
    r = float(torch.corrcoef(torch.stack([prediction.float(), test_batch["target"].float()]))[0, 1])
    return auprc(test_labels["labels"], output.mask.float(), test_labels["eligible"]), r


def study_run(
    config: dict,
    data: dict,
    n_genes: int,
    n_layer: int,
    d_model: int,
    mask_applies_to: str,
    seed: int,
    milestones: list[int],
) -> list[dict]:
    """Train one seq2exp-soft and score it at each milestone; one row per milestone."""
    options = dict(
        model_options(config, "seq2exp-soft"), n_layer=n_layer, d_model=d_model, mask_applies_to=mask_applies_to
    )
    training = dict(config["training"], max_steps=max(milestones), seed=seed)
    train_rows = data["train_rows"][:n_genes]
    scaling = FeatureScaling.fit(data["windows"].features[train_rows])
    L.seed_everything(seed, verbose=False)
    module = ExpressionModule("seq2exp-soft", options, training, scaling.to_dict())
    untrained = copy.deepcopy(module)
    collate = BatchMaker(scaling)
    train_items = IndexedWindows(data["windows"], train_rows)
    test_batch = split_batch(module, data["store"], data["cell"], data["genes_path"], "test")
    grad_batch = split_batch(
        module, data["store"], data["cell"], data["genes_path"], "train", min(n_genes, data["grad_genes"])
    )
    untrained_auprc, untrained_r = mask_scores(untrained, test_batch, data["test_labels"])
    optimisers = module.configure_optimizers()
    optimiser, schedule = optimisers["optimizer"], optimisers["lr_scheduler"]["scheduler"]
    draw = torch.Generator().manual_seed(seed)
    rows, training_s = [], 0.0
    for step in range(1, max(milestones) + 1):
        start = time.perf_counter()
        module.train()
        chosen = torch.randint(0, len(train_items), (training["batch_size"],), generator=draw)
        batch = collate([train_items[int(i)] for i in chosen])
        loss, _ = module.model.loss(module.model(batch), batch["target"])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), training["gradient_clip"])
        optimiser.step()
        schedule.step()
        training_s += time.perf_counter() - start
        if step in milestones:
            trained_auprc, r = mask_scores(module, test_batch, data["test_labels"])
            rows.append(
                dict(
                    train_genes=len(train_rows),
                    n_layer=n_layer,
                    d_model=d_model,
                    mask=mask_applies_to,
                    seed=seed,
                    steps=step,
                    s_per_step=training_s / step,
                    grad_beyond_centre=grad_share_beyond_centre(module, grad_batch),
                    mask_auprc=trained_auprc,
                    untrained_auprc=untrained_auprc,
                    gain=trained_auprc - untrained_auprc,
                    test_r=r,
                    untrained_r=untrained_r,
                )
            )
            print(
                pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1, float_format=_format), flush=True
            )
    return rows


def _format(x: float) -> str:
    return f"{x:.4f}"


def main() -> None:
    parser = job_arguments(__doc__.split("\n")[0], "BED of the known elements (the demo's causal elements)")
    parser.add_argument("--quick", action="store_true", help="the small grid: " + str(QUICK))
    parser.add_argument("--grad-genes", type=int, default=16, help="training genes for the gradient share")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the table here (TSV)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grid = QUICK if args.quick else FULL
    config = load_config(args.config)
    windows, genes = GeneWindows(args.store, args.cell), pd.read_csv(args.genes, sep="\t")
    data = dict(
        windows=windows,
        store=args.store,
        cell=args.cell,
        genes_path=args.genes,
        grad_genes=args.grad_genes,
        train_rows=split_indices(windows, genes)["train"],
        test_labels=labelled_windows(
            windows, genes, "test", discovery.read_truth_bed(args.truth), config["window"]["central_region"]
        ),
    )
    labels = data["test_labels"]
    print(
        f"{args.cell}: {len(data['train_rows'])} training genes, {len(labels['labels'])} test genes; per-base chance "
        f"{float(labels['labels'][labels['eligible']].mean()):.4f}; grid {grid}",
        flush=True,
    )
    rows = []
    for n_genes, (n_layer, d_model), mask, seed in itertools.product(
        grid["train_genes"], grid["sizes"], grid["mask_applies_to"], grid["seeds"]
    ):
        rows += study_run(config, data, n_genes, n_layer, d_model, mask, seed, grid["steps"])
    table = pd.DataFrame(rows)
    print("\nall points:")
    print(table.to_string(index=False, float_format=_format))
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
