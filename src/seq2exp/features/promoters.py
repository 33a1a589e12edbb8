"""Promoter activity, an extra feature of every gene: sqrt(H3K27ac RPM x DNase RPM) at the TSS, from
ABC's GeneList (the authors' PromoterActivity) or from the bigWigs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..files import write_tsv
from .bigwig import Track, region_rpm
from .genes import read_gene_list

# ABC's GeneList columns whose geometric mean is the authors' PromoterActivity (promo_enhan_inter.py).
GENE_LIST_ACTIVITY_COLUMNS = ("H3K27ac.RPM.TSS1Kb", "DHS.RPM.TSS1Kb")


def gene_list_promoter_activity(genes: pd.DataFrame, gene_list: pd.DataFrame, path: str) -> pd.DataFrame:
    """The authors' PromoterActivity: sqrt(H3K27ac.RPM.TSS1Kb x DHS.RPM.TSS1Kb) of ABC's GeneList
    (read counts in the TSS's 1 kb per million, from their ABC run's BAMs), unscaled. A gene the list
    lacks is an error naming it."""
    missing = genes.loc[~genes["gene_id"].isin(gene_list.index), "gene_id"]
    if len(missing):
        raise ValueError(
            f"{path}: no promoter activity for {len(missing)} gene(s), e.g. {missing.iloc[0]}; centre "
            "the windows on the same list (genes.tss_gene_list) so the genes it lacks are dropped"
        )
    found = gene_list.reindex(genes["gene_id"])
    h3k27ac, dnase = (found[c].to_numpy(np.float64) for c in GENE_LIST_ACTIVITY_COLUMNS)
    return pd.DataFrame(
        {
            "gene_id": genes["gene_id"].to_numpy(),
            "dnase_rpm": dnase,
            "h3k27ac_rpm": h3k27ac,
            "promoter_activity": np.sqrt(h3k27ac * dnase),
        }
    )


def bigwig_promoter_activity(genes: pd.DataFrame, dnase_path: str, h3k27ac_path: str, half_width: int) -> pd.DataFrame:
    """sqrt(H3K27ac RPM x DNase RPM) over TSS +/- half_width (ABC's TSS1Kb region)."""
    regions = [(c, t - half_width, t + half_width) for c, t in zip(genes["chrom"], genes["tss"])]
    chroms = list(genes["chrom"].unique())
    with Track(dnase_path, chroms) as dnase, Track(h3k27ac_path, chroms) as h3k27ac:
        dnase_rpm = region_rpm(dnase, regions)
        h3k27ac_rpm = region_rpm(h3k27ac, regions)
    return pd.DataFrame(
        {
            "gene_id": genes["gene_id"].to_numpy(),
            "dnase_rpm": dnase_rpm,
            "h3k27ac_rpm": h3k27ac_rpm,
            "promoter_activity": np.sqrt(dnase_rpm * h3k27ac_rpm),
        }
    )


def promoter_activity(config: dict, genes, dnase, h3k27ac, gene_list, out) -> None:
    """Each gene's promoter activity: from ABC's GeneList (`gene_list`, a list of one path) with
    features.promoter_activity: gene_list, else from the DNase and H3K27ac bigWigs."""
    table = pd.read_csv(genes, sep="\t")
    if config["features"]["promoter_activity"] == "gene_list":
        path = gene_list[0]
        listed = read_gene_list(path, config["genes"]["gene_list_id_column"], GENE_LIST_ACTIVITY_COLUMNS)
        activity = gene_list_promoter_activity(table, listed, path)
    else:
        activity = bigwig_promoter_activity(table, dnase, h3k27ac, config["features"]["promoter_half_width"])
    write_tsv(activity, out)
