"""MACS3 peaks on the DNase-seq signal, and the peak mask of the paper's MACS3 baseline (Table 2).

The baseline's mask is 1 inside MACS3 DNase peaks and 0 elsewhere; the paper reports its mask
ratio (13.61% of window bases in K562, 15.95% in GM12878). We start from the DNase bigWig, whose
scale depends on how it was normalised, so the route is scale-free, as MACS3 models background:

1. the signal as a bedGraph (no data read as 0);
2. a control (lambda) track built from the signal itself: per position the largest of the
   genome-wide mean and the local means over `local_windows` (1 kb and 10 kb, as `callpeak`'s
   slocal and llocal), computed on bins of a tenth of the smallest window. Blacklisted bases
   (artefacts of huge signal) count as 0 there and the genome-wide mean leaves them out;
3. `macs3 bdgcmp` of signal against control: fold enrichment (`FE`, unchanged when the signal is
   multiplied by any constant) or a Poisson -log10 p-value (`ppois`, for count-like tracks);
4. `macs3 bdgpeakcall` on that score with `cutoff`, `min_length` and `max_gap`.

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

from ..files import atomic_output, scratch_dir, write_tsv
from .bigwig import Track
from .genes import read_blacklist
from .genome import interval_mask, match_chromosomes, merged_intervals, value_runs

log = logging.getLogger(__name__)

NARROWPEAK_COLUMNS = [
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signal_value",
    "p_value",
    "q_value",
    "summit",
]
SCORES = ("FE", "ppois")
READ_CHUNK = 10_000_000  # bases read from a bigWig at a time
BINS_PER_WINDOW = 10  # the control's bin is a tenth of the smallest local window


@dataclass(frozen=True)
class PeakSettings:
    """How peaks are called; the fields are the config's `peaks.*` keys (see the module doc).

    score: `FE` (fold enrichment over the control) or `ppois` (-log10 Poisson p-value).
    cutoff: bdgpeakcall's -c on that score.
    local_windows: bp of the local background windows (MACS3: 1,000 and 10,000).
    min_length, max_gap: bdgpeakcall's -l and -g, in bp (MACS3 defaults 200 and 30).
    mask_ratio_range: the share of window bases in peaks outside which a run logs a warning.
    """

    cutoff: float = 1.5
    score: str = "FE"
    local_windows: tuple[int, ...] = (1000, 10000)
    min_length: int = 200
    max_gap: int = 30
    mask_ratio_range: tuple[float, float] = (0.05, 0.30)

    def __post_init__(self):
        if self.score not in SCORES:
            raise ValueError(f"peaks.score: {self.score!r} is not one of {SCORES}")
        if self.cutoff <= 0:
            raise ValueError(f"peaks.cutoff: expected a positive number, got {self.cutoff}")
        if not self.local_windows or min(self.local_windows) < 1:
            raise ValueError(f"peaks.local_windows: expected window lengths >= 1 bp, got {self.local_windows}")
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError(
                f"peaks.min_length must be >= 1 and peaks.max_gap >= 0, got {self.min_length} and {self.max_gap}"
            )
        low, high = self.mask_ratio_range
        if not 0 <= low < high <= 1:
            raise ValueError(
                f"peaks.mask_ratio_range: expected [low, high] with 0 <= low < high <= 1, "
                f"got {list(self.mask_ratio_range)}"
            )

    @property
    def control_bin(self) -> int:
        return max(1, min(self.local_windows) // BINS_PER_WINDOW)


@dataclass(frozen=True)
class PeakCalls:
    peaks: pd.DataFrame  # narrowPeak columns
    genome_mean: float  # the control's floor: the signal per base over the chromosomes called, blacklist left out


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


def _signal_chunks(track: Track, chrom: str, length: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, per-base values) over the chromosome, no data read as 0."""
    for offset in range(0, length, chunk):
        values = track.bw.values(chrom, offset, min(offset + chunk, length), numpy=True)
        yield offset, np.nan_to_num(values, nan=0.0).astype(np.float64)


def _write_bedgraph(out, chrom: str, starts, ends, values) -> None:
    pd.DataFrame({"chrom": chrom, "start": starts, "end": ends, "value": values}).to_csv(
        out, sep="\t", header=False, index=False, float_format="%.6g"
    )


@dataclass(frozen=True)
class SignalBins:
    """A signal summed over bins, the input of `control_track`."""

    sums: dict[str, np.ndarray]  # per chromosome, signal per bin (blacklisted bases as 0)
    sizes: dict[str, int]  # chromosome lengths (the last bin may be shorter than bin_size)
    counted_bases: int  # bases not blacklisted, over which the genome-wide mean is taken


def bigwig_to_bedgraph(
    bigwig_path, bedgraph_path, chromosomes=None, bin_size: int = 1, blacklist: pd.DataFrame | None = None
) -> SignalBins:
    """Write the bigWig's signal as a 4-column bedGraph (atomically), bases with no data as 0 and
    every chromosome covered from 0 to its end: MACS3 reads a bedGraph record as starting where
    the previous one ended, so a gap would take the value of the record after it. Returns the
    signal summed over bins of `bin_size` bp, outside `blacklist` (chrom, start, end in the
    bigWig's names), from which `control_track` builds the control."""
    track, sizes = open_bigwig(bigwig_path, chromosomes)
    chunk = READ_CHUNK - READ_CHUNK % bin_size
    excluded = merged_intervals(blacklist) if blacklist is not None else {}
    bin_sums, blacklisted = {}, 0
    try:
        with atomic_output(bedgraph_path) as tmp, open(tmp, "w") as out:
            for chrom, length in sizes.items():
                sums = []
                for offset, values in _signal_chunks(track, chrom, length, chunk):
                    starts, ends, run_values = value_runs(values)
                    _write_bedgraph(out, chrom, starts + offset, ends + offset, run_values)
                    outside = interval_mask(excluded, chrom, offset, offset + len(values)) == 0
                    blacklisted += len(values) - int(outside.sum())
                    sums.append(np.add.reduceat(values * outside, np.arange(0, len(values), bin_size)))
                bin_sums[chrom] = np.concatenate(sums)
    finally:
        track.close()
    return SignalBins(bin_sums, sizes, sum(sizes.values()) - blacklisted)


def control_track(signal: SignalBins, bin_size: int, local_windows) -> tuple[dict[str, np.ndarray], float]:
    """MACS3's local lambda from the signal itself: per bin, the largest of the genome-wide mean
    (signal per counted base) and the mean over each local window centred on the bin. Returns
    (per chromosome the control per bin, the genome-wide mean)."""
    genome_mean = sum(float(s.sum()) for s in signal.sums.values()) / max(signal.counted_bases, 1)
    control = {}
    for chrom, sums in signal.sums.items():
        cumulative = np.concatenate([[0.0], np.cumsum(sums)])
        level = np.full(len(sums), genome_mean)
        for window in local_windows:
            bins = max(1, round(window / bin_size))
            lo = np.arange(len(sums)) - bins // 2
            hi = np.clip(lo + bins, 0, len(sums))
            level = np.maximum(level, (cumulative[hi] - cumulative[np.clip(lo, 0, len(sums))]) / window)
        control[chrom] = level
    return control, genome_mean


def write_control(control: dict[str, np.ndarray], chrom_sizes: dict[str, int], bin_size: int, path) -> None:
    """The control as a bedGraph: bins of equal value merged, the last bin ending at the chromosome's end."""
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        for chrom, level in control.items():
            starts, ends, values = value_runs(level)
            _write_bedgraph(out, chrom, starts * bin_size, np.minimum(ends * bin_size, chrom_sizes[chrom]), values)


# --- MACS3 --------------------------------------------------------------------------------


def macs3_executable() -> str:
    """`macs3` next to this Python (its virtual environment) first, then on PATH."""
    beside = Path(sys.executable).parent / "macs3"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("macs3")
    if found is None:
        raise FileNotFoundError(
            f"macs3 is neither next to {sys.executable} nor on PATH; install MACS3 (pip install macs3)"
        )
    return found


def _run_macs3(subcommand: str, args: list[str], input_path, cwd) -> None:
    command = [macs3_executable(), subcommand, *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(
            f"macs3 {subcommand} failed on {input_path} (exit {result.returncode}):\n{result.stderr.strip()[-4000:]}"
        )


def bdgcmp(treatment_bedgraph, control_bedgraph, out_bedgraph, score: str) -> None:
    """`macs3 bdgcmp`: the treatment's score against the control (no pseudocount, so FE stays scale-free)."""
    out = Path(out_bedgraph).resolve()
    _run_macs3(
        "bdgcmp",
        [
            "-t",
            str(Path(treatment_bedgraph).resolve()),
            "-c",
            str(Path(control_bedgraph).resolve()),
            "-m",
            score,
            "-p",
            "0",
            "-o",
            str(out),
        ],
        treatment_bedgraph,
        out.parent,
    )
    if not out.is_file():
        raise RuntimeError(f"macs3 bdgcmp wrote no {out} from {treatment_bedgraph}")


def bdgpeakcall(bedgraph_path, out_narrowpeak, cutoff: float, min_length: int, max_gap: int) -> pd.DataFrame:
    """Run `macs3 bdgpeakcall` on a bedGraph; its narrowPeak (with MACS3's `track` line) appears
    at `out_narrowpeak` only if MACS3 succeeds. Returns the peaks."""
    out = Path(out_narrowpeak)
    out.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out, "macs3") as tmpdir:
        # MACS3 names the track and the peaks after its -o argument: give it the final file's name.
        tmp = Path(tmpdir) / out.name
        _run_macs3(
            "bdgpeakcall",
            [
                "-i",
                str(Path(bedgraph_path).resolve()),
                "-c",
                repr(float(cutoff)),
                "-l",
                str(min_length),
                "-g",
                str(max_gap),
                "-o",
                out.name,
            ],
            bedgraph_path,
            tmpdir,
        )
        if not tmp.is_file():
            raise RuntimeError(f"macs3 bdgpeakcall wrote no peaks from {bedgraph_path}")
        peaks = read_narrowpeak(tmp)
        os.replace(tmp, out)
    return peaks


def call_peaks(
    bigwig_path,
    out_narrowpeak,
    settings: PeakSettings = PeakSettings(),
    chromosomes=None,
    blacklist: pd.DataFrame | None = None,
) -> PeakCalls:
    """Call MACS3 peaks on a bigWig signal (restricted to `chromosomes` if given) against a control
    built from the signal itself outside `blacklist` (bigWig's chromosome names), and write the
    narrowPeak atomically (see the module doc)."""
    out = Path(out_narrowpeak)
    out.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out, "bedgraph") as tmpdir:
        treatment, control, scored = (Path(tmpdir) / name for name in ("signal.bdg", "control.bdg", "score.bdg"))
        signal = bigwig_to_bedgraph(bigwig_path, treatment, chromosomes, settings.control_bin, blacklist)
        levels, genome_mean = control_track(signal, settings.control_bin, settings.local_windows)
        if genome_mean <= 0:
            raise ValueError(
                f"cannot call peaks on {bigwig_path}: its signal has no bases above 0 outside the blacklist"
            )
        write_control(levels, signal.sizes, settings.control_bin, control)
        bdgcmp(treatment, control, scored, settings.score)
        peaks = bdgpeakcall(scored, out, settings.cutoff, settings.min_length, settings.max_gap)
    widths = peaks["end"] - peaks["start"]
    log.info(
        "%s: %d MACS3 peaks (%s >= %g against max(genome mean %.4g, local means over %s bp); min length %d, "
        "max gap %d), median width %s bp, %d bp in all",
        bigwig_path,
        len(peaks),
        settings.score,
        settings.cutoff,
        genome_mean,
        "/".join(map(str, settings.local_windows)),
        settings.min_length,
        settings.max_gap,
        int(widths.median()) if len(peaks) else "-",
        int(widths.sum()),
    )
    if peaks.empty:
        log.warning(
            "%s: MACS3 called no peaks at %s cutoff %g; the peak mask will be all 0",
            bigwig_path,
            settings.score,
            settings.cutoff,
        )
    return PeakCalls(peaks, genome_mean)


def read_narrowpeak(path) -> pd.DataFrame:
    """A narrowPeak file as a DataFrame; `track`, `browser` and `#` lines are skipped."""
    with open(path) as handle:
        body = "".join(line for line in handle if not line.startswith(("track", "browser", "#")) and line.strip())
    if not body:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _NARROWPEAK_DTYPES.items()})
    table = pd.read_csv(io.StringIO(body), sep="\t", header=None)
    if table.shape[1] != len(NARROWPEAK_COLUMNS):
        raise ValueError(
            f"{path}: expected {len(NARROWPEAK_COLUMNS)} tab-separated narrowPeak columns, found {table.shape[1]}"
        )
    table.columns = NARROWPEAK_COLUMNS
    try:
        return table.astype(_NARROWPEAK_DTYPES)
    except ValueError as error:
        raise ValueError(f"{path}: not a narrowPeak file ({error})") from None


_NARROWPEAK_DTYPES = {
    "chrom": str,
    "start": np.int64,
    "end": np.int64,
    "name": str,
    "score": np.int64,
    "strand": str,
    "signal_value": np.float64,
    "p_value": np.float64,
    "q_value": np.float64,
    "summit": np.int64,
}


# --- peak masks ---------------------------------------------------------------------------


def mask_ratios(peaks: pd.DataFrame, genes: pd.DataFrame, half_width: int, chrom_sizes: dict[str, int]) -> pd.DataFrame:
    """Per gene: bases of its window inside peaks and the mask ratio (over all 2 * half_width
    positions, as the padded window is the model's input), from bedtools intersect."""
    import pybedtools

    missing = sorted(set(genes["chrom"]) - set(chrom_sizes))
    if missing:
        raise ValueError(f"genes on chromosome(s) {missing} that the signal's chromosome sizes lack")
    lengths = genes["chrom"].map(chrom_sizes)
    windows = pd.DataFrame(
        {
            "chrom": genes["chrom"],
            "start": (genes["tss"] - half_width).clip(lower=0),
            "end": np.minimum(genes["tss"] + half_width, lengths),
            "name": genes["gene_id"],
        }
    )
    table = genes[["gene_id", "chrom", "tss"]].reset_index(drop=True)
    if peaks.empty:
        peak_bases = pd.Series(0, index=table["gene_id"])
    else:
        peak_bed = pybedtools.BedTool.from_dataframe(peaks[["chrom", "start", "end"]]).sort().merge()
        overlap = (
            pybedtools.BedTool.from_dataframe(windows)
            .intersect(peak_bed, wao=True)
            .to_dataframe(header=None, disable_auto_names=True)
        )
        peak_bases = overlap.groupby(3, sort=False)[overlap.columns[-1]].sum()
    table["peak_bases"] = peak_bases.reindex(table["gene_id"]).to_numpy().astype(np.int64)
    table["mask_ratio"] = table["peak_bases"] / (2 * half_width)
    return table


# --- the pipeline step --------------------------------------------------------------------


def peaks_and_mask_ratios(
    dnase_bigwig,
    genes: pd.DataFrame,
    half_width: int,
    settings: PeakSettings,
    out_narrowpeak,
    out_mask_table,
    blacklist_path=None,
) -> pd.DataFrame:
    """Call peaks on the genes' chromosomes, then write each gene's mask ratio (TSV). Returns it.

    The narrowPeak keeps the bigWig's chromosome names; the mask table uses the genes' names.
    """
    track, file_sizes = open_bigwig(dnase_bigwig)
    track.close()
    to_file = match_chromosomes(sorted(set(genes["chrom"])), file_sizes, str(dnase_bigwig))
    missing = sorted(set(genes["chrom"]) - set(to_file))
    if missing:  # fail before writing anything
        raise ValueError(f"bigWig {dnase_bigwig} lacks chromosome(s) {missing}; it has {', '.join(file_sizes)}")
    blacklist = read_blacklist(blacklist_path, file_sizes) if blacklist_path else None
    calls = call_peaks(dnase_bigwig, out_narrowpeak, settings, sorted(to_file.values()), blacklist)
    to_genes = {file: ours for ours, file in to_file.items()}
    peaks = calls.peaks.assign(chrom=calls.peaks["chrom"].map(to_genes))
    ratios = mask_ratios(peaks, genes, half_width, {ours: file_sizes[file] for ours, file in to_file.items()})
    mean_ratio = ratios["mask_ratio"].mean()
    log.info(
        "%s: mean peak mask ratio %.4f over %d genes (paper: 0.1361 K562, 0.1595 GM12878)",
        dnase_bigwig,
        mean_ratio,
        len(ratios),
    )
    low, high = settings.mask_ratio_range
    if not low <= mean_ratio <= high:
        log.warning(
            "%s: the peak mask selects %.1f%% of window bases, outside the sane range %g-%g%% "
            "(peaks.mask_ratio_range; the paper: 13.61%% K562, 15.95%% GM12878): check peaks.cutoff, "
            "peaks.score and peaks.local_windows against this signal",
            dnase_bigwig,
            100 * mean_ratio,
            100 * low,
            100 * high,
        )
    write_tsv(ratios, out_mask_table)
    return ratios


def dnase_peaks(config: dict, dnase, genes, blacklist, out_peaks, out_mask_ratios) -> None:
    """The dnase_peaks rule: MACS3 peaks on one cell type's DNase bigWig (peaks.* settings) and each
    gene's peak mask ratio."""
    peaks_and_mask_ratios(
        dnase,
        pd.read_csv(genes, sep="\t"),
        config["window"]["half_width"],
        PeakSettings(**config["peaks"]),
        out_peaks,
        out_mask_ratios,
        blacklist,
    )
