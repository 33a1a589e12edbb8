"""Genome access: chromosome names across files, TSS-centred windows, DNA as uint8 codes.

DNA codes: A=0, C=1, G=2, T=3, N (and anything else, and padding beyond chromosome ends) = 4.
A window of a gene with 0-based TSS t is [t - half_width, t + half_width).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyfaidx

N_CODE = 4
_CODE_OF = np.full(256, N_CODE, dtype=np.uint8)
for _code, _bases in enumerate(("Aa", "Cc", "Gg", "Tt")):
    for _base in _bases:
        _CODE_OF[ord(_base)] = _code
_COMPLEMENT_CODE = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)


def chromosome_aliases(name: str) -> list[str]:
    """Names the same chromosome goes by: 'chr1' <-> '1', 'chrM' <-> 'MT' <-> 'M'."""
    bare = name[3:] if name.startswith("chr") else name
    aliases = [name, bare, f"chr{bare}"]
    if bare in ("M", "MT"):
        aliases += ["chrM", "MT", "M", "chrMT"]
    return list(dict.fromkeys(aliases))


def match_chromosomes(wanted, available, source: str) -> dict[str, str]:
    """Map each wanted name to the name `source` uses for it; names it lacks are left out."""
    available = set(available)
    mapping = {}
    for name in wanted:
        found = [alias for alias in chromosome_aliases(name) if alias in available]
        if len(found) > 1 and name not in found:
            raise ValueError(f"{source}: chromosome {name} is ambiguous: it holds {found}")
        if found:
            mapping[name] = name if name in found else found[0]
    return mapping


def same_chromosome(a: str, b: str) -> bool:
    return bool(set(chromosome_aliases(a)) & set(chromosome_aliases(b)))


def split_chromosomes(split: dict, available, source: str) -> dict[str, list[str]]:
    """The valid and test chromosomes in `source`'s names; an error names those it lacks."""
    available = list(available)
    names, problems = {}, []
    for part in ("valid", "test"):
        found = match_chromosomes(split[part], available, source)
        missing = [c for c in split[part] if c not in found]
        if missing:
            problems.append(f"split.{part}: {missing} not in {source}")
        names[part] = list(found.values())
    if problems:
        shown = ", ".join(available[:40]) + (", ..." if len(available) > 40 else "")
        raise ValueError("; ".join(problems) + f" (it has {shown})")
    return names


def genome_sizes(fasta_path: str) -> dict[str, int]:
    fai = pd.read_csv(f"{fasta_path}.fai", sep="\t", header=None, usecols=[0, 1], dtype={0: str})
    return dict(zip(fai[0], fai[1]))


def window_bounds(tss: int, half_width: int) -> tuple[int, int]:
    return tss - half_width, tss + half_width


def central_slice(length: int, region_bp: int) -> slice:
    """The `region_bp` positions centred on position length // 2, clipped to the window."""
    start = length // 2 - region_bp // 2
    return slice(max(start, 0), min(start + region_bp, length))


def sequence_codes(sequence: str) -> np.ndarray:
    return _CODE_OF[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def window_codes(fasta: pyfaidx.Fasta, chrom: str, tss: int, half_width: int) -> np.ndarray:
    """DNA codes of the window; positions beyond the chromosome ends are N."""
    start, end = window_bounds(tss, half_width)
    length = len(fasta[chrom])
    codes = np.full(end - start, N_CODE, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, length)
    if lo < hi:
        codes[lo - start : hi - start] = sequence_codes(str(fasta[chrom][lo:hi]))
    return codes


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    return _COMPLEMENT_CODE[codes[..., ::-1]]


def merged_intervals(table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per chromosome, the union of a table's (chrom, start, end) intervals as sorted, disjoint
    (starts, ends) arrays, ready for `interval_mask`."""
    merged = {}
    for chrom, chunk in table.groupby("chrom", sort=False):
        order = np.argsort(chunk["start"].to_numpy(), kind="stable")
        starts, ends = chunk["start"].to_numpy()[order], chunk["end"].to_numpy()[order]
        reach = np.maximum.accumulate(ends)
        first = np.flatnonzero(np.concatenate([[True], starts[1:] > reach[:-1]]))
        merged[chrom] = (starts[first], np.maximum.reduceat(ends, first))
    return merged


def value_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of the maximal runs of equal value, half-open; NaN equals nothing, so
    each NaN is a run of its own."""
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(values)]])
    return starts, ends, values[starts]


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the maximal runs of True (or 1), half-open."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(flags, dtype=bool).view(np.int8), [0]])))
    return edges[0::2], edges[1::2]


def interval_mask(merged: dict, chrom: str, start: int, end: int) -> np.ndarray:
    """uint8 mask of [start, end) on `chrom`: 1 where a merged interval covers the position."""
    mask = np.zeros(end - start, dtype=np.uint8)
    starts, ends = merged.get(chrom, (np.empty(0, np.int64), np.empty(0, np.int64)))
    first, last = np.searchsorted(ends, start, side="right"), np.searchsorted(starts, end, side="left")
    for s, e in zip(starts[first:last], ends[first:last]):
        mask[max(s, start) - start : min(e, end) - start] = 1
    return mask
