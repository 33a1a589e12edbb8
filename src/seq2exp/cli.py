"""`seq2exp`: the package's commands.

`seq2exp predict`: a trained checkpoint + genes of the store -> predictions and mask tracks.

    seq2exp predict --checkpoint results/demo/models/K562/seq2exp-soft/best.ckpt \\
        --store results/demo/store --cell K562 --genes-table results/demo/genes/genes.tsv \\
        --genes ENSG90000000001,ENSG90000000002 --out predictions.tsv --masks-bed masks.bed

`seq2exp authors-weights`: the authors' released Seq2Exp checkpoint -> its predictions on our store.

    seq2exp authors-weights --checkpoint K562_soft.ckpt --store results/paper/store --cell K562 \\
        --genes-table results/paper/genes/genes.tsv --out authors_K562.tsv --block-size 10000

Both run on the CPU by default; `--block-size` streams each selective scan in blocks of that many
positions, so windows of any length (200 kb) fit in memory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

log = logging.getLogger("seq2exp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seq2exp", description="Seq2Exp: predictions from trained checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="predict expression (and masks) with a trained checkpoint")
    predict.add_argument("--checkpoint", required=True, help="best.ckpt of a training job")
    predict.add_argument("--store", required=True, help="the store folder (sequence.h5, <cell>.h5)")
    predict.add_argument("--cell", required=True, help="cell type of the store to read")
    predict.add_argument("--genes-table", required=True, help="the pipeline's genes.tsv (chrom, TSS, strand, split)")
    which = predict.add_mutually_exclusive_group()
    which.add_argument("--genes", help="comma-separated gene ids, or a file with one id per line")
    which.add_argument("--split", choices=["train", "valid", "test"], help="every gene of one split")
    predict.add_argument("--out", required=True, help="predictions TSV")
    predict.add_argument("--masks-bed", help="BED of the mask's elements (models with a mask)")
    predict.add_argument("--masks-bigwig", help="bigWig of the soft mask; needs --fai")
    predict.add_argument("--fai", help="the genome's .fai index (chromosome sizes), for --masks-bigwig/--masks-bed")
    predict.add_argument("--soft-masks", help="seq2exp-soft's masks.h5 (seq2exp-retrain checkpoints)")
    predict.add_argument("--block-size", type=int, default=None, help="stream the scans in blocks of this length")
    predict.add_argument("--batch-size", type=int, default=8)
    predict.add_argument("--threads", type=int, default=torch.get_num_threads())
    authors = commands.add_parser("authors-weights", help="evaluate the authors' Seq2Exp checkpoint on our store")
    authors.add_argument("--checkpoint", required=True, help="the authors' Lightning .ckpt")
    authors.add_argument("--store", required=True, help="the store folder (sequence.h5, <cell>.h5)")
    authors.add_argument("--cell", required=True, help="cell type of the store to read")
    authors.add_argument("--genes-table", required=True, help="the pipeline's genes.tsv (with the split column)")
    authors.add_argument("--out", required=True, help="predictions TSV")
    authors.add_argument("--masks", help="masks.h5 to write")
    authors.add_argument("--batch-size", type=int, default=1)
    authors.add_argument("--block-size", type=int, help="stream each scan in blocks of this length")
    authors.add_argument("--device", default="cpu")
    authors.add_argument("--all-genes", action="store_true", help="all splits, not only test")
    authors.add_argument("--central-region", type=int, help="override the checkpoint's center_len")
    return parser


def _gene_rows(args, windows, genes: pd.DataFrame) -> np.ndarray:
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}
    if args.split:
        wanted = list(genes.loc[genes["split"] == args.split, "gene_id"])
    elif args.genes:
        source = Path(args.genes)
        wanted = source.read_text().split() if source.is_file() else args.genes.split(",")
    else:
        wanted = list(windows.gene_ids)
    missing = [g for g in wanted if g not in row_of]
    if missing:
        raise SystemExit(
            f"seq2exp predict: {len(missing)} gene(s) not in the store {args.store} for {args.cell}, e.g. {missing[0]}"
        )
    return np.array([row_of[g] for g in wanted], dtype=np.int64)


def _load_checkpoint(path: str, module_class):
    """The trained module in `path`, or an error naming the file and what it should be."""
    expected = "a best.ckpt or last.ckpt written by a seq2exp training job"
    if not Path(path).is_file():
        raise SystemExit(f"seq2exp predict: --checkpoint {path} does not exist (expected {expected})")
    try:
        return module_class.load_from_checkpoint(path, map_location="cpu")
    except Exception as error:  # truncated (zip or pickle errors) or another program's (missing keys, arguments)
        raise SystemExit(
            f"seq2exp predict: --checkpoint {path} cannot be read as {expected} ({type(error).__name__}: {error})"
        ) from error


def predict_command(args) -> None:
    from .evaluation.tracks import mask_tracks_from
    from .files import write_tsv
    from .training.batches import BatchMaker, FeatureScaling, MaskSource
    from .training.dataset import GeneWindows
    from .training.specs import MODEL_SPECS
    from .training.train import ExpressionModule, predict

    torch.set_num_threads(args.threads)
    module = _load_checkpoint(args.checkpoint, ExpressionModule)
    module.model.block_size = args.block_size
    spec = MODEL_SPECS[module.hparams.model]
    if (args.masks_bed or args.masks_bigwig) and not spec.has_mask:
        raise SystemExit(
            f"seq2exp predict: --masks-bed/--masks-bigwig: {args.checkpoint} is a "
            f"{module.hparams.model} model, which has no mask; leave them out or pass a seq2exp model"
        )
    windows = GeneWindows(args.store, args.cell)
    genes = pd.read_csv(args.genes_table, sep="\t")
    rows = _gene_rows(args, windows, genes)
    mask_source = None
    if spec.mask_source:
        if spec.mask_source == "retrain" and not args.soft_masks:
            raise SystemExit(
                "seq2exp predict: a seq2exp-retrain checkpoint needs --soft-masks (seq2exp-soft's masks.h5)"
            )
        cfg = module.model.cfg
        mask_source = MaskSource(
            spec.mask_source, args.soft_masks, module.hparams.training["retrain_fraction"], cfg.central_region_bp
        )
    collate = BatchMaker(FeatureScaling.from_dict(module.hparams.scaling), mask_source, peaks=spec.peaks)
    masks_path = None
    if spec.has_mask and (args.masks_bed or args.masks_bigwig):
        masks_path = str(Path(args.out).with_suffix(".masks.h5"))
    with windows:
        table = predict(module, windows, rows, collate, genes, args.batch_size, masks_path=masks_path)
    write_tsv(table, args.out)
    log.info("%s: %d predictions", args.out, len(table))
    if masks_path:
        if not args.fai:
            raise SystemExit("seq2exp predict: mask tracks need --fai (the genome index, for chromosome sizes)")
        mask_tracks_from(
            genes,
            masks_path,
            args.fai,
            windows.length // 2,
            bool(windows.reverse_complement_minus_strand),
            args.masks_bigwig,
            args.masks_bed,
            module.model.cfg.threshold,
            rows,
        )


def authors_weights_command(args) -> None:
    from .evaluation.authors import authors_predictions

    options = (
        {}
        if args.central_region is None
        else {"central_region_bp": args.central_region, "pooled_region_bp": args.central_region}
    )
    table = authors_predictions(
        args.checkpoint,
        args.store,
        args.cell,
        args.genes_table,
        args.out,
        options,
        args.batch_size,
        args.block_size,
        args.device,
        args.masks,
        None if args.all_genes else ("test",),
    )
    log.info("%s: %d predictions", args.out, len(table))
    test = table[table["split"] == "test"]
    if len(test):
        log.info(
            "test genes %d: MSE %.4f, Pearson %.4f",
            len(test),
            ((test["prediction"] - test["target"]) ** 2).mean(),
            test["prediction"].corr(test["target"]),
        )


COMMANDS = {"predict": predict_command, "authors-weights": authors_weights_command}


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    COMMANDS[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
