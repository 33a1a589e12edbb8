"""The inputs report: each source opened with its own reader, summarised in one row.

It records what a run was built from (origin, size, sha256) and fails early, naming the file,
when an input is not what its key says it is.
"""

from __future__ import annotations

import os

import pandas as pd

from .crispri import read_crispri
from .files import read_text_table
from .signals import Track
from .files import sha256sum
from .sources import Source


def _chrom_style(names) -> str:
    names = list(names)
    prefixed = sum(str(n).startswith("chr") for n in names)
    if prefixed == len(names):
        return "chr-prefixed"
    return "unprefixed" if prefixed == 0 else "mixed"


def _fasta(path: str) -> str:
    fai = pd.read_csv(path + ".fai", sep="\t", header=None, usecols=[0, 1], names=["chrom", "length"])
    return f"{len(fai)} sequences, {fai['length'].sum():,} bp, {_chrom_style(fai['chrom'])}"


def _bed(path: str) -> str:
    bed = read_text_table(path, sep="\t", header=None, comment="#", usecols=[0, 1, 2])
    return f"{len(bed)} intervals on {bed[0].nunique()} chromosomes, {_chrom_style(bed[0].unique())}"


def _table(path: str) -> str:
    table = read_text_table(path)
    return f"{len(table)} rows, {table.shape[1]} columns"


def _bigwig(path: str) -> str:
    chroms = chromosome_names("bigwig", path)
    return f"{len(chroms)} chromosomes, {_chrom_style(chroms)}"


def _hic_resolutions(path: str) -> list[int]:
    import hictkpy

    if path.endswith(".cool"):
        return [hictkpy.File(path).resolution()]
    return list(hictkpy.MultiResFile(path).resolutions())


def _hic_file(path: str, resolution: int):
    import hictkpy

    if path.endswith(".mcool"):
        return hictkpy.File(f"{path}::/resolutions/{resolution}")
    return hictkpy.File(path) if path.endswith(".cool") else hictkpy.File(path, resolution)


def _hic(path: str) -> str:
    resolutions = _hic_resolutions(path)
    chroms = _hic_file(path, resolutions[0]).chromosomes()
    return (f"resolutions {','.join(str(r) for r in resolutions)} bp; {len(chroms)} chromosomes, "
            f"{_chrom_style(chroms)}")


def _ctss(path: str) -> str:
    ctss = read_text_table(path, sep="\t", header=None, usecols=[0, 4, 5], names=["chrom", "tags", "strand"])
    if ctss.empty:
        raise ValueError("no CTSS records")
    bad = ~ctss["strand"].isin(["+", "-"])
    if bad.any():
        raise ValueError(f"column 6 must be the strand (+/-); found {ctss.loc[bad, 'strand'].iloc[0]!r}")
    return f"{len(ctss)} CTSS, {int(ctss['tags'].sum()):,} tags, {_chrom_style(ctss['chrom'].unique())}"


def _crispri(path: str) -> str:
    pairs = read_crispri(path)
    cells = ", ".join(f"{cell} {n}" for cell, n in pairs["CellType"].value_counts().sort_index().items())
    return f"{len(pairs)} element-gene pairs, {int(pairs['Regulated'].sum())} regulated ({cells})"


def chromosome_names(kind: str, path: str) -> list[str]:
    """The chromosome names an input file uses (bigWig header, Hi-C header, CTSS rows)."""
    if kind == "bigwig":
        with Track(path) as track:
            return list(track.file_chroms)
    if kind == "hic":
        names = _hic_file(path, _hic_resolutions(path)[0]).chromosomes()
        return [n for n in names if n.lower() != "all"]
    if kind == "ctss":
        return list(read_text_table(path, sep="\t", header=None, usecols=[0], dtype=str)[0].unique())
    raise ValueError(f"no chromosome list for inputs of kind {kind}")


SUMMARISERS = {
    "fasta": _fasta,
    "blacklist": _bed,
    "gene_table": _table,
    "mrna_features": _table,
    "bigwig": _bigwig,
    "hic": _hic,
    "ctss": _ctss,
    "crispri": _crispri,
}


def describe(source: Source, path: str | None = None) -> dict:
    """One report row; `path` overrides where the file is read (the prepared FASTA)."""
    path = path or source.path
    if not os.path.exists(path):
        raise FileNotFoundError(f"{source.key}: input file {path} does not exist")
    try:
        summary = SUMMARISERS[source.kind](path)
    except Exception as error:
        raise ValueError(f"{source.key}: {path} could not be read as {source.kind}: {error}") from error
    origin = source.location + (f"#{source.member}" if source.member else "")
    return {"key": source.key, "kind": source.kind, "origin": origin, "path": path,
            "bytes": os.path.getsize(path), "sha256": sha256sum(path), "summary": summary}


def inputs_report(sources: list[Source], overrides: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([describe(s, overrides.get(s.key)) for s in sources])
