"""bigWig signal tracks: windows with padding, NaN and no data -> 0 (counted), and RPM over regions.

A bigWig carries no read count, so "RPM" here is the signal summed over a region divided by the
whole file's summed signal, times 1e6 (our stand-in for reads per million).
"""

from __future__ import annotations

import os

import numpy as np
import pyBigWig

from .genome import match_chromosomes, window_bounds


class Track:
    """An open bigWig whose chromosomes are addressed by the genome's names."""

    def __init__(self, path: str, chromosomes=None):
        self.path = path
        if not os.path.isfile(path):
            raise FileNotFoundError(f"bigWig {path} does not exist")
        try:
            self.bw = pyBigWig.open(path)
        except RuntimeError:
            self.bw = None
        if self.bw is None or not self.bw.isBigWig():
            raise ValueError(f"{path} is not a bigWig file")
        self.file_chroms = self.bw.chroms()
        self.names = match_chromosomes(chromosomes or self.file_chroms, self.file_chroms, path)

    def chromosomes(self) -> list[str]:
        return list(self.names)

    def _name(self, chrom: str) -> str:
        try:
            return self.names[chrom]
        except KeyError:
            raise KeyError(f"{self.path}: no chromosome {chrom} (it has {', '.join(self.file_chroms)})") from None

    def window(self, chrom: str, tss: int, half_width: int) -> tuple[np.ndarray, int, int]:
        """float32 values over the TSS window, where no data, NaN and beyond-end positions are 0;
        and how many of its bases on the chromosome have no data, and how many a NaN value."""
        start, end = window_bounds(tss, half_width)
        name = self._name(chrom)
        values = np.zeros(end - start, dtype=np.float32)
        lo, hi = max(start, 0), min(end, self.file_chroms[name])
        no_data = nan = 0
        if lo < hi:
            part = self.bw.values(name, lo, hi, numpy=True)
            missing = np.isnan(part)  # no data reads as NaN too: the intervals tell them apart
            if missing.any():
                nan = sum(min(e, hi) - max(s, lo) for s, e, v in self.bw.intervals(name, lo, hi) or () if np.isnan(v))
                no_data = int(missing.sum()) - nan
                part[missing] = 0.0
            values[lo - start : hi - start] = part
        return values, no_data, nan

    def region_sum(self, chrom: str, start: int, end: int) -> float:
        return self._file_sum(self._name(chrom), start, end)

    def _file_sum(self, name: str, start: int, end: int, block: int = 10_000_000) -> float:
        """Exact per-base sum; NaN and no-data count as 0 (bigWig stats give None then)."""
        lo, hi = max(start, 0), min(end, self.file_chroms[name])
        total = 0.0
        for s in range(lo, hi, block):
            total += float(np.nansum(self.bw.values(name, s, min(s + block, hi), numpy=True), dtype=np.float64))
        return total

    def total(self) -> float:
        """The summed signal over the whole file (the header's sumData is truncated to an integer)."""
        total = 0.0
        for name, length in self.file_chroms.items():
            exact = self.bw.stats(name, type="sum", exact=True)[0]
            total += exact if exact is not None and np.isfinite(exact) else self._file_sum(name, 0, length)
        return total

    def close(self) -> None:
        self.bw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def region_rpm(track: Track, regions, total: float | None = None) -> np.ndarray:
    """Signal per million of the file's total, for (chrom, start, end) regions."""
    total = track.total() if total is None else total
    if total <= 0:
        raise ValueError(f"{track.path}: the signal sums to {total}; RPM is undefined")
    return np.array([track.region_sum(c, s, e) for c, s, e in regions]) / total * 1e6
