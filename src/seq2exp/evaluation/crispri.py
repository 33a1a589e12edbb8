"""Discovered elements against CRISPRi perturbations: the ENCODE enhancer-gene benchmark
(EngreitzLab/CRISPR_comparison, `EPCrisprBenchmark_*.tsv.gz`), one row per tested element-gene pair,
`Regulated` (a significant decrease of the gene's expression) being the positive class.

A pair is scored when its gene is one of ours and its element lies inside the gene's window:
- gene: the pair's `measuredGeneEnsemblId` (version suffix dropped) equals our `gene_id`, or,
  failing that, its `measuredGeneSymbol` equals our `gene_name` (symbols shared by two of our
  genes are not used);
- element: [chromStart, chromEnd) entirely inside [tss - half_width, tss + half_width), same
  chromosome (aliases such as `chr1`/`1` match).
Each method scores a pair by its per-base track's mean over the element's bases, in window
coordinates (`discovery.Window`); distance scores nearer elements higher. Per cell type and method:
AUPRC (`discovery.average_precision`: equal scores form one threshold) and the precision at the
first threshold whose recall reaches 0.7, over all pairs and over those with ValidConnection.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..features.genome import chromosome_aliases
from ..files import check_intervals, nonnegative_integers, read_text_table
from .discovery import Window, average_precision, ranked_thresholds
from .metrics import _markdown_grid, _number

REQUIRED_COLUMNS = [
    "chrom",
    "chromStart",
    "chromEnd",
    "measuredGeneSymbol",
    "measuredGeneEnsemblId",
    "Regulated",
    "ValidConnection",
    "CellType",
]
TARGET_RECALL = 0.7
TABLE_COLUMNS = ["cell_type", "pairs", "method", "n_pairs", "n_regulated", "auprc", "precision_at_recall_0.7", "chance"]
BOOLEANS = {"TRUE": True, "FALSE": False, "True": True, "False": False, "1": True, "0": False}


def read_crispri(path: str) -> pd.DataFrame:
    """The benchmark table (plain or gzipped TSV) with its columns checked and typed."""
    table = read_text_table(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; expected the EPCrisprBenchmark layout with at "
            f"least {REQUIRED_COLUMNS}"
        )
    for column in ("chromStart", "chromEnd"):
        table[column] = nonnegative_integers(table[column], path, column)
    for column in ("Regulated", "ValidConnection"):
        bad = ~table[column].isin(BOOLEANS)
        if bad.any():
            raise ValueError(
                f"{path}: column {column} must be TRUE or FALSE; row "
                f"{int(np.flatnonzero(bad)[0]) + 1} has {table[column][bad].iloc[0]!r}"
            )
        table[column] = table[column].map(BOOLEANS).astype(bool)
    check_intervals(table, path, "chromStart", "chromEnd")
    return table


def match_genes(pairs: pd.DataFrame, genes: pd.DataFrame) -> pd.Series:
    """Our gene_id for each pair (NaN where the gene is not ours): by Ensembl id, else by symbol."""
    ours = set(genes["gene_id"])
    by_id = pairs["measuredGeneEnsemblId"].str.split(".").str[0].where(lambda ids: ids.isin(ours))
    names = genes.drop_duplicates("gene_name", keep=False).set_index("gene_name")["gene_id"]
    return by_id.fillna(pairs["measuredGeneSymbol"].map(names))


def pairs_in_windows(pairs: pd.DataFrame, genes: pd.DataFrame, half_width: int, reverse_minus: bool) -> pd.DataFrame:
    """The pairs of our genes whose element lies inside the gene's window, with columns gene_id,
    window (a `discovery.Window`), i, j (the element in window coordinates) and distance_bp (from
    the element's centre to the TSS)."""
    gene_of = match_genes(pairs, genes)
    table = genes.set_index("gene_id")
    rows = []
    for index, gene_id in gene_of.dropna().items():
        pair, gene = pairs.loc[index], table.loc[gene_id]
        if gene["chrom"] not in chromosome_aliases(pair["chrom"]):
            continue
        tss = int(gene["tss"])
        start, end = int(pair["chromStart"]), int(pair["chromEnd"])
        if start < tss - half_width or end > tss + half_width:
            continue
        window = Window(gene["chrom"], tss, half_width, gene["strand"] == "-", reverse_minus)
        i, j = window.interval(start, end)
        rows.append(
            dict(index=index, gene_id=gene_id, window=window, i=i, j=j, distance_bp=abs((start + end) / 2 - tss))
        )
    located = pd.DataFrame(rows, columns=["index", "gene_id", "window", "i", "j", "distance_bp"]).set_index("index")
    return pairs.loc[located.index].join(located)


def element_means(track: np.ndarray, located: pd.DataFrame) -> np.ndarray:
    """Mean of a per-base window track over each located element [i, j) (rows of one gene)."""
    return np.array([float(np.mean(track[i:j])) for i, j in zip(located["i"], located["j"])])


def score_pairs(located: pd.DataFrame, tracks_of_gene, methods: list[str]) -> pd.DataFrame:
    """`located` (from `pairs_in_windows`) with a score column per method: `tracks_of_gene(gene_id)`
    gives method -> (L,) per-base track of the gene's window for each of `methods`, and `distance`
    is minus the element's distance to the TSS (nearer scores higher)."""
    scores = pd.DataFrame(np.nan, index=located.index, columns=methods)
    for gene_id, rows in located.groupby("gene_id", sort=False):
        tracks = tracks_of_gene(gene_id)
        for method in methods:
            scores.loc[rows.index, method] = element_means(tracks[method], rows)
    return located.join(scores).assign(distance=-located["distance_bp"])


def precision_at_recall(labels, scores, recall: float = TARGET_RECALL) -> float:
    """Precision at the highest threshold whose recall reaches `recall` (equal scores enter
    together, as in `average_precision`). NaN when there is no positive."""
    true_pos, selected, n_positive = ranked_thresholds(labels, scores)
    if n_positive == 0:
        return math.nan
    first = int(np.flatnonzero(true_pos / n_positive >= recall - 1e-12)[0])
    return float(true_pos[first] / selected[first])


def crispri_table(scored: dict[str, pd.DataFrame], methods: list[str]) -> pd.DataFrame:
    """`scored`: cell type -> located pairs with one column of scores per method. One row per cell
    type, pair subset (all, ValidConnection) and method."""
    rows = []
    for cell, pairs in scored.items():
        for subset, chosen in (("all", pairs), ("ValidConnection", pairs[pairs["ValidConnection"]])):
            labels = chosen["Regulated"].to_numpy(bool)
            for method in methods:
                scores = chosen[method].to_numpy(float)
                rows.append(
                    dict(
                        cell_type=cell,
                        pairs=subset,
                        method=method,
                        n_pairs=len(chosen),
                        n_regulated=int(labels.sum()),
                        auprc=average_precision(labels, scores),
                        **{"precision_at_recall_0.7": precision_at_recall(labels, scores)},
                        chance=labels.mean() if len(labels) else math.nan,
                    )
                )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def render_crispri_markdown(table: pd.DataFrame, title: str = "Discovered elements against CRISPRi") -> str:
    """One line per cell type, pair subset and method."""
    header = ["cell type", "pairs", "method", "pairs scored", "regulated", "AUPRC", "precision at recall 0.7", "chance"]
    lines = [
        [
            row["cell_type"],
            row["pairs"],
            row["method"],
            str(row["n_pairs"]),
            str(row["n_regulated"]),
            _number(row["auprc"]),
            _number(row["precision_at_recall_0.7"]),
            _number(row["chance"]),
        ]
        for row in table.to_dict("records")
    ]
    note = (
        "ENCODE CRISPRi element-gene pairs whose gene is ours and whose element lies in the gene's window; "
        "an element's score is the method's mean over its bases (distance: nearer is higher). "
        "'Regulated' is the positive class; chance is its share."
    )
    return f"# {title}\n\n{note}\n\n{_markdown_grid(header, lines)}\n"
