"""The authors' released Seq2Exp weights (loaded by `models.authors_checkpoint`) evaluated on our store:
their predictions in our predictions table layout, a Table 1 row beside ours."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..features.columns import EPINFORMER_MRNA_FEATURES
from ..files import write_tsv
from ..models.authors_checkpoint import AuthorsCheckpointError, load_authors_checkpoint
from ..training.batches import BatchMaker, FeatureScaling, check_channel_order
from ..training.dataset import GeneWindows
from ..training.specs import MODEL_SPECS
from ..training.train import ExpressionModule, predict

# The extra features their head reads, in order (their ExperInteractDataset): the eight mRNA features
# of EPInformer's table, then ABC's PromoterActivity; unscaled. Our store's names for them:
AUTHORS_FEATURES = (*EPINFORMER_MRNA_FEATURES, "promoter_activity")


def authors_weights(config: dict, checkpoint: str, store: str, cell: str, genes_path: str, out_tsv: str) -> None:
    """The rule `authors_weights`: the authors' predictions for the test genes of `cell`'s `store`
    (the cell type's store file). On a GPU (`resources.training.gpu`) each scan runs whole; on a CPU
    it streams in 10 kb blocks."""
    gpu = config["resources"]["training"]["gpu"] > 0
    authors_predictions(
        checkpoint,
        str(Path(store).parent),
        cell,
        genes_path,
        out_tsv,
        device="cuda" if gpu else "cpu",
        block_size=None if gpu else 10_000,
    )


def authors_module(path_or_state_dict, options: Mapping | None = None):
    """An `ExpressionModule` (as `train.predict` takes) holding the authors' weights; features pass
    unscaled (their head was trained on raw features), so its scaling is the identity."""
    converted, opts = load_authors_checkpoint(path_or_state_dict, options, return_state_dict=True)
    name = {spec.registry_name: key for key, spec in MODEL_SPECS.items()}[opts["model"]]
    n = opts["n_features"]
    identity = FeatureScaling(np.zeros(n), np.ones(n)).to_dict()
    module = ExpressionModule(name, {k: v for k, v in opts.items() if k != "model"}, {}, identity)
    module.model.load_state_dict(converted, strict=True)
    return module.eval()


def authors_predictions(
    checkpoint,
    store_dir: str,
    cell_type: str,
    genes_path: str,
    out_tsv: str | None = None,
    options: Mapping | None = None,
    batch_size: int = 1,
    block_size: int | None = None,
    device: str = "cpu",
    masks_path: str | None = None,
    splits=("test",),
):
    """Predictions of the authors' weights for the store's genes of `splits` (all genes: None), in
    `train.predict`'s table layout (mask ratios included) plus `source = authors-weights`; written to
    `out_tsv` if given, the masks to `masks_path` if given.
    `block_size` streams each scan in blocks (a 200 kb window on a CPU). The store's features must be
    the nine the authors' head reads, in their order; they are fed unscaled."""
    windows = GeneWindows(store_dir, cell_type)
    check_channel_order(windows)
    with h5py.File(windows.cell_path, "r") as handle:
        columns = tuple(handle.attrs.get("feature_columns", ()))
        hic_recipe = handle.attrs.get("hic_recipe", "authors")
    if hic_recipe != "authors":
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: its Hi-C channel was made by the {hic_recipe!r} "
            "recipe; the authors' weights read their own (set hic.recipe: authors)"
        )
    if columns and columns != AUTHORS_FEATURES:
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: features {columns}; the authors' head reads "
            f"{AUTHORS_FEATURES} (genes.mrna_features must be EPInformer's table)"
        )
    module = authors_module(checkpoint, options)
    if module.model.cfg.n_features != windows.features.shape[1]:
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: {windows.features.shape[1]} features per gene, the "
            f"checkpoint's head reads {module.model.cfg.n_features}"
        )
    module.model.block_size = block_size
    module.to(device)
    genes = pd.read_csv(genes_path, sep="\t")
    split_of = genes.set_index("gene_id")["split"].reindex(windows.gene_ids).to_numpy()
    rows = np.arange(len(windows)) if splits is None else np.flatnonzero(np.isin(split_of, list(splits)))
    n = windows.features.shape[1]
    collate = BatchMaker(FeatureScaling(np.zeros(n), np.ones(n)))
    with windows, tempfile.TemporaryDirectory() as scratch:  # predict() reports mask ratios only while writing masks
        table = predict(
            module, windows, rows, collate, genes, batch_size, masks_path=masks_path or str(Path(scratch) / "masks.h5")
        )
    table.insert(0, "source", "authors-weights")
    if out_tsv:
        write_tsv(table, out_tsv)
    return table
