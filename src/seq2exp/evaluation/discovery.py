"""Scoring discovered regulatory elements against a truth set (the demo's planted elements or a
user's BED in the same layout), per cell type over the test genes.

Everything here works in WINDOW coordinates: index i of a gene's window (length L = 2 x half_width)
is genome position tss - half_width + i, or, for a minus-strand gene stored reverse-complemented
(`window.reverse_complement_minus_strand`), genome position tss + half_width - 1 - i.

Per gene the caller assembles a `GeneWindow`:
- `eligible` (L,) bool: the bases that are scored. The forced central region, blacklisted bases and
  N bases (padding beyond chromosome ends, assembly gaps) are excluded (`eligible_positions`): the
  mask is forced there, so no method gets credit or blame for them.
- `labels` (L,) bool: 1 inside any truth element of this gene (`base_labels`).
- `elements`: the gene's truth elements (label 1) and decoys (label 0) as window intervals
  (`gene_elements`).
- `scores`: method -> (L,) float, higher = more likely regulatory (soft mask, DNase, ...).
- `selections`: name -> (L,) bool, binary selections (the hard mask; `top_k_selection` of a soft
  mask at a given ratio), scored by precision and recall.

`discovery_table` pools the genes of each cell type: per-base AUPRC over all eligible bases,
per-element AUPRC over all scored elements (an element's score is the method's mean over its
eligible bases), and precision/recall of each selection over eligible bases.

`discovery` is the rule's work: per run cell type, `discovery_scores` assembles the test genes'
windows from the store, the trained masks and the MACS3 peaks.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..features.genome import N_CODE, central_slice
from ..features.peaks import read_narrowpeak
from ..files import check_intervals, nonnegative_integers, write_text, write_tsv
from ..training.dataset import GeneWindows
from ..training.masks import MaskFile, open_masks
from ..training.specs import HARD_MODEL, SOFT_MODEL, cell_input
from .metrics import _markdown_grid, _number

log = logging.getLogger(__name__)

TRUTH_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "gene_id", "kind", "contribution", "contact"]
TRUTH_REQUIRED = 7  # chrom .. gene_id; kind, contribution and contact may be absent in a user's BED
ELEMENT_REQUIRED = ["chrom", "start", "end", "element_id", "kind"]
ELEMENT_COLUMNS = ["start", "end", "label", "kind"]
MIN_ELIGIBLE_FRACTION = 0.5  # an element is scored when at least this fraction of its in-window bases is eligible
TABLE_COLUMNS = ["cell_type", "method", "level", "auprc", "precision", "recall"]
CHANCE = "chance"


# --- coordinates ------------------------------------------------------------------------------


def window_interval(
    start: int, end: int, tss: int, half_width: int, minus: bool = False, reverse_minus: bool = False
) -> tuple[int, int]:
    """Genome interval [start, end) -> window indices [i, j), clipped to the window (i == j when
    they do not overlap). With `reverse_minus` and a minus-strand gene the window runs from
    genome position tss + half_width - 1 down to tss - half_width."""
    window_start = tss - half_width
    length = 2 * half_width
    if minus and reverse_minus:
        i, j = window_start + length - end, window_start + length - start
    else:
        i, j = start - window_start, end - window_start
    i, j = max(i, 0), min(j, length)
    return (i, j) if i < j else (0, 0)


def eligible_positions(length: int, central_bp: int, blacklist_mask, n_mask) -> np.ndarray:
    """(L,) bool: bases outside the forced central region (the model's own `central_slice`),
    not blacklisted and not N (padding beyond chromosome ends or an assembly gap)."""
    blacklist_mask, n_mask = np.asarray(blacklist_mask, dtype=bool), np.asarray(n_mask, dtype=bool)
    for name, mask in (("blacklist_mask", blacklist_mask), ("n_mask", n_mask)):
        if mask.shape != (length,):
            raise ValueError(f"{name} has shape {mask.shape}; expected ({length},), the window length")
    eligible = ~(blacklist_mask | n_mask)
    eligible[central_slice(length, central_bp)] = False
    return eligible


# --- truth files ------------------------------------------------------------------------------


def read_truth_bed(path: str) -> pd.DataFrame:
    """A truth BED: BED6 + gene_id [+ kind, contribution, contact], '#' lines skipped. One row per
    (element, gene it regulates); 0-based half-open coordinates."""
    try:
        raw = pd.read_csv(path, sep="\t", header=None, comment="#", dtype=str)
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame(columns=range(TRUTH_REQUIRED))
    if raw.shape[1] < TRUTH_REQUIRED:
        raise ValueError(
            f"{path}: a truth BED needs at least {TRUTH_REQUIRED} columns "
            f"({', '.join(TRUTH_COLUMNS[:TRUTH_REQUIRED])}); found {raw.shape[1]}"
        )
    raw = raw.iloc[:, : len(TRUTH_COLUMNS)]
    raw.columns = TRUTH_COLUMNS[: raw.shape[1]]
    if "kind" not in raw.columns:
        raw["kind"] = "element"
    truth = raw.reindex(columns=TRUTH_COLUMNS)
    for column in ["start", "end"]:
        truth[column] = nonnegative_integers(truth[column], path, column)
    for column in ["contribution", "contact"]:
        truth[column] = pd.to_numeric(truth[column], errors="coerce")
    check_intervals(truth, path)
    return truth


def read_elements(path: str) -> pd.DataFrame:
    """The demo's `elements.tsv` (every planted element with its kind), the source of decoys."""
    elements = pd.read_csv(path, sep="\t", dtype={"chrom": str, "element_id": str, "kind": str})
    missing = [c for c in ELEMENT_REQUIRED if c not in elements.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected at least {ELEMENT_REQUIRED}")
    for column in ["start", "end"]:
        elements[column] = nonnegative_integers(elements[column], path, column)
    check_intervals(elements, path)
    return elements


# --- per gene ---------------------------------------------------------------------------------


class Window(NamedTuple):
    """Where a gene's window lies in the genome (see the module docstring)."""

    chrom: str
    tss: int  # 0-based
    half_width: int
    minus: bool = False
    reverse_minus: bool = False

    @property
    def length(self) -> int:
        return 2 * self.half_width

    def interval(self, start: int, end: int) -> tuple[int, int]:
        return window_interval(start, end, self.tss, self.half_width, self.minus, self.reverse_minus)

    def overlapping(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows of a (chrom, start, end) table that overlap the window, with window columns i, j."""
        lo, hi = self.tss - self.half_width, self.tss + self.half_width
        rows = table[(table["chrom"] == self.chrom) & (table["end"] > lo) & (table["start"] < hi)]
        ij = [self.interval(s, e) for s, e in zip(rows["start"], rows["end"])]
        return rows.assign(i=[a for a, _ in ij], j=[b for _, b in ij])


def gene_elements(
    window: Window,
    gene_id: str,
    truth: pd.DataFrame,
    decoys: pd.DataFrame | None = None,
    background_bp: int | None = None,
) -> pd.DataFrame:
    """The gene's scored elements in window coordinates: columns start, end (window indices,
    clipped to the window), label (1 = truth element of this gene, 0 = decoy), kind.

    Truth elements are the `truth` rows of `gene_id`. Decoys, with the demo's `elements.tsv` as
    `decoys`: every other planted element overlapping the window (open CTCF sites, motif clusters in
    closed chromatin, blacklisted artefacts, neighbours' promoters and enhancers, this gene's
    enhancers that are inactive in this cell type), i.e. every element that overlaps none of this
    gene's truth elements. Without `decoys` (a user's BED alone), the background is the window
    tiled into segments of `background_bp` bases (typically the median truth-element length)
    from index 0, less those that overlap a truth element. Eligibility is applied later
    (`element_scores`)."""
    own = window.overlapping(truth[truth["gene_id"] == gene_id])
    positives = pd.DataFrame({"start": own["i"], "end": own["j"], "label": 1, "kind": own["kind"]})
    positives = positives[positives["end"] > positives["start"]]
    if decoys is not None:
        near = window.overlapping(decoys)
        candidates = pd.DataFrame({"start": near["i"], "end": near["j"], "label": 0, "kind": near["kind"]})
        candidates = candidates[candidates["end"] > candidates["start"]]
    elif background_bp is not None:
        if background_bp < 1:
            raise ValueError(f"background_bp must be a positive number of bases; got {background_bp}")
        starts = np.arange(0, window.length, background_bp)
        candidates = pd.DataFrame(
            {
                "start": starts,
                "end": np.minimum(starts + background_bp, window.length),
                "label": 0,
                "kind": "background",
            }
        )
    else:
        raise ValueError("gene_elements needs decoys (an elements table) or background_bp (tiling)")
    overlaps_truth = np.zeros(len(candidates), dtype=bool)
    for s, e in zip(positives["start"], positives["end"]):
        overlaps_truth |= (candidates["start"].to_numpy() < e) & (candidates["end"].to_numpy() > s)
    elements = pd.concat([positives, candidates[~overlaps_truth]], ignore_index=True)
    return elements[ELEMENT_COLUMNS].astype({"start": np.int64, "end": np.int64, "label": np.int8})


def base_labels(length: int, elements: pd.DataFrame) -> np.ndarray:
    """(L,) bool: 1 inside any label-1 element."""
    labels = np.zeros(length, dtype=bool)
    for s, e in zip(elements.loc[elements["label"] == 1, "start"], elements.loc[elements["label"] == 1, "end"]):
        labels[s:e] = True
    return labels


class GeneWindow(NamedTuple):
    """One gene's inputs to discovery scoring (arrays of the window length L; see module docstring)."""

    labels: np.ndarray
    eligible: np.ndarray
    scores: dict[str, np.ndarray]
    elements: pd.DataFrame | None = None
    selections: dict[str, np.ndarray] | None = None
    gene_id: str = ""


def gene_window(
    window: Window,
    gene_id: str,
    truth: pd.DataFrame,
    eligible: np.ndarray,
    scores: dict[str, np.ndarray],
    selections: dict[str, np.ndarray] | None = None,
    decoys: pd.DataFrame | None = None,
    background_bp: int | None = None,
) -> GeneWindow:
    """Assemble a GeneWindow: elements and per-base labels from the truth (and decoys) of this gene."""
    elements = gene_elements(window, gene_id, truth, decoys, background_bp)
    return GeneWindow(
        base_labels(window.length, elements),
        np.asarray(eligible, dtype=bool),
        scores,
        elements,
        selections or {},
        gene_id,
    )


# --- metrics ----------------------------------------------------------------------------------


def ranked_thresholds(labels, scores) -> tuple[np.ndarray, np.ndarray, int]:
    """The ranking's thresholds, the distinct scores from high to low: true positives and bases
    selected at each, and the number of positives. Equal scores form one threshold: they enter the
    ranking together, so their order in the input never matters."""
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=float).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in length: {labels.shape[0]} and {scores.shape[0]}")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    group_ends = np.flatnonzero(np.diff(sorted_scores, append=np.nan) != 0)  # the NaN closes the last group
    return np.cumsum(sorted_labels)[group_ends], group_ends + 1, int(labels.sum())


def average_precision(labels, scores) -> float:
    """AUPRC as average precision: sum over thresholds of (R_k - R_{k-1}) x P_k, the thresholds
    being the distinct scores from high to low (`ranked_thresholds`); all-equal scores give the
    fraction of positives (the AUPRC of a random ranking). NaN when there is no positive."""
    scores = np.asarray(scores, dtype=float)
    if np.isnan(scores).any():
        raise ValueError(f"scores hold {np.isnan(scores).sum()} NaN value(s)")
    true_pos, selected, n_positive = ranked_thresholds(labels, scores)
    if n_positive == 0:
        return math.nan
    recall_step = np.diff(np.r_[0, true_pos]) / n_positive
    return float(np.sum(recall_step * true_pos / selected))


def precision_recall(labels, selected, eligible) -> tuple[float, float]:
    """Precision and recall of a binary selection over eligible bases (NaN where undefined)."""
    labels, selected, eligible = (np.asarray(a, dtype=bool) for a in (labels, selected, eligible))
    if not labels.shape == selected.shape == eligible.shape:
        raise ValueError(
            f"labels, selected and eligible differ in shape: {labels.shape}, {selected.shape}, {eligible.shape}"
        )
    chosen, truth = selected & eligible, labels & eligible
    hits = np.sum(chosen & truth)
    precision = hits / chosen.sum() if chosen.any() else math.nan
    recall = hits / truth.sum() if truth.any() else math.nan
    return float(precision), float(recall)


def top_k_selection(scores, eligible, ratio: float) -> np.ndarray:
    """(L,) bool: the round(ratio x number of eligible bases) eligible bases with the highest scores
    (equal scores: the lower index first). Used to compare a soft mask with a hard selection at
    the same ratio, e.g. MACS3's `peaks[eligible].mean()`."""
    scores, eligible = np.asarray(scores, dtype=float), np.asarray(eligible, dtype=bool)
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio must lie in [0, 1]; got {ratio}")
    candidates = np.flatnonzero(eligible)
    k = int(round(ratio * len(candidates)))
    chosen = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
    selection = np.zeros(scores.shape, dtype=bool)
    selection[chosen] = True
    return selection


def _method_scores(gene: GeneWindow, method: str) -> np.ndarray:
    if method not in gene.scores:
        raise ValueError(f"gene {gene.gene_id or '?'} has no scores for method {method}; it has {sorted(gene.scores)}")
    scores = np.asarray(gene.scores[method], dtype=float)
    if scores.shape != gene.eligible.shape:
        raise ValueError(
            f"gene {gene.gene_id or '?'}, method {method}: scores of shape {scores.shape}, "
            f"window of {gene.eligible.shape}"
        )
    if np.isnan(scores[gene.eligible]).any():
        raise ValueError(f"gene {gene.gene_id or '?'}, method {method}: NaN scores at eligible bases")
    return scores


def as_gene_window(gene) -> GeneWindow:
    """A GeneWindow from a GeneWindow or a plain (labels, eligible, scores, ...) tuple; 0/1 integer
    masks become booleans (used as indices they would pick positions 0 and 1)."""
    gene = GeneWindow(*gene)
    return gene._replace(labels=np.asarray(gene.labels, dtype=bool), eligible=np.asarray(gene.eligible, dtype=bool))


def per_base_auprc(genes: list[GeneWindow]) -> dict[str, float]:
    """Method -> AUPRC over the eligible bases of all genes pooled (methods of the first gene)."""
    if not genes:
        return {}
    genes = [as_gene_window(g) for g in genes]
    labels = np.concatenate([g.labels[g.eligible] for g in genes])
    return {
        method: average_precision(labels, np.concatenate([_method_scores(g, method)[g.eligible] for g in genes]))
        for method in genes[0].scores
    }


def scored_elements(gene: GeneWindow) -> pd.DataFrame:
    """The gene's elements that are mostly eligible (>= MIN_ELIGIBLE_FRACTION of their bases)."""
    fraction = [gene.eligible[s:e].mean() for s, e in zip(gene.elements["start"], gene.elements["end"])]
    return gene.elements[np.asarray(fraction, dtype=float) >= MIN_ELIGIBLE_FRACTION]


def element_scores(gene: GeneWindow, method: str) -> pd.DataFrame:
    """`scored_elements` with the method's mean over each element's eligible bases: columns start,
    end, label, kind, score."""
    scores = _method_scores(gene, method)
    elements = scored_elements(gene)
    means = [scores[s:e][gene.eligible[s:e]].mean() for s, e in zip(elements["start"], elements["end"])]
    return elements.assign(score=np.asarray(means, dtype=float))


def per_element_auprc(genes: list[GeneWindow]) -> dict[str, float]:
    """Method -> AUPRC over the scored elements of all genes pooled."""
    if not genes:
        return {}
    genes = [as_gene_window(g) for g in genes]
    result = {}
    for method in genes[0].scores:
        pooled = pd.concat([element_scores(g, method) for g in genes], ignore_index=True)
        result[method] = average_precision(pooled["label"].to_numpy(), pooled["score"].to_numpy())
    return result


def _pooled_precision_recall(genes: list[GeneWindow], name: str) -> tuple[float, float]:
    for g in genes:
        if name not in (g.selections or {}):
            raise ValueError(f"gene {g.gene_id or '?'} has no selection {name}; it has {sorted(g.selections or {})}")
    return precision_recall(
        np.concatenate([g.labels for g in genes]),
        np.concatenate([np.asarray(g.selections[name], dtype=bool) for g in genes]),
        np.concatenate([g.eligible for g in genes]),
    )


def discovery_table(genes_by_cell: dict[str, list[GeneWindow]]) -> pd.DataFrame:
    """Tidy table (TABLE_COLUMNS) per cell type: each score method at level 'base' and 'element'
    (auprc; precision/recall NaN), each selection at level 'base' (precision, recall; auprc NaN),
    and a 'chance' row per level whose auprc is the fraction of positives, i.e. what a random
    ranking scores."""
    rows = []
    for cell, genes in genes_by_cell.items():
        if not genes:
            raise ValueError(f"no genes to score discovery for cell type {cell}")
        genes = [as_gene_window(g) for g in genes]
        for level, auprc in (("base", per_base_auprc(genes)), ("element", per_element_auprc(genes))):
            rows += [dict(cell_type=cell, method=m, level=level, auprc=v) for m, v in auprc.items()]
        rows.append(
            dict(
                cell_type=cell,
                method=CHANCE,
                level="base",
                auprc=float(np.concatenate([g.labels[g.eligible] for g in genes]).mean()),
            )
        )
        element_labels = pd.concat([scored_elements(g) for g in genes])["label"]
        rows.append(
            dict(
                cell_type=cell,
                method=CHANCE,
                level="element",
                auprc=float(element_labels.mean()) if len(element_labels) else math.nan,
            )
        )
        for name in genes[0].selections or {}:
            precision, recall = _pooled_precision_recall(genes, name)
            rows.append(dict(cell_type=cell, method=name, level="base", precision=precision, recall=recall))
    table = pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)
    return table.astype({"auprc": float, "precision": float, "recall": float})


def render_discovery_markdown(table: pd.DataFrame, title: str = "Discovered regulatory elements") -> str:
    """One row per method; per cell type: base AUPRC, element AUPRC, precision, recall (NA where
    not applicable)."""
    cells = list(dict.fromkeys(table["cell_type"]))
    methods = list(dict.fromkeys(table["method"]))
    header = ["method"]
    for cell in cells:
        header += [f"{cell} base AUPRC", f"{cell} element AUPRC", f"{cell} precision", f"{cell} recall"]
    lines = []
    for method in methods:
        line = [method]
        for cell in cells:
            rows = table[(table["cell_type"] == cell) & (table["method"] == method)].set_index("level")
            line += [
                _value(rows, "base", "auprc"),
                _value(rows, "element", "auprc"),
                _value(rows, "base", "precision"),
                _value(rows, "base", "recall"),
            ]
        lines.append(line)
    note = (
        "Test genes; central region, blacklist and N bases excluded. AUPRC pools all eligible bases "
        "(base) or all truth elements and decoys scored by their mean (element); 'chance' is the "
        "fraction of positives. Precision and recall are for binary selections."
    )
    return f"# {title}\n\n{note}\n\n{_markdown_grid(header, lines)}\n"


def _value(rows: pd.DataFrame, level: str, column: str) -> str:
    return _number(rows.loc[level, column]) if level in rows.index else "NA"


# --- the rule `discovery`: the run's trained masks against the truth -------------------------


def check_mask_genes(masks: MaskFile, windows: GeneWindows) -> None:
    if list(masks.gene_ids) != list(windows.gene_ids):
        raise ValueError(f"{masks.path}: genes differ from the store {windows.cell_path}")


def peak_strength(peaks: pd.DataFrame) -> pd.Series:
    """How strong MACS3 calls each peak: its signal value, or, where the caller leaves that 0
    (`bdgpeakcall` does), its score, which is ten times the summit's height."""
    return peaks["signal_value"] if (peaks["signal_value"] > 0).any() else peaks["score"].astype(float)


def store_window(gene: pd.Series, window_cfg: dict) -> Window:
    """The window of a gene-table row as the store built it (the config's `window`)."""
    return Window(
        gene["chrom"],
        int(gene["tss"]),
        window_cfg["half_width"],
        gene["strand"] == "-",
        window_cfg["reverse_complement_minus_strand"],
    )


def per_base_peak_signal(window: Window, peaks: pd.DataFrame) -> np.ndarray:
    """MACS3 peaks as a per-base score: the peak's strength inside peaks, 0 outside."""
    score = np.zeros(window.length)
    for row in window.overlapping(peaks.assign(strength=peak_strength(peaks))).itertuples():
        score[row.i : row.j] = np.maximum(score[row.i : row.j], row.strength)
    return score


def discovery_scores(
    config: dict,
    cell: str,
    store_dir: str,
    genes_path: str,
    soft_masks: str,
    hard_masks: str | None,
    peaks_path: str,
    truth_bed: str,
    elements_path: str | None,
) -> list[GeneWindow]:
    """Per test gene: truth labels, eligible bases, and the scores of each method."""
    window_cfg = config["window"]
    genes = pd.read_csv(genes_path, sep="\t").set_index("gene_id")
    windows = GeneWindows(store_dir, cell)
    truth = read_truth_bed(truth_bed)
    decoys = read_elements(elements_path) if elements_path else None
    background = None if decoys is not None else int((truth["end"] - truth["start"]).median())
    peaks = read_narrowpeak(peaks_path)
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}
    result = []
    with contextlib.ExitStack() as files:
        files.enter_context(windows)
        opened = [files.enter_context(open_masks(path)) for path in (soft_masks, hard_masks) if path]
        for masks in opened:
            check_mask_genes(masks, windows)
        soft, untrained = opened[0]["mask"], opened[0]["mask_untrained"]
        hard = opened[1]["mask"] if hard_masks else None
        for gene_id in genes.index[genes["split"] == "test"]:
            if gene_id not in row_of:
                continue
            row, g = row_of[gene_id], genes.loc[gene_id]
            item = windows[row]
            window = store_window(g, window_cfg)
            eligible = eligible_positions(
                window.length, window_cfg["central_region"], item["blacklist"], item["dna"] == N_CODE
            )
            signals = item["signals"].astype(np.float32)  # (H3K27ac, DNase, Hi-C)
            peak_signal = per_base_peak_signal(window, peaks)
            if not untrained.written[row]:
                raise ValueError(
                    f"{soft_masks}: no `mask_untrained` for test gene {gene_id} (stored for the test "
                    f"genes of the training job's gene table only; is {genes_path}'s split another?)"
                )
            trained = soft[row]
            scores = {
                SOFT_MODEL: trained,
                f"{SOFT_MODEL} (untrained)": untrained[row],
                "macs3": peak_signal,
                "dnase": signals[1],
                "hic-contact": signals[2],
                "dnase x contact": signals[1] * signals[2],
            }
            macs3_ratio = float((peak_signal[eligible] > 0).mean()) if eligible.any() else 0.0
            selections = {
                f"{SOFT_MODEL} top-k at macs3 ratio": top_k_selection(trained, eligible, macs3_ratio),
                "macs3 peaks": peak_signal > 0,
            }
            if hard is not None:
                selections[HARD_MODEL] = hard[row] >= 0.5
            result.append(gene_window(window, gene_id, truth, eligible, scores, selections, decoys, background))
    return result


def discovery(config: dict, inputs: Mapping[str, str], out_tsv: str, out_md: str) -> None:
    """`tables/discovery` over the run's cell types. `inputs`: the rule's inputs by name: `genes`,
    `elements` (optional decoys), and per cell type its store, soft and (optional) hard masks, MACS3
    peaks and truth BED (`specs.cell_input`)."""
    scores = {}
    for cell in config["run_cell_types"]:
        scores[cell] = discovery_scores(
            config,
            cell,
            store_dir=str(Path(inputs[cell_input(cell, "store")]).parent),
            genes_path=inputs["genes"],
            soft_masks=inputs[cell_input(cell, "soft")],
            hard_masks=inputs.get(cell_input(cell, "hard")),
            peaks_path=inputs[cell_input(cell, "peaks")],
            truth_bed=inputs[cell_input(cell, "truth")],
            elements_path=inputs.get("elements"),
        )
    table = discovery_table(scores)
    write_tsv(table, out_tsv)
    write_text(render_discovery_markdown(table), out_md)
    for row in table.itertuples():
        log.info(
            "%s %-40s %-7s AUPRC %.3f precision %.3f recall %.3f",
            row.cell_type,
            row.method,
            row.level,
            row.auprc,
            row.precision,
            row.recall,
        )
