"""CAGE targets: each gene's FANTOM5 CTSS tags around its TSS (or the gene table's precomputed sum),
log10(x + 1)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..files import read_table, read_text_table, require_columns, write_tsv
from .genome import match_chromosomes

log = logging.getLogger(__name__)


def read_ctss(path: str) -> pd.DataFrame:
    """A FANTOM5 CTSS BED6 (plain or gzipped): chrom, start, end, name, tag count, strand."""
    ctss = read_text_table(
        path,
        sep="\t",
        header=None,
        usecols=[0, 1, 4, 5],
        comment="#",
        names=["chrom", "start", "count", "strand"],
        dtype={"chrom": str},
    )
    if ctss.empty:
        raise ValueError(f"{path}: no CTSS records (expected BED6: chrom, start, end, name, tag count, strand)")
    if not pd.api.types.is_numeric_dtype(ctss["count"]) or not ctss["strand"].isin(["+", "-"]).all():
        raise ValueError(f"{path}: not CTSS BED6 (column 5 must be tag counts, column 6 the strand)")
    return ctss


def ctss_targets(
    ctss: pd.DataFrame, genes: pd.DataFrame, half_width: int, per_million: bool, source: str
) -> pd.DataFrame:
    """Tags over [TSS - half_width, TSS + half_width) on both strands, then log10(x + 1)."""
    to_file = match_chromosomes(genes["chrom"].unique(), ctss["chrom"].unique(), source)
    tags = np.zeros(len(genes))
    for chrom, file_chrom in to_file.items():
        sites = ctss[ctss["chrom"] == file_chrom]
        order = np.argsort(sites["start"].to_numpy(), kind="stable")
        starts = sites["start"].to_numpy()[order]
        cumulative = np.concatenate([[0], np.cumsum(sites["count"].to_numpy()[order])])
        rows = np.flatnonzero(genes["chrom"].to_numpy() == chrom)
        tss = genes["tss"].to_numpy()[rows]
        lo = np.searchsorted(starts, tss - half_width, side="left")
        hi = np.searchsorted(starts, tss + half_width, side="left")
        tags[rows] = cumulative[hi] - cumulative[lo]
    value = tags / (ctss["count"].sum() / 1e6) if per_million else tags
    return pd.DataFrame({"gene_id": genes["gene_id"].to_numpy(), "cage_tags": tags, "target": np.log10(value + 1.0)})


def cell_targets(config: dict, genes: pd.DataFrame, ctss_path: str, table_path: str, cell: str) -> pd.DataFrame:
    """The CAGE target of every gene: `target_ctss` from the CTSS file, `precomputed` (the table's raw
    sum) where configured, and `target` from the one `target.source` names."""
    features = config["features"]
    targets = ctss_targets(
        read_ctss(ctss_path), genes, features["cage_half_width"], features["cage_per_million"], ctss_path
    ).rename(columns={"target": "target_ctss"})
    template = config["genes"]["precomputed_target_column"]
    if template:
        column = template.format(cell_type=cell)
        table = read_table(table_path)
        id_column = config["genes"]["columns"]["gene_id"]
        require_columns(table, [id_column, column], table_path)
        precomputed = table.drop_duplicates(id_column).set_index(id_column)[column]
        targets["precomputed"] = targets["gene_id"].map(precomputed).to_numpy()
        r = targets["target_ctss"].corr(np.log10(targets["precomputed"] + 1.0))
        log.info("%s: target vs log10(%s + 1): Pearson r = %.4f over %d genes", cell, column, r, len(targets))
    if config["target"]["source"] == "precomputed":
        missing = targets["precomputed"].isna()
        if missing.any():
            raise ValueError(
                f"{table_path}: column {column} has no value for {int(missing.sum())} genes, "
                f"e.g. {targets.loc[missing, 'gene_id'].iloc[0]} (target.source: precomputed)"
            )
        targets["target"] = np.log10(targets["precomputed"] + 1.0)
    else:
        targets["target"] = targets["target_ctss"]
    test = genes["split"].to_numpy() == "test"
    log.info(
        "%s: target (%s) SD over the %d test genes: %.3f (the paper's Table 1 implies about 0.87 for "
        "K562 and 0.96 for GM12878)",
        cell,
        config["target"]["source"],
        int(test.sum()),
        float(np.std(targets["target"].to_numpy()[test], ddof=1)),
    )
    return targets


def cage_targets(config: dict, genes, ctss, table, cell: str, out) -> None:
    """Each gene's CAGE target in one cell type (`cell_targets`)."""
    write_tsv(cell_targets(config, pd.read_csv(genes, sep="\t"), ctss, table, cell), out)
