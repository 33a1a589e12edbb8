"""The per-gene tensor store: its builders (read by `training.dataset.GeneWindows`).

One HDF5 file holds what all cell types share (every gene of the gene table), one file per cell
type the rest (the genes on chromosomes its inputs have); each per-gene array is one chunk, so
reading a training sample touches one chunk per dataset:

    sequence.h5   gene_id (n,)   dna (n, L) uint8 codes A,C,G,T,N = 0..4
                  blacklist (n, ceil(L/8)) uint8: the mask, bit-packed (np.packbits)
    <cell>.h5     gene_id (n,)   signals (n, 3, L) float16: H3K27ac, DNase, Hi-C contact (log10(x+1))
                  peaks (n, ceil(L/8)) uint8 bit-packed   target (n,) float32   features (n, F) float32

F features: the mRNA features (if configured), then promoter activity (`features.columns.feature_columns`).

L = 2 x half_width. With `reverse_complement_minus_strand`, windows of minus-strand genes are
stored reverse-complemented (every channel flipped with the DNA), so the TSS faces the same way.
Nothing is compressed: a sample is read as raw chunks, close to a memory copy (masks are
bit-packed instead, 8x smaller at no decoding cost worth measuring).
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings

import h5py
import numpy as np
import pandas as pd
import pyfaidx

from ..files import PerProcess, atomic_output, write_checksum, write_tsv
from .bigwig import Track
from .columns import feature_columns
from .genes import read_blacklist
from .genome import (
    genome_sizes,
    interval_mask,
    match_chromosomes,
    merged_intervals,
    reverse_complement_codes,
    window_bounds,
    window_codes,
)
from .hic import missing_fraction, per_base_contact
from .peaks import read_narrowpeak

SIGNAL_CHANNELS = ("h3k27ac", "dnase", "hic")
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65,504: larger signals would be stored as inf
log = logging.getLogger(__name__)


def _atomic_h5(path: str, fill) -> None:
    """Write an HDF5 file under a temporary name, then rename it: no partial store on failure.
    Its checksum goes to a sidecar file, which training manifests record."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        fill(handle)
    write_checksum(path)


def _per_gene(handle, name, shape, dtype, **options):
    return handle.create_dataset(name, shape=shape, dtype=dtype, chunks=(1, *shape[1:]), track_times=False, **options)


def _small(handle, name, data) -> None:
    handle.create_dataset(name, data=data, track_times=False)  # no timestamp: byte-reproducible files


def _orient(array: np.ndarray, minus: bool, reverse_minus: bool) -> np.ndarray:
    return array[..., ::-1] if (minus and reverse_minus) else array


def _packed_length(length: int) -> int:
    return -(-length // 8)


_ROW = None  # the per-gene function of a parallel build; forked workers inherit it


def _apply_row(i: int):
    return _ROW(i)


def rows_in_order(compute, n: int, workers: int, batch: int = 16):
    """compute(i) for i in 0..n-1, in order: in this process, or sharded over `workers` forked
    processes (at most batch x workers results wait in memory for the writer)."""
    global _ROW
    if workers <= 1 or n <= batch:
        yield from (compute(i) for i in range(n))
        return
    _ROW = compute
    try:
        with warnings.catch_warnings():
            # hictkpy warns on every fork; the workers only read FASTA and bigWig files.
            warnings.filterwarnings("ignore", message="hictkpy: detected a call to fork")
            pool = multiprocessing.get_context("fork").Pool(workers)
        with pool:
            step = batch * workers
            for lo in range(0, n, step):
                yield from pool.map(_apply_row, range(lo, min(lo + step, n)), chunksize=batch)
    finally:
        _ROW = None


def build_sequence_store(
    path: str,
    genes: pd.DataFrame,
    fasta_path: str,
    blacklist: pd.DataFrame,
    half_width: int,
    reverse_minus: bool,
    workers: int = 1,
) -> None:
    """DNA codes and the blacklist mask of every gene's window (shared by all cell types). The
    blacklist mask marks every position the mask may never select: blacklisted bases and the
    padding beyond chromosome ends. `workers` processes read the windows."""
    length = 2 * half_width
    merged = merged_intervals(blacklist)
    rows = list(genes[["chrom", "tss", "strand"]].itertuples(index=False))
    fasta = PerProcess(lambda: pyfaidx.Fasta(fasta_path, as_raw=True))

    def window(i):
        g = rows[i]
        minus = g.strand == "-"
        codes = window_codes(fasta.get(), g.chrom, g.tss, half_width)
        start, end = window_bounds(g.tss, half_width)
        never = interval_mask(merged, g.chrom, start, end)
        positions = np.arange(start, end)
        never |= (positions < 0) | (positions >= len(fasta.get()[g.chrom]))  # padding is no genome to select
        return (
            reverse_complement_codes(codes) if (minus and reverse_minus) else codes,
            np.packbits(_orient(never, minus, reverse_minus)),
        )

    def fill(handle):
        handle.attrs.update(half_width=half_width, reverse_complement_minus_strand=reverse_minus)
        _small(handle, "gene_id", genes["gene_id"].to_numpy().astype("S"))
        dna = _per_gene(handle, "dna", (len(genes), length), np.uint8)
        mask = _per_gene(handle, "blacklist", (len(genes), _packed_length(length)), np.uint8)
        for i, (codes, never) in enumerate(rows_in_order(window, len(rows), workers)):
            dna[i], mask[i] = codes, never

    _atomic_h5(path, fill)


def build_cell_store(
    path: str,
    genes: pd.DataFrame,
    feature_columns: list,
    dnase_path: str,
    h3k27ac_path: str,
    hic_contact,
    peaks: pd.DataFrame,
    half_width: int,
    reverse_minus: bool,
    workers: int = 1,
    hic_recipe: str | None = None,
) -> None:
    """Signals, Hi-C contact, peak mask, target and features of one cell type.

    `genes` carries `target` and the `feature_columns` (model order);
    `hic_contact(gene_row) -> float32 (L,)` gives the per-base Hi-C channel, made by `hic_recipe`
    (kept as an attribute where given); `workers` processes read the windows.
    """
    length = 2 * half_width
    chroms = list(genes["chrom"].unique())
    merged_peaks = merged_intervals(peaks)
    features = list(feature_columns)
    rows = list(genes.itertuples())
    tracks = PerProcess(lambda: (Track(h3k27ac_path, chroms), Track(dnase_path, chroms)))

    def window(i):
        g = rows[i]
        minus = g.strand == "-"
        h3k27ac, dnase = (track.window(g.chrom, g.tss, half_width) for track in tracks.get())
        values = np.stack([h3k27ac[0], dnase[0], hic_contact(g)])
        clipped = int(np.count_nonzero(np.abs(values) > FLOAT16_MAX))
        values = np.clip(_orient(values, minus, reverse_minus), -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
        start, end = window_bounds(g.tss, half_width)
        peak_bits = np.packbits(_orient(interval_mask(merged_peaks, g.chrom, start, end), minus, reverse_minus))
        return values, peak_bits, clipped, np.array([h3k27ac[1:], dnase[1:]])

    clipped = 0
    gaps = np.zeros((2, 2), dtype=np.int64)  # per bigWig (H3K27ac, DNase): bases without data, with NaN

    def fill(handle):
        nonlocal clipped, gaps
        handle.attrs.update(
            half_width=half_width,
            reverse_complement_minus_strand=reverse_minus,
            channels=list(SIGNAL_CHANNELS),
            feature_columns=list(features),
        )
        if hic_recipe:
            handle.attrs["hic_recipe"] = hic_recipe
        _small(handle, "gene_id", genes["gene_id"].to_numpy().astype("S"))
        _small(handle, "target", genes["target"].to_numpy(np.float32))
        _small(handle, "features", genes[features].to_numpy(np.float32))
        signals = _per_gene(handle, "signals", (len(genes), len(SIGNAL_CHANNELS), length), np.float16)
        peak_mask = _per_gene(handle, "peaks", (len(genes), _packed_length(length)), np.uint8)
        for i, (values, peak_bits, n_clipped, n_gaps) in enumerate(rows_in_order(window, len(rows), workers)):
            signals[i], peak_mask[i] = values, peak_bits
            clipped += n_clipped
            gaps += n_gaps

    _atomic_h5(path, fill)
    if clipped:
        log.warning("%s: %d signal values beyond float16's range (|x| > %g) clipped to it", path, clipped, FLOAT16_MAX)
    for bigwig, (no_data, nan) in zip((h3k27ac_path, dnase_path), gaps):
        if no_data:
            log.info("%s: %d bases of the genes' windows have no data, read as 0", bigwig, no_data)
        if nan:
            log.warning("%s: %d bases of the genes' windows hold NaN values, read as 0 (%s)", bigwig, nan, path)


# --- the stage ----------------------------------------------------------------------------


def store_sequence(
    config: dict, genes_path: str, fasta_path: str, blacklist_path: str, out_h5: str, workers: int = 1
) -> None:
    """The store every cell type shares: each gene's DNA codes and blacklist mask."""
    genes = pd.read_csv(genes_path, sep="\t")
    blacklist = read_blacklist(blacklist_path, genome_sizes(fasta_path))
    window = config["window"]
    build_sequence_store(
        out_h5, genes, fasta_path, blacklist, window["half_width"], window["reverse_complement_minus_strand"], workers
    )


def store_cell(
    config: dict,
    genes_path: str,
    targets_path: str,
    promoter_path: str,
    dnase_path: str,
    h3k27ac_path: str,
    contacts_path: str,
    peaks_path: str,
    out_h5: str,
    out_table: str,
    workers: int = 1,
) -> None:
    """One cell type's store file, and its per-gene table (target, features, QC); `workers`
    processes read the windows."""
    half_width = config["window"]["half_width"]
    resolution = config["hic"]["resolution"]
    genes = (
        pd.read_csv(genes_path, sep="\t")
        .merge(pd.read_csv(targets_path, sep="\t")[["gene_id", "target"]], on="gene_id", how="left")
        .merge(pd.read_csv(promoter_path, sep="\t")[["gene_id", "promoter_activity"]], on="gene_id", how="left")
    )
    missing = genes[["target", "promoter_activity"]].isna().any(axis=1)
    if missing.any():
        raise ValueError(
            f"{targets_path} / {promoter_path}: no target or promoter activity for "
            f"{int(missing.sum())} genes, e.g. {genes.loc[missing, 'gene_id'].iloc[0]}"
        )
    contacts = pd.read_csv(contacts_path, sep="\t")
    profiles = dict(tuple(contacts.groupby("gene_id", sort=False)))
    peaks = read_narrowpeak(peaks_path)
    to_genome = {
        f: g for g, f in match_chromosomes(genes["chrom"].unique(), peaks["chrom"].unique(), peaks_path).items()
    }
    peaks = peaks.assign(chrom=peaks["chrom"].map(to_genome)).dropna(subset=["chrom"])

    def hic_channel(gene):
        return per_base_contact(profiles[gene.gene_id], gene.tss, half_width, resolution)

    build_cell_store(
        out_h5,
        genes,
        feature_columns(config),
        dnase_path,
        h3k27ac_path,
        hic_channel,
        peaks,
        half_width,
        config["window"]["reverse_complement_minus_strand"],
        workers,
        hic_recipe=config["hic"]["recipe"],
    )
    qc = contacts.groupby("gene_id", sort=False)[["hic_contact"]].apply(missing_fraction)
    table = genes[["gene_id", "target", *feature_columns(config)]].assign(
        frac_hic_missing=genes["gene_id"].map(qc).to_numpy()
    )
    write_tsv(table, out_table)


def store_gene_table(config: dict, genes_path: str, cell_tables: list, peak_tables: list, out_table: str) -> None:
    """The gene table with every cell type's target, promoter activity and QC columns beside it;
    `cell_tables` (`store_cell`'s) and `peak_tables` (peak mask ratios) in `run_cell_types` order."""
    cells = config["run_cell_types"]
    if not len(cells) == len(cell_tables) == len(peak_tables):
        raise ValueError(
            f"run_cell_types {cells}: got {len(cell_tables)} cell tables and {len(peak_tables)} peak tables, "
            "expected one of each per cell type"
        )
    genes = pd.read_csv(genes_path, sep="\t")
    for cell, path, peaks_path in zip(cells, cell_tables, peak_tables):
        table = pd.read_csv(path, sep="\t")[["gene_id", "target", "promoter_activity", "frac_hic_missing"]]
        peaks = pd.read_csv(peaks_path, sep="\t")[["gene_id", "mask_ratio"]].rename(
            columns={"mask_ratio": "peak_mask_ratio"}
        )
        table = table.merge(peaks, on="gene_id", how="left").set_index("gene_id").add_suffix(f"_{cell}")
        genes = genes.join(table, on="gene_id")
    write_tsv(genes, out_table)
