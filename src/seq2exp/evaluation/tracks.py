"""Genome-browser tracks of the learned masks: a bigWig of the soft mask and a BED of elements.

A gene with 0-based TSS t has the window [t - half_width, t + half_width) (`genome.window_bounds`).
With `window.reverse_complement_minus_strand` the masks of minus-strand genes are stored in the
gene's orientation (index 0 = genome position t + half_width - 1); they are flipped back here.
Window positions beyond a chromosome's ends (padding) have no genome position and are dropped.

Masks are read one gene row at a time (`masks[i]`), so a stored mask of `masks.py` (masks.h5) of
the paper's 18,377 x 200 kb masks works as well as an in-memory array. `mask_tracks` is the rule's
work (one model of one cell type); `mask_tracks_from` also serves `seq2exp predict`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..features.genome import true_runs, value_runs, window_bounds
from ..files import atomic_output
from ..training.masks import MaskFile, StoredMask, open_masks

log = logging.getLogger(__name__)

GENE_COLUMNS = ("gene_id", "chrom", "tss", "strand")
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "gene_id", "mean_mask"]
BIGWIG_BLOCK = 1 << 22  # bases of a chromosome combined in memory at a time (16 MiB of float32)


def to_genome_orientation(mask: np.ndarray, strand: str, reverse_minus: bool) -> np.ndarray:
    """A gene's mask with index 0 at its window's genome start."""
    return mask[::-1] if reverse_minus and strand == "-" else mask


def _check_inputs(genes: pd.DataFrame, masks, half_width: int, chrom_sizes: dict[str, int]) -> None:
    missing = [c for c in GENE_COLUMNS if c not in genes.columns]
    if missing:
        raise ValueError(f"mask tracks: gene table lacks column(s) {missing}; it has {list(genes.columns)}")
    if masks.shape != (len(genes), 2 * half_width):
        raise ValueError(
            f"mask tracks: masks have shape {masks.shape}; expected (genes, 2 x half_width) = "
            f"({len(genes)}, {2 * half_width})"
        )
    bad_strand = sorted(set(genes["strand"]) - {"+", "-"})
    if bad_strand:
        raise ValueError(f"mask tracks: strand must be '+' or '-'; the gene table has {bad_strand}")
    unknown = sorted(set(genes["chrom"]) - set(chrom_sizes))
    if unknown:
        raise ValueError(f"mask tracks: chromosome(s) {unknown} of the gene table are not in the chromosome sizes")


def _gene_mask(genes: pd.DataFrame, masks, row: int, reverse_minus: bool) -> np.ndarray:
    mask = np.asarray(masks[row], dtype=np.float32)
    if not np.isfinite(mask).all():
        raise ValueError(f"mask tracks: the mask of gene {genes['gene_id'].iat[row]} has non-finite values")
    return to_genome_orientation(mask, genes["strand"].iat[row], reverse_minus)


def _max_blocks(
    genes: pd.DataFrame, masks, rows: np.ndarray, half_width: int, reverse_minus: bool, chrom_size: int, block_size: int
):
    """(block start, values) over one chromosome's covered span: the max of the overlapping windows,
    NaN where no window reaches. `rows` are the chromosome's genes in order of window start."""
    starts = genes["tss"].to_numpy()[rows] - half_width
    ends = starts + 2 * half_width  # equal widths: sorted with the starts
    for block_start in range(max(int(starts[0]), 0), min(int(ends[-1]), chrom_size), block_size):
        block_end = min(block_start + block_size, chrom_size)
        first = np.searchsorted(ends, block_start, side="right")
        last = np.searchsorted(starts, block_end, side="left")
        if first == last:
            continue
        block = np.full(block_end - block_start, np.nan, dtype=np.float32)
        for row, start, end in zip(rows[first:last], starts[first:last], ends[first:last]):
            lo, hi = max(start, block_start), min(end, block_end)
            target = block[lo - block_start : hi - block_start]
            np.fmax(target, _gene_mask(genes, masks, row, reverse_minus)[lo - start : hi - start], out=target)
        yield block_start, block


def _covered_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of the runs of equal value, NaN (no data) runs left out."""
    starts, ends, run_values = value_runs(values)
    keep = ~np.isnan(run_values)
    return starts[keep], ends[keep], run_values[keep]


def _add_block(bw, chrom: str, block_start: int, block: np.ndarray) -> None:
    """Runs of equal value as bedGraph entries (12 bytes a run) where that is smaller than one value
    per base (fixedStep, 4 bytes a base), as for a mostly flat mask; a soft mask that changes at
    every base is written base by base (1.5x smaller and 3x faster to write)."""
    starts, ends, values = _covered_runs(block)
    covered = ~np.isnan(block)
    if 3 * len(starts) <= np.count_nonzero(covered):
        if len(starts):
            bw.addEntries(
                [chrom] * len(starts),
                (starts + block_start).tolist(),
                ends=(ends + block_start).tolist(),
                values=values.astype(np.float64).tolist(),
            )
        return
    for start, end in zip(*true_runs(covered)):
        bw.addEntries(chrom, int(block_start + start), values=block[start:end].astype(np.float64), span=1, step=1)


def write_mask_bigwig(
    genes: pd.DataFrame,
    masks,
    half_width: int,
    reverse_minus: bool,
    chrom_sizes: dict[str, int],
    path: str,
    block_size: int = BIGWIG_BLOCK,
) -> str:
    """bigWig of the soft mask in genome orientation: windows that overlap are combined by max,
    bases no window covers have no data. The header lists `chrom_sizes` in its order."""
    import pyBigWig

    _check_inputs(genes, masks, half_width, chrom_sizes)
    with atomic_output(path) as tmp:
        bw = pyBigWig.open(tmp, "w")
        try:
            bw.addHeader(list(chrom_sizes.items()))
            for chrom, size in chrom_sizes.items():
                rows = np.flatnonzero((genes["chrom"] == chrom).to_numpy())
                if len(rows) == 0:
                    continue
                rows = rows[np.argsort(genes["tss"].to_numpy()[rows], kind="stable")]
                for block_start, block in _max_blocks(genes, masks, rows, half_width, reverse_minus, size, block_size):
                    _add_block(bw, chrom, block_start, block)
        finally:
            bw.close()
    return path


def _gene_elements(
    mask: np.ndarray, window_start: int, chrom_size: int, threshold: float, min_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(genome starts, genome ends, mean mask) of the runs of mask >= threshold inside the chromosome."""
    selected = mask >= threshold
    selected[: max(0, -window_start)] = False
    selected[max(0, chrom_size - window_start) :] = False
    run_starts, run_ends = true_runs(selected)
    keep = run_ends - run_starts >= min_length
    run_starts, run_ends = run_starts[keep], run_ends[keep]
    cumulative = np.concatenate([[0.0], np.cumsum(mask, dtype=np.float64)])
    means = (cumulative[run_ends] - cumulative[run_starts]) / (run_ends - run_starts)
    return run_starts + window_start, run_ends + window_start, means


def _sorted_bed(elements: pd.DataFrame) -> pd.DataFrame:
    """`sort -k1,1 -k2,2n` order, as bedtools and bedToBigBed expect."""
    return elements.sort_values(["chrom", "start", "end", "name"], kind="stable").reset_index(drop=True)


def mask_elements(
    genes: pd.DataFrame,
    masks,
    half_width: int,
    reverse_minus: bool,
    chrom_sizes: dict[str, int],
    threshold: float = 0.5,
    min_length: int = 1,
) -> pd.DataFrame:
    """BED records, one per gene and element: a maximal run of window positions with
    mask >= threshold (as the hard mask selects soft >= 0.5), at least `min_length` bases after
    padding is cut off, in genome coordinates.

    name = gene_name|gene_id where the gene has a name (not blank), else gene_id; score = the run's mean
    mask x 1000 as an integer BED score, mean_mask the float. So for a 0/1 mask, a gene's records
    cover sum(end - start) = the number of selected window positions inside the chromosome: its
    mask ratio x 2 half_width whenever the mask selects no padding (padding has no genome position
    and is never reported).
    """
    _check_inputs(genes, masks, half_width, chrom_sizes)
    names = genes["gene_id"].astype(str)
    if "gene_name" in genes.columns:
        gene_names = genes["gene_name"].fillna("").astype(str).str.strip()
        names = names.where(gene_names == "", gene_names + "|" + names)
    records = []
    for row in range(len(genes)):
        chrom = genes["chrom"].iat[row]
        window_start, _ = window_bounds(int(genes["tss"].iat[row]), half_width)
        starts, ends, means = _gene_elements(
            _gene_mask(genes, masks, row, reverse_minus), window_start, chrom_sizes[chrom], threshold, min_length
        )
        records.append(
            pd.DataFrame(
                {
                    "chrom": chrom,
                    "start": starts,
                    "end": ends,
                    "name": names.iat[row],
                    "score": np.clip(np.rint(means * 1000), 0, 1000).astype(np.int64),
                    "strand": genes["strand"].iat[row],
                    "gene_id": genes["gene_id"].iat[row],
                    "mean_mask": means,
                },
                columns=BED_COLUMNS,
            )
        )
    elements = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=BED_COLUMNS)
    return _sorted_bed(elements)


def write_mask_bed(elements: pd.DataFrame, path: str) -> str:
    """BED6+2 (gene_id, mean_mask) with a '#' header line, sorted by chromosome and start."""
    missing = [c for c in BED_COLUMNS if c not in elements.columns]
    if missing:
        raise ValueError(f"{path}: mask elements lack column(s) {missing}; they have {list(elements.columns)}")
    with atomic_output(path) as tmp:
        with open(tmp, "w") as out:
            out.write("#" + "\t".join(BED_COLUMNS) + "\n")
            _sorted_bed(elements[BED_COLUMNS]).to_csv(out, sep="\t", header=False, index=False, float_format="%.6g")
    return path


# --- the rule `mask_tracks` ------------------------------------------------------------------


def track_mask(masks: MaskFile) -> StoredMask:
    """The soft mask of a model: its Beta mean where it has a hard one, else what its predictor saw."""
    return masks["soft" if "soft" in masks else "mask"]


def mask_tracks(
    config: dict, genes_path: str, masks_path: str, fai_path: str, out_bigwig: str, out_bed: str, threshold: float
) -> None:
    window = config["window"]
    mask_tracks_from(
        pd.read_csv(genes_path, sep="\t"),
        masks_path,
        fai_path,
        window["half_width"],
        window["reverse_complement_minus_strand"],
        out_bigwig,
        out_bed,
        threshold,
    )


def mask_tracks_from(
    genes: pd.DataFrame,
    masks_path: str,
    fai_path: str,
    half_width: int,
    reverse_minus: bool,
    out_bigwig: str | None,
    out_bed: str | None,
    threshold: float,
    rows=None,
) -> None:
    """A bigWig of the model's soft mask over the genes' windows, and a BED of the elements it
    selects: runs of the mask its predictor saw at or above `threshold` (for the hard model exactly
    its hard mask). `rows`: the store rows to export (default all)."""
    sizes = dict(pd.read_csv(fai_path, sep="\t", header=None, usecols=[0, 1]).itertuples(index=False))
    with open_masks(masks_path) as masks:
        rows = np.arange(len(masks.gene_ids)) if rows is None else np.asarray(rows)
        table = genes.set_index("gene_id").loc[masks.gene_ids[rows]].reset_index()
        if out_bigwig:
            write_mask_bigwig(table, _Rows(track_mask(masks), rows), half_width, reverse_minus, sizes, out_bigwig)
        if out_bed:
            elements = mask_elements(
                table, _Rows(masks["mask"], rows), half_width, reverse_minus, sizes, threshold=threshold
            )
            write_mask_bed(elements, out_bed)
            log.info("%s: %d elements over %d genes", out_bed, len(elements), elements["gene_id"].nunique())


class _Rows:
    """The rows `rows` of a per-gene dataset, read one at a time."""

    def __init__(self, data, rows):
        self.data, self.rows = data, rows
        self.shape = (len(rows), *data.shape[1:])

    def __getitem__(self, i):
        return self.data[int(self.rows[i])]
