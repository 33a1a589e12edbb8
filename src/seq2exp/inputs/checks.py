"""The inputs report: each source opened with its own reader, summarised in one row.

It records what a run was built from (origin, size, sha256) and fails early, naming the file,
when an input is not what its key says it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from ..features.genes import (
    GENE_LIST_TSS_COLUMNS,
    check_heldout_inputs,
    chromosome_names,
    genes_from_table,
    read_gene_list,
    read_gene_table,
)
from ..features.genome import genome_sizes, match_chromosomes, split_chromosomes
from ..features.hic import file_header, open_contact_matrix
from ..features.promoters import GENE_LIST_ACTIVITY_COLUMNS
from ..files import DELIMITER_NAMES, read_table, read_text_table, require_columns, sha256sum, write_tsv
from .annotation import annotation_format
from .crispri import read_crispri
from .download import discard_bad_download
from .sources import Source, configured_sources, source_scope

CELL_INPUT_KINDS = ("bigwig", "hic", "ctss")


@dataclass(frozen=True)
class RunInputs:
    """What every input is checked against: the config, the FASTA's chromosomes and those of the
    gene table's genes (in the FASTA's names)."""

    config: dict
    genome: list[str]
    gene_chromosomes: list[str]


def _chrom_style(names) -> str:
    names = list(names)
    prefixed = sum(str(n).startswith("chr") for n in names)
    if prefixed == len(names):
        return "chr-prefixed"
    return "unprefixed" if prefixed == 0 else "mixed"


def _fasta(path: str, run: RunInputs) -> str:
    fai = pd.read_csv(path + ".fai", sep="\t", header=None, usecols=[0, 1], names=["chrom", "length"])
    return f"{len(fai)} sequences, {fai['length'].sum():,} bp, {_chrom_style(fai['chrom'])}"


def _bed(path: str, run: RunInputs) -> str:
    bed = read_text_table(path, sep="\t", header=None, comment="#", usecols=[0, 1, 2])
    return f"{len(bed)} intervals on {bed[0].nunique()} chromosomes, {_chrom_style(bed[0].unique())}"


def _gene_table(path: str, run: RunInputs) -> str:
    """Read as the gene_table rule reads it, with every column the run needs."""
    settings = run.config["genes"]
    if annotation_format(path):
        genes, read_as = read_gene_table(path, settings), annotation_format(path).upper()
    else:
        table = read_table(path, dtype={settings["columns"]["chrom"]: str})
        genes = genes_from_table(table, settings["columns"], settings["tss_one_based"], path)
        template = settings["precomputed_target_column"]
        if template:
            require_columns(table, [template.format(cell_type=c) for c in run.config["run_cell_types"]], path)
        read_as = f"{DELIMITER_NAMES[table.attrs['delimiter']]}-separated"
    return (
        f"{len(genes)} genes on {genes['chrom'].nunique()} chromosomes, "
        f"{_chrom_style(genes['chrom'].dropna().unique())} ({read_as})"
    )


def _mrna_features(path: str, run: RunInputs) -> str:
    settings = run.config["genes"]
    table = read_table(path)
    require_columns(table, [settings["mrna_gene_id_column"], *settings["mrna_feature_columns"]], path)
    return f"{len(table)} genes, {len(settings['mrna_feature_columns'])} feature columns"


def _gene_list(path: str, run: RunInputs) -> str:
    """Read as the gene_table and promoter_activity rules read it: ids, TSS and, for the authors'
    promoter activity, the two RPM columns."""
    activity = GENE_LIST_ACTIVITY_COLUMNS if run.config["features"]["promoter_activity"] == "gene_list" else ()
    table = read_gene_list(path, run.config["genes"]["gene_list_id_column"], [*GENE_LIST_TSS_COLUMNS, *activity])
    return f"{len(table)} genes on {table['chr'].nunique()} chromosomes, {_chrom_style(table['chr'].unique())}"


def _bigwig(path: str, run: RunInputs) -> str:
    chroms = chromosome_names("bigwig", path)
    return f"{len(chroms)} chromosomes, {_chrom_style(chroms)}"


def _hic(path: str, run: RunInputs) -> str:
    """The configured resolution, and the normalisation on every chromosome with genes, as
    `hic_contacts` will read them (a .hic lacking VC gets it computed there)."""
    settings = run.config["hic"]
    resolution, normalization = settings["resolution"], settings["normalization"]
    resolutions, _ = file_header(path)
    if resolution not in resolutions:
        raise ValueError(
            f"hic.resolution {resolution} bp is not in the file (it has {', '.join(map(str, resolutions))} bp)"
        )
    matrix = open_contact_matrix(path, resolution, normalization, settings["reader"])
    chroms = matrix.chromosomes()
    with_genes = list(match_chromosomes(run.gene_chromosomes, chroms, path))
    try:
        computed = [c for c in with_genes if matrix.weights(c) is None and normalization == "VC"]
    except ValueError as error:
        raise ValueError(f"hic.normalization {normalization}: {error}") from None
    vc = f", VC to compute on {len(computed)} chromosomes" if computed else ""
    return (
        f"resolutions {','.join(str(r) for r in resolutions)} bp; {len(chroms)} chromosomes, "
        f"{_chrom_style(chroms)}; {normalization} at {resolution} bp checked on {len(with_genes)}{vc}"
    )


def _ctss(path: str, run: RunInputs) -> str:
    ctss = read_text_table(path, sep="\t", header=None, usecols=[0, 4, 5], names=["chrom", "tags", "strand"])
    if ctss.empty:
        raise ValueError("no CTSS records")
    bad = ~ctss["strand"].isin(["+", "-"])
    if bad.any():
        raise ValueError(f"column 6 must be the strand (+/-); found {ctss.loc[bad, 'strand'].iloc[0]!r}")
    return f"{len(ctss)} CTSS, {int(ctss['tags'].sum()):,} tags, {_chrom_style(ctss['chrom'].unique())}"


def _crispri(path: str, run: RunInputs) -> str:
    pairs = read_crispri(path)
    cells = ", ".join(f"{cell} {n}" for cell, n in pairs["CellType"].value_counts().sort_index().items())
    return f"{len(pairs)} element-gene pairs, {int(pairs['Regulated'].sum())} regulated ({cells})"


SUMMARISERS = {
    "fasta": _fasta,
    "blacklist": _bed,
    "gene_table": _gene_table,
    "mrna_features": _mrna_features,
    "gene_list": _gene_list,
    "bigwig": _bigwig,
    "hic": _hic,
    "ctss": _ctss,
    "crispri": _crispri,
}


def _checked(source: Source, path: str, read, config: dict):
    """`read(path)`, with any failure an error naming the key and the file; a downloaded file
    that fails its format check is removed (`discard_bad_download`)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{source.key}: input file {path} does not exist")
    try:
        return read(path)
    except Exception as error:
        downloaded = source.is_url and path == source.path
        bad = discard_bad_download(source, config["downloads"]["lock_file"]) if downloaded else None
        raise ValueError(
            f"{source.key}: {path} could not be read as {source.kind}: {error}" + (f"; {bad}" if bad else "")
        ) from error


def describe(source: Source, run: RunInputs, path: str | None = None) -> dict:
    """One report row; `path` overrides where the file is read (the prepared FASTA)."""
    path = path or source.path
    summary = _checked(source, path, lambda p: SUMMARISERS[source.kind](p, run), run.config)
    origin = source.location + (f"#{source.member}" if source.member else "")
    return {
        "key": source.key,
        "kind": source.kind,
        "origin": origin,
        "path": path,
        "bytes": os.path.getsize(path),
        "sha256": sha256sum(path),
        "summary": summary,
    }


def _shown(names) -> str:
    names = list(names)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def run_inputs(config: dict, sources: dict[str, Source], fasta_path: str) -> RunInputs:
    """The genome's chromosomes and those of the gene table's genes (an error if none match)."""
    genome = list(genome_sizes(fasta_path))
    table = sources["genes.table"]
    genes = _checked(table, table.path, lambda p: read_gene_table(p, config["genes"]), config)
    gene_chroms = list(match_chromosomes(genes["chrom"].dropna().unique(), genome, fasta_path).values())
    if not gene_chroms:
        raise ValueError(
            f"genes.table: no chromosome of {table.path} ({_shown(genes['chrom'].unique())}) is in "
            f"the genome FASTA {fasta_path} ({_shown(genome)})"
        )
    return RunInputs(config, genome, gene_chroms)


def check_chromosomes(run: RunInputs, sources: list[Source]) -> None:
    """Every cell input shares chromosome names with the FASTA (under the alias rule) and has
    every held-out chromosome (unless split.allow_missing_heldout)."""
    inputs = {f"{s.key} ({s.path})": chromosome_names(s.kind, s.path) for s in sources if s.kind in CELL_INPUT_KINDS}
    for label, names in inputs.items():
        if not match_chromosomes(run.genome, names, label):
            raise ValueError(
                f"{label}: none of its chromosomes ({_shown(names)}) matches the genome FASTA's "
                f"({_shown(run.genome)}), even as chr1 = 1, chrM = MT"
            )
    heldout = split_chromosomes(run.config["split"], run.genome, "genome FASTA")
    check_heldout_inputs(heldout, inputs, run.config["split"]["allow_missing_heldout"])


def inputs_report(config: dict, fasta_path: str, scope: str | None, report_path: str) -> None:
    """The rules inputs_report, cell_inputs_report and evaluation_inputs_report: the report of the
    shared inputs (`scope` None), of one cell type's or of the evaluation's, to `report_path`."""
    write_tsv(inputs_report_table(config, fasta_path, scope), report_path)


def inputs_report_table(config: dict, fasta_path: str, scope: str | None = None) -> pd.DataFrame:
    """The inputs every cell type shares (`scope` None), one cell type's, or the evaluation's
    (`sources.source_scope`), read and checked as the rules will read them (the FASTA at its
    prepared, indexed `fasta_path`), one row each."""
    every = configured_sources(config)
    run = run_inputs(config, {s.key: s for s in every}, fasta_path)
    sources = [s for s in every if source_scope(s.key, config["run_cell_types"]) == scope]
    report = pd.DataFrame([describe(s, run, fasta_path if s.key == "genome.fasta" else None) for s in sources])
    check_chromosomes(run, sources)
    return report
