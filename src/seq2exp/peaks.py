"""MACS3 peaks on the DNase-seq signal, and the peak mask of the paper's MACS3 baseline (Table 2).

The baseline's mask is 1 inside MACS3 DNase peaks and 0 elsewhere; the paper reports its mask
ratio (13.61% of window bases in K562, 15.95% in GM12878). We call the peaks with
`macs3 bdgpeakcall` on the DNase bigWig converted to a bedGraph. MACS3's default cutoff (5)
is meant for its own -log10 p-value scores; on a converted signal it calls a handful of peaks
or whole chromosomes, so the cutoff is derived from the signal's own scale (`signal_cutoff`).

Coordinates are 0-based and half-open throughout. A gene's window is
[tss - half_width, tss + half_width); window positions beyond a chromosome's ends are 0.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_output, scratch_dir, write_tsv
from .genome import interval_mask, match_chromosomes, merged_intervals
from .signals import Track

log = logging.getLogger(__name__)

NARROWPEAK_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "signal_value", "p_value",
                      "q_value", "summit"]
CUTOFF_RULES = ("median_multiple", "quantile")
READ_CHUNK = 10_000_000  # bases read from a bigWig at a time
HISTOGRAM_DIGITS = 4  # significant digits kept in the value distribution (bounds its memory)


@dataclass(frozen=True)
class PeakSettings:
    """How peaks are called; the fields are the config's `peaks.*` keys.

    cutoff: the bdgpeakcall cutoff; None derives it from the signal with `cutoff_rule`:
      - "median_multiple": cutoff_multiplier x the median of the signal over bases with signal > 0
        (a fold enrichment over the typical covered base, as MACS3's own fold cutoffs);
      - "quantile": the cutoff_quantile quantile of the signal over bases with signal > 0.
    min_length, max_gap: bdgpeakcall's -l and -g, in bp (MACS3 defaults 200 and 30).
    """

    cutoff: float | None = None
    cutoff_rule: str = "median_multiple"
    cutoff_multiplier: float = 5.0
    cutoff_quantile: float = 0.95
    min_length: int = 200
    max_gap: int = 30

    def __post_init__(self):
        if self.cutoff_rule not in CUTOFF_RULES:
            raise ValueError(f"peaks.cutoff_rule: {self.cutoff_rule!r} is not one of {CUTOFF_RULES}")
        if self.cutoff_multiplier <= 0:
            raise ValueError(f"peaks.cutoff_multiplier: expected a positive number, got {self.cutoff_multiplier}")
        if not 0 < self.cutoff_quantile < 1:
            raise ValueError(f"peaks.cutoff_quantile: expected a number in (0, 1), got {self.cutoff_quantile}")
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError(f"peaks.min_length must be >= 1 and peaks.max_gap >= 0, got "
                             f"{self.min_length} and {self.max_gap}")


@dataclass(frozen=True)
class PeakCalls:
    peaks: pd.DataFrame  # narrowPeak columns
    cutoff: float


# --- bigWig -------------------------------------------------------------------------------


def open_bigwig(path: str | os.PathLike, chromosomes=None) -> tuple[Track, dict[str, int]]:
    """Open a bigWig and check that it has every requested chromosome; returns (track, sizes)."""
    track = Track(str(path))
    sizes = track.file_chroms
    missing = [c for c in (chromosomes or []) if c not in sizes]
    if missing:
        track.close()
        shown = ", ".join(sorted(sizes)[:30]) + (", ..." if len(sizes) > 30 else "")
        raise ValueError(f"bigWig {path} lacks chromosome(s) {missing}; it has {shown}")
    return track, {c: sizes[c] for c in (chromosomes or sizes)}


def _signal_runs(track: Track, chrom: str, length: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Runs of equal signal as (starts, ends, values), leaving out bases with no data or 0."""
    for offset in range(0, length, READ_CHUNK):
        values = track.bw.values(chrom, offset, min(offset + READ_CHUNK, length), numpy=True)
        values = np.nan_to_num(values, nan=0.0)
        change = np.flatnonzero(np.diff(values)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(values)]])
        run_values = values[starts]
        keep = run_values != 0.0
        yield starts[keep] + offset, ends[keep] + offset, run_values[keep]


def _value_histogram(values: np.ndarray, bases: np.ndarray) -> pd.Series:
    """Bases per signal value (values > 0, rounded to HISTOGRAM_DIGITS significant digits)."""
    positive = values > 0
    values, bases = values[positive].astype(np.float64), bases[positive]
    scale = 10.0 ** (np.floor(np.log10(values)) - (HISTOGRAM_DIGITS - 1))
    rounded = np.round(values / scale) * scale
    return pd.Series(bases, index=rounded, dtype=np.int64).groupby(level=0).sum()


def _add_histograms(histograms: list[pd.Series]) -> pd.Series:
    if not histograms:
        return pd.Series(dtype=np.int64)
    return pd.concat(histograms).groupby(level=0).sum()


def bigwig_to_bedgraph(bigwig_path, bedgraph_path, chromosomes=None) -> pd.Series:
    """Write the bigWig's signal as a 4-column bedGraph (atomically); bases with no data or 0 are
    left out. Returns the signal's value distribution (bases per value > 0) for `signal_cutoff`."""
    track, sizes = open_bigwig(bigwig_path, chromosomes)
    histograms = []
    try:
        with atomic_output(bedgraph_path) as tmp, open(tmp, "w") as out:
            for chrom, length in sizes.items():
                for starts, ends, values in _signal_runs(track, chrom, length):
                    pd.DataFrame({"chrom": chrom, "start": starts, "end": ends, "value": values}).to_csv(
                        out, sep="\t", header=False, index=False, float_format="%.6g")
                    histograms.append(_value_histogram(values, ends - starts))
                histograms = [_add_histograms(histograms)]
    finally:
        track.close()
    return _add_histograms(histograms)


def signal_histogram(bigwig_path, chromosomes=None) -> pd.Series:
    """The value distribution of a bigWig's signal: bases per value, over bases with signal > 0."""
    track, sizes = open_bigwig(bigwig_path, chromosomes)
    try:
        histograms = [_value_histogram(values, ends - starts)
                      for chrom, length in sizes.items() for starts, ends, values in _signal_runs(track, chrom, length)]
    finally:
        track.close()
    return _add_histograms(histograms)


def signal_cutoff(signal, rule: str = "median_multiple", multiplier: float = 5.0, quantile: float = 0.95) -> float:
    """The bdgpeakcall cutoff on the signal's own scale (rules: see `PeakSettings`).

    `signal` is a bigWig path, a value distribution (pd.Series: bases per value) or per-base values.
    """
    if isinstance(signal, (str, os.PathLike)):
        histogram = signal_histogram(signal)
    elif isinstance(signal, pd.Series):
        histogram = signal[signal.index > 0].sort_index()
    else:
        values = np.asarray(signal, dtype=np.float64)
        histogram = _value_histogram(values, np.ones(len(values), dtype=np.int64))
    if histogram.sum() == 0:
        raise ValueError(f"cannot derive a peak cutoff: the signal {_describe(signal)} has no bases above 0")
    if rule == "median_multiple":
        return float(multiplier * _weighted_quantile(histogram, 0.5))
    if rule == "quantile":
        return float(_weighted_quantile(histogram, quantile))
    raise ValueError(f"unknown cutoff rule {rule!r}; expected one of {CUTOFF_RULES}")


def _weighted_quantile(histogram: pd.Series, q: float) -> float:
    cumulative = histogram.cumsum().to_numpy()
    return float(histogram.index[np.searchsorted(cumulative, q * cumulative[-1])])


def _describe(signal) -> str:
    return str(signal) if isinstance(signal, (str, os.PathLike)) else "given"


# --- MACS3 --------------------------------------------------------------------------------


def macs3_executable() -> str:
    """`macs3` next to this Python (its virtual environment) first, then on PATH."""
    beside = Path(sys.executable).parent / "macs3"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("macs3")
    if found is None:
        raise FileNotFoundError(f"macs3 is neither next to {sys.executable} nor on PATH; install MACS3 "
                                "(pip install macs3)")
    return found


def bdgpeakcall(bedgraph_path, out_narrowpeak, cutoff: float, min_length: int, max_gap: int) -> pd.DataFrame:
    """Run `macs3 bdgpeakcall` on a bedGraph; its narrowPeak (with MACS3's `track` line) appears
    at `out_narrowpeak` only if MACS3 succeeds. Returns the peaks."""
    out = Path(out_narrowpeak)
    out.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out, "macs3") as tmpdir:
        # MACS3 names the track and the peaks after its -o argument: give it the final file's name.
        tmp = Path(tmpdir) / out.name
        command = [macs3_executable(), "bdgpeakcall", "-i", str(Path(bedgraph_path).resolve()),
                   "-c", repr(float(cutoff)), "-l", str(min_length), "-g", str(max_gap), "-o", out.name]
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmpdir)
        if result.returncode != 0 or not tmp.is_file():
            raise RuntimeError(f"macs3 bdgpeakcall failed on {bedgraph_path} (exit {result.returncode}):\n"
                               f"{result.stderr.strip()[-4000:]}")
        peaks = read_narrowpeak(tmp)
        os.replace(tmp, out)
    return peaks


def call_peaks(bigwig_path, out_narrowpeak, settings: PeakSettings = PeakSettings(), chromosomes=None) -> PeakCalls:
    """Call MACS3 peaks on a bigWig signal (restricted to `chromosomes` if given) and write the
    narrowPeak atomically. The cutoff is `settings.cutoff`, or derived from the signal."""
    out = Path(out_narrowpeak)
    out.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out, "bedgraph") as tmpdir:
        bedgraph = Path(tmpdir) / "signal.bdg"
        histogram = bigwig_to_bedgraph(bigwig_path, bedgraph, chromosomes)
        cutoff = settings.cutoff
        if cutoff is None:
            cutoff = signal_cutoff(histogram, settings.cutoff_rule, settings.cutoff_multiplier,
                                   settings.cutoff_quantile)
            log.info("%s: cutoff %.4g from rule %s (median of covered bases %.4g)", bigwig_path, cutoff,
                     settings.cutoff_rule, _weighted_quantile(histogram, 0.5))
        peaks = bdgpeakcall(bedgraph, out, cutoff, settings.min_length, settings.max_gap)
    widths = peaks["end"] - peaks["start"]
    log.info("%s: %d MACS3 peaks (cutoff %.4g, min length %d, max gap %d), median width %s bp, %d bp in all",
             bigwig_path, len(peaks), cutoff, settings.min_length, settings.max_gap,
             int(widths.median()) if len(peaks) else "-", int(widths.sum()))
    if peaks.empty:
        log.warning("%s: MACS3 called no peaks at cutoff %.4g; the peak mask will be all 0", bigwig_path, cutoff)
    return PeakCalls(peaks, float(cutoff))


def read_narrowpeak(path) -> pd.DataFrame:
    """A narrowPeak file as a DataFrame; `track`, `browser` and `#` lines are skipped."""
    with open(path) as handle:
        body = "".join(line for line in handle if not line.startswith(("track", "browser", "#")) and line.strip())
    if not body:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _NARROWPEAK_DTYPES.items()})
    table = pd.read_csv(io.StringIO(body), sep="\t", header=None)
    if table.shape[1] != len(NARROWPEAK_COLUMNS):
        raise ValueError(f"{path}: expected {len(NARROWPEAK_COLUMNS)} tab-separated narrowPeak columns, "
                         f"found {table.shape[1]}")
    table.columns = NARROWPEAK_COLUMNS
    try:
        return table.astype(_NARROWPEAK_DTYPES)
    except ValueError as error:
        raise ValueError(f"{path}: not a narrowPeak file ({error})") from None


_NARROWPEAK_DTYPES = {"chrom": str, "start": np.int64, "end": np.int64, "name": str, "score": np.int64,
                      "strand": str, "signal_value": np.float64, "p_value": np.float64,
                      "q_value": np.float64, "summit": np.int64}


# --- peak masks ---------------------------------------------------------------------------


def _window_mask(merged, chrom: str, tss: int, half_width: int, chrom_length: int) -> np.ndarray:
    start = tss - half_width
    mask = interval_mask(merged, chrom, start, tss + half_width)
    mask[: max(-start, 0)] = 0  # before the chromosome
    mask[max(chrom_length - start, 0) :] = 0  # beyond its end
    return mask


def peak_mask(peaks: pd.DataFrame, chrom: str, tss: int, half_width: int, chrom_length: int) -> np.ndarray:
    """uint8 mask of length 2 * half_width over [tss - half_width, tss + half_width): 1 inside peaks."""
    return _window_mask(merged_intervals(peaks), chrom, tss, half_width, chrom_length)


def gene_peak_masks(peaks: pd.DataFrame, genes: pd.DataFrame, half_width: int,
                    chrom_sizes: dict[str, int]) -> Iterator[tuple[str, np.ndarray]]:
    """(gene_id, mask) for each gene (columns gene_id, chrom, tss), merging the peaks once."""
    merged = merged_intervals(peaks)
    for gene in genes.itertuples():
        yield gene.gene_id, _window_mask(merged, gene.chrom, int(gene.tss), half_width, chrom_sizes[gene.chrom])


def mask_ratio(mask: np.ndarray) -> float:
    """The fraction of window positions the mask selects."""
    return float(np.mean(mask)) if len(mask) else 0.0


def mask_ratios(peaks: pd.DataFrame, genes: pd.DataFrame, half_width: int, chrom_sizes: dict[str, int]) -> pd.DataFrame:
    """Per gene: bases of its window inside peaks and the mask ratio (over all 2 * half_width
    positions, as the padded window is the model's input), from bedtools intersect."""
    import pybedtools

    missing = sorted(set(genes["chrom"]) - set(chrom_sizes))
    if missing:
        raise ValueError(f"genes on chromosome(s) {missing} that the signal's chromosome sizes lack")
    lengths = genes["chrom"].map(chrom_sizes)
    windows = pd.DataFrame({"chrom": genes["chrom"], "start": (genes["tss"] - half_width).clip(lower=0),
                            "end": np.minimum(genes["tss"] + half_width, lengths), "name": genes["gene_id"]})
    table = genes[["gene_id", "chrom", "tss"]].reset_index(drop=True)
    if peaks.empty:
        peak_bases = pd.Series(0, index=table["gene_id"])
    else:
        peak_bed = pybedtools.BedTool.from_dataframe(peaks[["chrom", "start", "end"]]).sort().merge()
        overlap = pybedtools.BedTool.from_dataframe(windows).intersect(peak_bed, wao=True).to_dataframe(
            header=None, disable_auto_names=True)
        peak_bases = overlap.groupby(3, sort=False)[overlap.columns[-1]].sum()
    table["peak_bases"] = peak_bases.reindex(table["gene_id"]).to_numpy().astype(np.int64)
    table["mask_ratio"] = table["peak_bases"] / (2 * half_width)
    return table


# --- the pipeline step --------------------------------------------------------------------


def peak_step(dnase_bigwig, genes: pd.DataFrame, half_width: int, settings: PeakSettings,
              out_narrowpeak, out_mask_table) -> pd.DataFrame:
    """Call peaks on the genes' chromosomes, then write each gene's mask ratio (TSV). Returns it.

    The narrowPeak keeps the bigWig's chromosome names; the mask table uses the genes' names.
    """
    track, file_sizes = open_bigwig(dnase_bigwig)
    track.close()
    to_file = match_chromosomes(sorted(set(genes["chrom"])), file_sizes, str(dnase_bigwig))
    missing = sorted(set(genes["chrom"]) - set(to_file))
    if missing:  # fail before writing anything
        raise ValueError(f"bigWig {dnase_bigwig} lacks chromosome(s) {missing}; it has {', '.join(file_sizes)}")
    calls = call_peaks(dnase_bigwig, out_narrowpeak, settings, sorted(to_file.values()))
    to_genes = {file: ours for ours, file in to_file.items()}
    peaks = calls.peaks.assign(chrom=calls.peaks["chrom"].map(to_genes))
    ratios = mask_ratios(peaks, genes, half_width, {ours: file_sizes[file] for ours, file in to_file.items()})
    log.info("%s: mean peak mask ratio %.4f over %d genes (paper: 0.1361 K562, 0.1595 GM12878)",
             dnase_bigwig, ratios["mask_ratio"].mean(), len(ratios))
    write_tsv(ratios, out_mask_table)
    return ratios
