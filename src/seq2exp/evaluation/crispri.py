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

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..features.genome import chromosome_aliases
from ..files import write_text, write_tsv
from ..inputs.crispri import read_crispri
from ..training.dataset import GeneWindows
from ..training.masks import StoredMask, open_masks
from ..training.specs import SOFT_MODEL, cell_input
from .discovery import Window, average_precision, check_mask_genes, ranked_thresholds
from .metrics import _markdown_grid, _number

log = logging.getLogger(__name__)
CRISPRI_TRACKS = (SOFT_MODEL, "macs3", "dnase x contact")
TARGET_RECALL = 0.7
TABLE_COLUMNS = ["cell_type", "pairs", "method", "n_pairs", "n_regulated", "auprc", "precision_at_recall_0.7", "chance"]


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
            counts = {"n_pairs": len(chosen), "n_regulated": int(labels.sum())}
            for method in methods:
                scores = _ranking_scores(labels, chosen[method].to_numpy(float))
                rows.append({"cell_type": cell, "pairs": subset, "method": method, **counts, **scores})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _ranking_scores(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """How well `scores` rank the regulated pairs first: AUPRC, precision at the target recall, and
    chance (the regulated share)."""
    return {
        "auprc": average_precision(labels, scores),
        "precision_at_recall_0.7": precision_at_recall(labels, scores),
        "chance": labels.mean() if len(labels) else math.nan,
    }


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


# --- the rule `crispri`: the run's soft masks against the CRISPRi pairs ---------------------


def crispri(config: dict, inputs: Mapping[str, str], out_tsv: str, out_md: str) -> None:
    """`tables/crispri`: the benchmark's pairs of each run cell type (`CellType`), scored by the
    seq2exp-soft mask, the MACS3 peak mask, DNase x contact and distance (see this module's docstring).
    `inputs`: the rule's inputs by name: `table` (the benchmark), `genes`, and per cell type its
    store and seq2exp-soft masks (`specs.cell_input`)."""
    crispri_path, genes_path, cells = inputs["table"], inputs["genes"], config["run_cell_types"]
    pairs = read_crispri(crispri_path)
    window = config["window"]
    scored = {}
    for cell in cells:
        cell_pairs = pairs[pairs["CellType"] == cell]
        if cell_pairs.empty:
            log.warning("%s: no pairs of cell type %s", crispri_path, cell)
            continue
        windows = GeneWindows(str(Path(inputs[cell_input(cell, "store")]).parent), cell)
        genes = pd.read_csv(genes_path, sep="\t")
        genes = genes[genes["gene_id"].isin(windows.gene_ids)]
        located = pairs_in_windows(cell_pairs, genes, window["half_width"], window["reverse_complement_minus_strand"])
        log.info(
            "%s: %d %s pairs, %d with a gene of ours, %d with the element in its window",
            crispri_path,
            len(cell_pairs),
            cell,
            match_genes(cell_pairs, genes).notna().sum(),
            len(located),
        )
        with windows, open_masks(inputs[cell_input(cell, "soft")]) as masks:
            check_mask_genes(masks, windows)
            scored[cell] = score_pairs(located, _crispri_tracks(windows, masks["mask"]), list(CRISPRI_TRACKS))
    if not scored:
        raise ValueError(
            f"{crispri_path}: no pairs of the run's cell types {list(cells)}; its CellType column "
            f"holds {sorted(pairs['CellType'].unique())}"
        )
    table = crispri_table(scored, [*CRISPRI_TRACKS, "distance"])
    write_tsv(table, out_tsv)
    write_text(render_crispri_markdown(table), out_md)
    for row in table.to_dict("records"):
        log.info(
            "%s %-15s %-16s %5d pairs, %4d regulated: AUPRC %.3f, precision at recall 0.7 %.3f",
            row["cell_type"],
            row["pairs"],
            row["method"],
            row["n_pairs"],
            row["n_regulated"],
            row["auprc"],
            row["precision_at_recall_0.7"],
        )


def _crispri_tracks(windows: GeneWindows, soft: StoredMask):
    """gene_id -> the per-base tracks CRISPRi pairs are scored by, from the store and the soft mask."""
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}

    def tracks(gene_id: str) -> dict[str, np.ndarray]:
        row = row_of[gene_id]
        item = windows[row]
        signals = item["signals"].astype(np.float32)  # (H3K27ac, DNase, Hi-C)
        return {
            SOFT_MODEL: soft[row],
            "macs3": item["peaks"].astype(np.float32),
            "dnase x contact": signals[1] * signals[2],
        }

    return tracks
