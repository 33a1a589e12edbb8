"""Hi-C contact of every window bin with the gene's TSS bin, by one of two recipes (`hic.recipe`).

`abc` processes the matrix as the ABC model does (stages 1-4 below). `authors` is the Seq2Exp
authors' `process_hic_signals` (divelab/AIRS, OpenBio/Seq2Exp, utils/hic.py), which the released
weights were trained on: stage 1, then the normalised contact of the TSS bin with each bin as read
(no diagonal correction, no row normalisation, missing pixels 0), both power laws at the reference
gamma (so the rescaling is the identity), plus the power law's value at 1 Mb as pseudocount; a gene
whose summed contact over the bases within 500 bp of its TSS is below 0.01 gets no channel (0 after
the log, as their dataset's nan_to_num gives); then stage 4 (`authors_contacts`).

Stages (each a function below, so each can be tested on its own):
1. read one chromosome of a .hic / .mcool / .cool once: its normalised symmetric contact band
   near the diagonal plus the full row sums (`ContactMatrix.band`). Normalisation vectors are
   applied here, in the divisive convention of Juicer (count / (v_i * v_j)); cooler's own
   `weight` column is multiplicative and is inverted. A .hic without a VC vector gets Juicer's
   VC computed from its observed counts; any other missing vector is an error.
2. ABC's matrix processing (`abc_contacts`): balanced matrices (KR, SCALE, ...) are divided by
   their mean row sum (doubly stochastic), the diagonal is replaced by its larger neighbour times
   tss_hic_contribution / 100, and unbalanced ones (VC, VC_SQRT, NONE) have each row divided by
   its sum, the row being the TSS.
3. ABC's power law: the file's own gamma and scale fitted from its contacts (or given), contacts
   rescaled to the reference power law, plus the power-law pseudocount (`tss_contact_profiles`).
4. log10(x + 1) per base pair (`per_base_contact`).

Chromosome names are harmonised between ours ("chr1", "chrX", "chrM") and the file's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from ..files import write_tsv
from .genome import match_chromosomes

log = logging.getLogger(__name__)

# ABC (predictor.py, add_powerlaw_to_predictions): the reference scale is a linear function of the
# reference gamma, "from a linear regression of scale on gamma across 20 hic cell types at 5kb".
REFERENCE_SCALE_INTERCEPT = -4.80
REFERENCE_SCALE_SLOPE = 11.63
# Matrices balanced to (near) constant row sums; ABC only rescales them by their mean row sum.
BALANCED_NORMALIZATIONS = frozenset({"KR", "SCALE", "INTERSCALE", "weight", "ICE"})
# ABC (predictor.py, qc_hic): a gene whose own TSS contact is below this gets the power law instead.
LOW_COVERAGE_CONTACT = 0.01
# ABC (compute_powerlaw_fit_from_hic.py): a pseudocount inside the logs of the log-log regression.
FIT_LOG_PSEUDOCOUNT = 1e-6
ROWS_PER_READ = 1000
RECIPES = ("authors", "abc")
# The authors' process_hic_signals: the pseudocount is the power law capped at its 1 Mb value, and
# their qc_hic sums the contact of the bases closer than ABC's tss_slop (500 bp) to the TSS.
AUTHORS_PSEUDOCOUNT_DISTANCE = 1_000_000
AUTHORS_TSS_SLOP = 500


class HicError(ValueError):
    """A Hi-C file cannot give what was asked (resolution, chromosome, normalisation)."""


class PowerLaw(NamedTuple):
    gamma: float
    scale: float


# --- chromosome names ---------------------------------------------------------------------


def file_chromosome(chrom: str, available, path: str) -> str:
    """The file's name for our chromosome `chrom` ("chr22" -> "22" where the file says "22")."""
    found = match_chromosomes([chrom], available, path)
    if chrom not in found:
        shown = ", ".join(list(available)[:30])
        raise HicError(f"{path}: chromosome {chrom!r} is not in the file (it has {shown})")
    return found[chrom]


# --- readers: observed upper-triangle pixels and divisive normalisation vectors -------------


class _StrawReader:
    """A Juicer .hic through hic-straw."""

    def __init__(self, path: str, resolution: int):
        import hicstraw

        self.path, self.resolution = path, resolution
        self.file = hicstraw.HiCFile(path)
        self.resolutions = sorted(int(r) for r in self.file.getResolutions())
        chroms = [c for c in self.file.getChromosomes() if c.name.upper() != "ALL"]
        self.chromosomes = {c.name: int(c.length) for c in chroms}
        self._index = {c.name: c.index for c in chroms}

    def weights(self, chrom: str, normalization: str) -> np.ndarray | None:
        import hictkpy

        # hic-straw cannot list a file's vectors, and asked for an absent one it raises, returns
        # garbage or fails to allocate; hictkpy reads the list from the footer.
        if normalization not in hictkpy.File(self.path, self.resolution).avail_normalizations():
            return None
        zoom = self.file.getMatrixZoomData(chrom, chrom, "observed", normalization, "BP", self.resolution)
        return np.asarray(zoom.getNormVector(self._index[chrom]), dtype=np.float64)

    def upper_pixels(self, chrom: str, first_bin: int, end_bin: int):
        zoom = self.file.getMatrixZoomData(chrom, chrom, "observed", "NONE", "BP", self.resolution)
        res, length = self.resolution, self.chromosomes[chrom]
        # hic-straw's ends are inclusive: rows [first, end) by all columns from the first row on.
        records = zoom.getRecords(first_bin * res, (end_bin - 1) * res, first_bin * res, length)
        table = np.array([(r.binX, r.binY, r.counts) for r in records], dtype=np.float64).reshape(-1, 3)
        bin1, bin2 = (table[:, 0] // res).astype(np.int64), (table[:, 1] // res).astype(np.int64)
        return bin1, bin2, table[:, 2]


class _HictkReader:
    """A .hic, .mcool or .cool through hictkpy (`resolution` None: the finest)."""

    def __init__(self, path: str, resolution: int | None = None):
        import hictkpy

        file_path = path.partition("::")[0]
        if path == file_path and (hictkpy.is_hic(file_path) or hictkpy.is_mcool_file(file_path)):
            self.resolutions = sorted(int(r) for r in hictkpy.MultiResFile(file_path).resolutions())
            resolution = self.resolutions[0] if resolution is None else resolution
            self.file = hictkpy.File(file_path, resolution) if resolution in self.resolutions else None
        else:
            single = hictkpy.File(path)
            self.resolutions = [int(single.resolution())]
            resolution = self.resolutions[0] if resolution is None else resolution
            self.file = single if int(single.resolution()) == resolution else None
        self.path, self.resolution = path, resolution
        if self.file is not None:
            self.chromosomes = {k: int(v) for k, v in self.file.chromosomes().items()}
            sizes = [math.ceil(v / resolution) for v in self.chromosomes.values()]
            self._offset = dict(zip(self.chromosomes, np.cumsum([0] + sizes[:-1]).tolist()))

    def weights(self, chrom: str, normalization: str) -> np.ndarray | None:
        if normalization not in self.file.avail_normalizations():
            return None
        first = self._offset[chrom]
        n_bins = math.ceil(self.chromosomes[chrom] / self.resolution)
        return self.file.weights(normalization, divisive=True)[first : first + n_bins]

    def upper_pixels(self, chrom: str, first_bin: int, end_bin: int):
        res, length = self.resolution, self.chromosomes[chrom]
        rows = f"{chrom}:{first_bin * res}-{min(end_bin * res, length)}"
        cols = f"{chrom}:{first_bin * res}-{length}"
        pixels = self.file.fetch(rows, cols, normalization="NONE").to_df()
        first = self._offset[chrom]
        return (
            pixels["bin1_id"].to_numpy() - first,
            pixels["bin2_id"].to_numpy() - first,
            pixels["count"].to_numpy(np.float64),
        )


class _CoolerReader:
    """A .cool or one resolution of a .mcool through cooler."""

    def __init__(self, path: str, resolution: int):
        import cooler

        self.path, self.resolution = path, resolution
        file_path, _, group = path.partition("::")
        if group or not cooler.fileops.is_multires_file(file_path):
            self.resolutions = [int(cooler.Cooler(path).binsize)]
            uri = path
        else:
            groups = cooler.fileops.list_coolers(file_path)
            self.resolutions = sorted(int(g.rsplit("/", 1)[-1]) for g in groups if g.startswith("/resolutions/"))
            uri = f"{file_path}::/resolutions/{resolution}"
        if resolution in self.resolutions:
            self.cooler = cooler.Cooler(uri)
            self.chromosomes = {k: int(v) for k, v in self.cooler.chromsizes.items()}

    def weights(self, chrom: str, normalization: str) -> np.ndarray | None:
        if normalization not in self.cooler.bins().columns:
            return None
        vector = self.cooler.bins()[normalization].fetch(chrom).to_numpy(np.float64)
        with self.cooler.open("r") as grp:
            divisive = grp["bins"][normalization].attrs.get("divisive_weights")
        if divisive is None:  # cooler's own column is multiplicative; hic2cool's (KR, VC, SCALE...) divisive
            divisive = normalization != "weight"
        return vector if divisive else 1.0 / vector

    def upper_pixels(self, chrom: str, first_bin: int, end_bin: int):
        first, last = self.cooler.extent(chrom)
        with self.cooler.open("r") as grp:
            lo, hi = grp["indexes"]["bin1_offset"][[first + first_bin, first + end_bin]]
        pixels = self.cooler.pixels()[int(lo) : int(hi)]
        cis = pixels["bin2_id"].to_numpy() < last
        return (
            pixels["bin1_id"].to_numpy()[cis] - first,
            pixels["bin2_id"].to_numpy()[cis] - first,
            pixels["count"].to_numpy(np.float64)[cis],
        )


def file_header(path: str) -> tuple[list[int], dict[str, int]]:
    """The resolutions (bp, ascending) and chromosome lengths of a .hic, .mcool or .cool file."""
    reader = _HictkReader(path)
    return reader.resolutions, reader.chromosomes


READERS = {"hicstraw": _StrawReader, "hictkpy": _HictkReader, "cooler": _CoolerReader}


def _default_reader(path: str) -> str:
    return "hicstraw" if path.partition("::")[0].endswith(".hic") else "cooler"


# --- one chromosome, read once ------------------------------------------------------------


@dataclass
class ContactBand:
    """A chromosome's normalised contacts near the diagonal.

    values[i, k] is the contact of bins i and i + k (k = 0..max_distance_bins), NaN where either
    bin has no normalisation value or i + k is beyond the chromosome. row_sums[i] is the sum of
    row i of the whole normalised matrix (NaN counted as 0), as ABC's normalisations need.
    """

    chrom: str
    resolution: int
    values: np.ndarray
    row_sums: np.ndarray

    @property
    def n_bins(self) -> int:
        return self.values.shape[0]


class ContactMatrix:
    """One Hi-C file at one resolution and normalisation (NONE reads raw counts, and says so)."""

    def __init__(self, path, resolution: int, normalization: str, reader: str | None = None):
        self.path, self.resolution, self.normalization = str(path), int(resolution), normalization
        reader = reader or _default_reader(self.path)
        if reader not in READERS:
            raise ValueError(f"unknown Hi-C reader {reader!r}; expected one of {sorted(READERS)}")
        if not Path(self.path.partition("::")[0]).exists():
            raise HicError(f"{self.path}: no such Hi-C file")
        self._reader = READERS[reader](self.path, self.resolution)
        if self.resolution not in self._reader.resolutions:
            raise HicError(
                f"{self.path}: resolution {self.resolution} bp is not in the file "
                f"(it has {', '.join(map(str, self._reader.resolutions))})"
            )
        if normalization == "NONE":
            log.warning("%s: using raw observed counts (normalization NONE was asked for)", self.path)

    def chromosomes(self) -> dict[str, int]:
        """The file's chromosome names and lengths (bp)."""
        return dict(self._reader.chromosomes)

    def chromosome_name(self, chrom: str) -> str:
        return file_chromosome(chrom, self._reader.chromosomes, self.path)

    def n_bins(self, chrom: str) -> int:
        return math.ceil(self._reader.chromosomes[self.chromosome_name(chrom)] / self.resolution)

    def weights(self, chrom: str) -> np.ndarray | None:
        """The file's divisive normalisation vector of `chrom` (NaN for bins without data);
        None for normalization NONE and for a VC the file lacks (then `band` computes it)."""
        name = self.chromosome_name(chrom)
        if self.normalization == "NONE":
            return None
        vector = self._reader.weights(name, self.normalization)
        if vector is None:
            if self.normalization == "VC":
                return None
            raise HicError(
                f"{self.path}: has no {self.normalization} normalisation vector for "
                f"chromosome {name} at {self.resolution} bp"
            )
        vector = np.where(np.isfinite(vector) & (vector > 0), vector, np.nan)[: self.n_bins(name)]
        if not np.isfinite(vector).any():
            raise HicError(
                f"{self.path}: the {self.normalization} normalisation of chromosome {name} "
                f"at {self.resolution} bp is NaN in every bin"
            )
        return vector

    def band(self, chrom: str, max_distance_bins: int) -> ContactBand:
        """Read `chrom` (ours or the file's name) once: its normalised band and row sums."""
        name = self.chromosome_name(chrom)
        weights = self.weights(name)
        if weights is None and self.normalization == "VC":
            return self._band_with_computed_vc(name, max_distance_bins)
        values, row_sums = self._read(name, weights, max_distance_bins)
        return ContactBand(name, self.resolution, values, row_sums)

    def _band_with_computed_vc(self, name: str, max_distance_bins: int) -> ContactBand:
        log.info(
            "%s: no VC vector for chromosome %s at %d bp; computing VC from its observed row sums",
            self.path,
            name,
            self.resolution,
        )
        _, observed_row_sums = self._read(name, None, 0)
        vector = coverage_vector(observed_row_sums)
        values, row_sums = self._read(name, vector, max_distance_bins)
        # Juicer scales VC so the normalised matrix sums to the observed one.
        factor = np.nansum(row_sums) / observed_row_sums.sum()
        return ContactBand(name, self.resolution, values / factor, row_sums / factor)

    def _read(self, name: str, weights: np.ndarray | None, max_distance_bins: int):
        n_bins = self.n_bins(name)
        values = np.zeros((n_bins, max_distance_bins + 1))
        row_sums = np.zeros(n_bins)
        for first in range(0, n_bins, ROWS_PER_READ):
            bin1, bin2, counts = self._reader.upper_pixels(name, first, min(first + ROWS_PER_READ, n_bins))
            keep = (bin1 >= first) & (bin1 < first + ROWS_PER_READ) & (bin2 >= bin1)
            bin1, bin2, counts = bin1[keep], bin2[keep], counts[keep]
            contact = counts if weights is None else counts / (weights[bin1] * weights[bin2])
            summed = np.nan_to_num(contact)
            row_sums += np.bincount(bin1, summed, n_bins)
            row_sums += np.bincount(bin2, np.where(bin1 != bin2, summed, 0.0), n_bins)
            near = bin2 - bin1 <= max_distance_bins
            values[bin1[near], (bin2 - bin1)[near]] = contact[near]
        values[_beyond_end(n_bins, max_distance_bins)] = np.nan
        if weights is not None:
            partner = _partner_bins(n_bins, max_distance_bins)
            padded = np.append(weights, np.nan)
            values[~np.isfinite(weights[:, None] * padded[partner])] = np.nan
        return values, row_sums


def open_contact_matrix(path, resolution: int, normalization: str, reader: str | None = None) -> ContactMatrix:
    """Open a .hic (hic-straw by default), .mcool (`file.mcool` or `file.mcool::/resolutions/N`)
    or .cool (cooler by default); `reader` may be "hicstraw", "cooler" or "hictkpy"."""
    return ContactMatrix(path, resolution, normalization, reader)


def coverage_vector(observed_row_sums: np.ndarray) -> np.ndarray:
    """Juicer's VC vector up to a constant: each bin's observed row sum, NaN where it is 0."""
    return np.where(observed_row_sums > 0, observed_row_sums, np.nan)


def _partner_bins(n_bins: int, max_distance_bins: int) -> np.ndarray:
    """partner[i, k] = i + k, or n_bins (a sentinel) beyond the chromosome."""
    partner = np.arange(n_bins)[:, None] + np.arange(max_distance_bins + 1)[None, :]
    return np.minimum(partner, n_bins)


def _beyond_end(n_bins: int, max_distance_bins: int) -> np.ndarray:
    return _partner_bins(n_bins, max_distance_bins) >= n_bins


# --- ABC's matrix processing --------------------------------------------------------------


@dataclass
class AbcContacts:
    """ABC's contact matrix of one chromosome: contact(t, j) = band[min, |t - j|] / row_divisor[t],
    t being the TSS bin (the row)."""

    chrom: str
    resolution: int
    band: np.ndarray
    row_divisor: np.ndarray

    def from_bin(self, tss_bin: int, other_bins: np.ndarray) -> np.ndarray:
        low = np.minimum(tss_bin, other_bins)
        offset = np.abs(other_bins - tss_bin)
        return self.band[low, offset] / self.row_divisor[tss_bin]


def doubly_stochastic_factor(row_sums: np.ndarray) -> float:
    """ABC divides a balanced matrix by its mean positive row sum, unless that is already ~1."""
    positive = row_sums[np.isfinite(row_sums) & (row_sums > 0)]
    mean = float(positive.mean()) if positive.size else 1.0
    return 1.0 if abs(mean - 1.0) < 0.001 else mean


def corrected_diagonal(band: np.ndarray, tss_hic_contribution: float) -> np.ndarray:
    """ABC's diagonal: each nonzero self-contact becomes max(left, right neighbour) x
    tss_hic_contribution / 100 (the first and last bins have one neighbour)."""
    right = band[:, 1]
    left = np.concatenate([[np.nan], band[:-1, 1]])
    neighbour = np.fmax(left, right) * tss_hic_contribution / 100.0
    diagonal = band[:, 0]
    return np.where(diagonal != 0, neighbour, diagonal)


def abc_contacts(band: ContactBand, normalization: str, tss_hic_contribution: float = 100) -> AbcContacts:
    """ABC's processing of a normalised band (see the module docstring)."""
    if band.values.shape[1] < 2:
        raise ValueError("ABC's diagonal correction needs the band to reach distance 1 bin")
    factor = doubly_stochastic_factor(band.row_sums) if normalization in BALANCED_NORMALIZATIONS else 1.0
    values, row_sums = band.values / factor, band.row_sums / factor
    diagonal = corrected_diagonal(values, tss_hic_contribution)
    row_sums = row_sums + np.nan_to_num(diagonal) - np.nan_to_num(values[:, 0])
    values[:, 0] = diagonal
    if normalization in BALANCED_NORMALIZATIONS:
        row_divisor = np.ones(band.n_bins)
    else:
        row_divisor = np.where(row_sums > 0, row_sums, 1.0)
    return AbcContacts(band.chrom, band.resolution, values, row_divisor)


# --- ABC's power law ----------------------------------------------------------------------


def powerlaw_contact(distance, gamma: float, scale: float, min_distance: float = 5000):
    """ABC's power law: exp(scale - gamma * log(d + 1)), d clipped below at min_distance."""
    clipped = np.clip(np.asarray(distance, dtype=np.float64), min_distance, None)
    return np.exp(scale - gamma * np.log(clipped + 1.0))


def reference_scale(reference_gamma: float) -> float:
    return REFERENCE_SCALE_INTERCEPT + REFERENCE_SCALE_SLOPE * reference_gamma


def scale_to_reference(
    hic_contact, distance, gamma: float, scale: float, reference_gamma: float, min_distance: float = 5000
):
    """ABC's hic_contact_pl_scaled: contact x reference power law / the file's power law."""
    reference = powerlaw_contact(distance, reference_gamma, reference_scale(reference_gamma), min_distance)
    return np.asarray(hic_contact) * reference / powerlaw_contact(distance, gamma, scale, min_distance)


def abc_pseudocount(distance, gamma: float, scale: float, pseudocount_distance: float, min_distance: float = 5000):
    """ABC's hic_pseudocount: the file's power law at `distance`, capped by its value at
    `pseudocount_distance`."""
    cap = powerlaw_contact(pseudocount_distance, gamma, scale, min_distance=pseudocount_distance)
    return np.minimum(powerlaw_contact(distance, gamma, scale, min_distance), cap)


def distance_contact_sums(contacts: AbcContacts) -> tuple[np.ndarray, int]:
    """Per distance k (bins), the summed contact of both triangles of ABC's matrix, and how many
    pixels hold contact at distance 1 bin (both triangles): the inputs of `fit_powerlaw`."""
    band = contacts.band
    n_bins, width = band.shape
    partner = _partner_bins(n_bins, width - 1)
    inverse = 1.0 / np.append(contacts.row_divisor, np.nan)
    both = band * (inverse[:n_bins, None] + inverse[partner])
    sums = np.nansum(both, axis=0)
    at_resolution = np.isfinite(band[:, 1]) & (band[:, 1] != 0)
    return sums, 2 * int(at_resolution.sum())


def fit_powerlaw(distance, contact_sum, pixels_at_resolution: int) -> PowerLaw:
    """ABC's fit (compute_powerlaw_fit_from_hic.py, do_powerlaw_fit): mean contact per distance
    = summed contact / pixels at 1 bin; linear regression of log(mean) on log(distance);
    gamma = -slope, scale = intercept. Distances without contact are left out."""
    distance, contact_sum = np.asarray(distance, np.float64), np.asarray(contact_sum, np.float64)
    keep = contact_sum > 0
    if keep.sum() < 2 or pixels_at_resolution == 0:
        raise HicError("too few contacts to fit a power law; give hic.gamma and hic.scale")
    mean = contact_sum[keep] / pixels_at_resolution
    fit = stats.linregress(np.log(distance[keep] + FIT_LOG_PSEUDOCOUNT), np.log(mean + FIT_LOG_PSEUDOCOUNT))
    return PowerLaw(gamma=-float(fit.slope), scale=float(fit.intercept))


# --- per gene -----------------------------------------------------------------------------


@dataclass
class ContactProfiles:
    """The stage's output: one row per gene x window bin, and the power law that was used."""

    table: pd.DataFrame
    powerlaw: PowerLaw
    fitted: bool


PROFILE_COLUMNS = [
    "gene_id",
    "chrom",
    "bin_start",
    "bin_end",
    "distance",
    "hic_contact",
    "powerlaw_filled",
    "powerlaw_contact",
    "hic_contact_pl_scaled",
    "hic_pseudocount",
    "hic_contact_pl_scaled_adj",
]


def window_bins(tss: int, half_width: int, resolution: int, n_bins: int) -> np.ndarray:
    """Bins overlapping [tss - half_width, tss + half_width) inside the chromosome."""
    first = max((tss - half_width) // resolution, 0)
    last = min((tss + half_width - 1) // resolution, n_bins - 1)
    return np.arange(first, last + 1)


def _gene_rows(contacts: AbcContacts, genes: pd.DataFrame, half_width: int, length: int) -> pd.DataFrame:
    res, n_bins = contacts.resolution, contacts.band.shape[0]
    frames = []
    for gene in genes.itertuples(index=False):
        tss = int(gene.tss)
        if not 0 <= tss < length:
            raise HicError(f"gene {gene.gene_id}: TSS {tss} is outside {gene.chrom} (length {length})")
        bins = window_bins(tss, half_width, res, n_bins)
        tss_bin = tss // res
        frames.append(
            pd.DataFrame(
                {
                    "gene_id": gene.gene_id,
                    "chrom": gene.chrom,
                    "bin_start": bins * res,
                    "bin_end": np.minimum((bins + 1) * res, length),
                    "distance": np.abs(bins * res + res / 2 - tss),
                    "hic_contact": contacts.from_bin(tss_bin, bins),
                    "tss_contact": contacts.from_bin(tss_bin, np.array([tss_bin]))[0],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def tss_contact_profiles(
    path,
    genes: pd.DataFrame,
    half_width: int,
    resolution: int,
    normalization: str,
    reference_gamma: float = 0.87,
    gamma: float | None = None,
    scale: float | None = None,
    pseudocount_distance: float = 5000,
    tss_hic_contribution: float = 100,
    fit_max_distance: int = 1_000_000,
    reader: str | None = None,
    recipe: str = "abc",
) -> ContactProfiles:
    """Hi-C contact of every bin in each gene's window [tss - half_width, tss + half_width) with its
    TSS bin, by `recipe` ("abc" or "authors", see the module docstring). `genes` has gene_id, chrom
    (our names) and tss (0-based). Each chromosome is read once. ABC's gamma and scale are fitted from
    the file's contacts (distances 1 bin to fit_max_distance, as ABC) unless both are given; power
    laws are clipped below at one bin. The authors' recipe uses reference_gamma for both power laws
    and ignores pseudocount_distance, tss_hic_contribution and fit_max_distance.

    Columns: hic_contact is the recipe's normalised contact (NaN where the file has no data);
    powerlaw_filled marks genes whose own TSS contact was too low (< 0.01) or missing, whose
    contacts ABC replaces by the power law; hic_contact_pl_scaled_adj is the final contact, NaN for
    the genes the authors' QC leaves without a channel.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown Hi-C recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    if (gamma is None) != (scale is None):
        raise ValueError("give both hic gamma and scale, or neither to fit them from the file")
    if recipe == "authors":
        return _authors_profiles(path, genes, half_width, resolution, normalization, reference_gamma, gamma, reader)
    matrix = open_contact_matrix(path, resolution, normalization, reader)
    window = math.ceil(half_width / resolution) + 1
    fit_bins = 0 if gamma is not None else fit_max_distance // resolution
    rows, sums, pixels_at_resolution = [], 0.0, 0
    for chrom, chrom_genes in genes.groupby("chrom", sort=False):
        name = matrix.chromosome_name(chrom)
        width = max(window, fit_bins, 1)
        contacts = abc_contacts(
            matrix.band(name, min(width, max(matrix.n_bins(name) - 1, 1))), normalization, tss_hic_contribution
        )
        rows.append(_gene_rows(contacts, chrom_genes, half_width, matrix.chromosomes()[name]))
        if fit_bins:
            chrom_sums, chrom_pixels = distance_contact_sums(contacts)
            sums = _add_padded(sums, chrom_sums[: fit_bins + 1])
            pixels_at_resolution += chrom_pixels
    if fit_bins:
        distance_bins = np.arange(1, len(sums))
        powerlaw = fit_powerlaw(distance_bins * resolution, sums[1:], pixels_at_resolution)
    else:
        powerlaw = PowerLaw(float(gamma), float(scale))
    log.info(
        "%s: Hi-C power law gamma %.6f, scale %.6f (%s); reference gamma %.3f",
        matrix.path,
        powerlaw.gamma,
        powerlaw.scale,
        "fitted from the file" if fit_bins else "given",
        reference_gamma,
    )
    table = _abc_scaling(
        pd.concat(rows, ignore_index=True), powerlaw, reference_gamma, pseudocount_distance, resolution
    )
    return ContactProfiles(table[PROFILE_COLUMNS], powerlaw, bool(fit_bins))


def _authors_profiles(
    path,
    genes: pd.DataFrame,
    half_width: int,
    resolution: int,
    normalization: str,
    reference_gamma: float,
    gamma: float | None,
    reader: str | None,
) -> ContactProfiles:
    if gamma is not None:
        raise ValueError(
            "the authors' Hi-C recipe uses reference_gamma for both power laws; leave hic gamma and scale null"
        )
    if half_width > AUTHORS_PSEUDOCOUNT_DISTANCE:
        raise ValueError(
            f"the authors' Hi-C pseudocount is constant only in windows up to "
            f"{AUTHORS_PSEUDOCOUNT_DISTANCE} bp either side of the TSS (half_width {half_width})"
        )
    matrix = open_contact_matrix(path, resolution, normalization, reader)
    window = math.ceil(half_width / resolution) + 1
    rows = []
    for chrom, chrom_genes in genes.groupby("chrom", sort=False):
        name = matrix.chromosome_name(chrom)
        band = matrix.band(name, min(window, max(matrix.n_bins(name) - 1, 1)))
        contacts = AbcContacts(name, resolution, band.values, np.ones(band.n_bins))
        rows.append(_gene_rows(contacts, chrom_genes, half_width, matrix.chromosomes()[name]))
    powerlaw = PowerLaw(float(reference_gamma), reference_scale(reference_gamma))
    log.info(
        "%s: the authors' Hi-C recipe: %s contacts as read, power law gamma %.3f for both, pseudocount at %d bp",
        matrix.path,
        normalization,
        reference_gamma,
        AUTHORS_PSEUDOCOUNT_DISTANCE,
    )
    table = authors_contacts(pd.concat(rows, ignore_index=True), genes, powerlaw, resolution)
    return ContactProfiles(table[PROFILE_COLUMNS], powerlaw, False)


def authors_contacts(table: pd.DataFrame, genes: pd.DataFrame, powerlaw: PowerLaw, resolution: int) -> pd.DataFrame:
    """The authors' qc_hic (on missing contacts as 0), identity rescaling and 1 Mb pseudocount on
    `_gene_rows`' table; the QC's per-base sum counts each bin once per base it shares with
    (tss - 500, tss + 500)."""
    contact = np.nan_to_num(table["hic_contact"].to_numpy())
    tss = table["gene_id"].map(genes.set_index("gene_id")["tss"]).to_numpy()
    near_tss = np.clip(
        np.minimum(table["bin_end"].to_numpy(), tss + AUTHORS_TSS_SLOP)
        - np.maximum(table["bin_start"].to_numpy(), tss - AUTHORS_TSS_SLOP + 1),
        0,
        None,
    )
    tss_sum = pd.Series(contact * near_tss).groupby(table["gene_id"].to_numpy()).transform("sum").to_numpy()
    no_channel = ~(tss_sum >= LOW_COVERAGE_CONTACT)
    gamma, scale = powerlaw
    table["powerlaw_filled"] = False
    table["powerlaw_contact"] = powerlaw_contact(table["distance"].to_numpy(), gamma, scale, resolution)
    table["hic_contact_pl_scaled"] = np.where(no_channel, np.nan, contact)
    table["hic_pseudocount"] = powerlaw_contact(AUTHORS_PSEUDOCOUNT_DISTANCE, gamma, scale, resolution)
    table["hic_contact_pl_scaled_adj"] = table["hic_contact_pl_scaled"] + table["hic_pseudocount"]
    return table


def _add_padded(total, addition: np.ndarray) -> np.ndarray:
    total = np.atleast_1d(np.asarray(total, dtype=np.float64))
    size = max(total.size, addition.size)
    return np.pad(total, (0, size - total.size)) + np.pad(addition, (0, size - addition.size))


def _abc_scaling(
    table: pd.DataFrame, powerlaw: PowerLaw, reference_gamma: float, pseudocount_distance: float, resolution: int
) -> pd.DataFrame:
    """ABC's qc_hic, fillna(0), scale_hic_with_powerlaw and add_hic_pseudocount, in that order."""
    gamma, scale = powerlaw
    distance = table["distance"].to_numpy()
    low = ~(table["tss_contact"].to_numpy() >= LOW_COVERAGE_CONTACT)
    contact = np.where(
        low, powerlaw_contact(distance, gamma, scale, resolution), np.nan_to_num(table["hic_contact"].to_numpy())
    )
    table["powerlaw_filled"] = low
    table["powerlaw_contact"] = powerlaw_contact(distance, gamma, scale, resolution)
    table["hic_contact_pl_scaled"] = scale_to_reference(contact, distance, gamma, scale, reference_gamma, resolution)
    table["hic_pseudocount"] = abc_pseudocount(distance, gamma, scale, pseudocount_distance, resolution)
    table["hic_contact_pl_scaled_adj"] = table["hic_contact_pl_scaled"] + table["hic_pseudocount"]
    return table


def per_base_contact(profile: pd.DataFrame, tss: int, half_width: int, resolution: int) -> np.ndarray:
    """log10(x + 1) of each base's bin's hic_contact_pl_scaled_adj over [tss - half_width,
    tss + half_width), 0-based; bases beyond the chromosome (no bin in `profile`) and genes without
    a channel (NaN) are 0."""
    start, end = tss - half_width, tss + half_width
    out = np.zeros(end - start, dtype=np.float32)
    values = np.log10(np.nan_to_num(profile["hic_contact_pl_scaled_adj"].to_numpy()) + 1.0)
    for bin_start, bin_end, value in zip(profile["bin_start"].to_numpy(), profile["bin_end"].to_numpy(), values):
        lo, hi = max(bin_start, start), min(bin_end, end)
        if lo < hi:
            out[lo - start : hi - start] = value
    return out


def missing_fraction(profiles: pd.DataFrame) -> float:
    """The fraction of window bins without Hi-C data (no normalisation value), for QC."""
    return float(profiles["hic_contact"].isna().mean()) if len(profiles) else 0.0


def hic_contacts(config: dict, hic, genes, out) -> None:
    """The hic_contacts rule: each gene's TSS contact profile over its window (hic.* settings)."""
    genes_table = pd.read_csv(genes, sep="\t")
    profiles = tss_contact_profiles(hic, genes_table, config["window"]["half_width"], **config["hic"])
    write_tsv(profiles.table, out)
