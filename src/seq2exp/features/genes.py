"""The gene table: which genes, where (TSS, strand), which split, their mRNA features and window QC.

Coordinates are 0-based throughout (a 1-based TSS column is converted on reading).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyfaidx

from ..files import read_table, read_text_table, require_columns, write_tsv
from ..inputs.annotation import annotation_format, read_annotation
from ..inputs.sources import configured_sources
from .bigwig import Track
from .genome import (
    N_CODE,
    genome_sizes,
    interval_mask,
    match_chromosomes,
    merged_intervals,
    split_chromosomes,
    window_bounds,
    window_codes,
)
from .hic import file_header

log = logging.getLogger(__name__)
GENE_FIELDS = ("gene_id", "gene_name", "chrom", "tss", "strand")


def read_gene_table(path: str, genes_config: dict) -> pd.DataFrame:
    """gene_id, gene_name, chrom, tss (0-based), strand from a GTF/GFF3 annotation (by its name) or
    from the configured columns of a CSV/TSV table (`genes.columns`, `genes.tss_one_based`)."""
    if annotation_format(path):
        settings = genes_config["annotation"]
        genes = read_annotation(
            path, settings["gene_types"], settings["tss_transcript_tag"], settings["strip_gene_version"]
        )
    else:
        genes = read_columns_table(path, genes_config["columns"], genes_config["tss_one_based"])
    check_duplicate_places(genes, path)
    return genes


def check_duplicate_places(genes: pd.DataFrame, path: str) -> None:
    """A gene id listed twice with another chromosome, TSS or strand is an error naming both rows:
    keeping either copy could move the gene between train and the held-out splits. Exact repeats
    are dropped later (`select_genes`)."""
    places = genes.drop_duplicates(["gene_id", "chrom", "tss", "strand"])
    conflicting = places[places["gene_id"].duplicated(keep=False)]
    if conflicting.empty:
        return
    examples = [
        " vs ".join(f"row {i + 1}: {r.chrom}, TSS {r.tss:.0f}, strand {r.strand}" for i, r in rows.iterrows())
        for _, rows in list(conflicting.groupby("gene_id", sort=False))[:5]
    ]
    ids = conflicting["gene_id"].unique()
    raise ValueError(
        f"{path}: {len(ids)} gene id(s) listed at different places (rows counted from the first "
        "gene), e.g. "
        + "; ".join(f"{gene_id} ({example})" for gene_id, example in zip(ids, examples))
        + ". Each gene needs one chromosome, TSS and strand: remove or rename the wrong rows"
    )


def read_columns_table(path: str, columns: dict, tss_one_based: bool) -> pd.DataFrame:
    """The configured columns renamed to gene_id, gene_name, chrom, tss (0-based), strand."""
    return genes_from_table(read_table(path, dtype={columns["chrom"]: str}), columns, tss_one_based, path)


def genes_from_table(table: pd.DataFrame, columns: dict, tss_one_based: bool, path: str) -> pd.DataFrame:
    require_columns(table, [columns[f] for f in GENE_FIELDS], path)
    genes = table[[columns[f] for f in GENE_FIELDS]].copy()
    genes.columns = list(GENE_FIELDS)
    genes["tss"] = pd.to_numeric(genes["tss"], errors="coerce")
    if tss_one_based:
        genes["tss"] -= 1
    return genes


def drop(genes: pd.DataFrame, bad: pd.Series, reason, dropped: list) -> pd.DataFrame:
    """Move rows flagged `bad` out of `genes`, recording why (a string or a per-row Series)."""
    if bad.any():
        reasons = reason[bad] if isinstance(reason, pd.Series) else reason
        dropped.append(pd.DataFrame({"gene_id": genes.loc[bad, "gene_id"], "reason": reasons}))
        log.info("dropped %d genes: %s", int(bad.sum()), reason if isinstance(reason, str) else "see dropped table")
    return genes[~bad].copy()


def common_chromosomes(genome_sizes: dict, inputs: dict[str, list[str]]) -> tuple[list[str], pd.DataFrame]:
    """Chromosomes of the genome that every input has; a report of the others and why."""
    report = []
    kept = []
    for chrom in genome_sizes:
        lacking = [label for label, names in inputs.items() if chrom not in match_chromosomes([chrom], names, label)]
        kept += [] if lacking else [chrom]
        report.append((chrom, not lacking, "" if not lacking else "absent from " + ", ".join(lacking)))
    table = pd.DataFrame(report, columns=["chrom", "processed", "reason"])
    left_out = table[~table["processed"]]
    if len(left_out):
        log.info("chromosomes left out: %s", "; ".join(f"{r.chrom} ({r.reason})" for r in left_out.itertuples()))
    return kept, table


def select_genes(
    raw: pd.DataFrame, genome_sizes: dict, processed: list[str], heldout: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes with a valid TSS on a processed chromosome, with their split (`heldout`: valid and test
    chromosomes in the genome's names, see `split_chromosomes`); the rest with reasons."""
    dropped: list = []
    genes = raw.copy()
    genes = drop(genes, genes["gene_id"].duplicated(keep="first"), "duplicate gene id", dropped)
    to_genome = match_chromosomes(genes["chrom"].unique(), genome_sizes, "genome FASTA")
    genes = drop(
        genes,
        ~genes["chrom"].isin(list(to_genome)),
        "chromosome " + genes["chrom"] + " not in the genome FASTA",
        dropped,
    )
    genes["chrom"] = genes["chrom"].map(to_genome)
    genes = drop(
        genes, ~genes["chrom"].isin(processed), "chromosome " + genes["chrom"] + " not in every input", dropped
    )
    length = genes["chrom"].map(genome_sizes)
    genes = drop(
        genes, genes["tss"].isna() | (genes["tss"] < 0) | (genes["tss"] >= length), "TSS outside the assembly", dropped
    )
    genes = drop(genes, ~genes["strand"].isin(["+", "-"]), "strand not + or -", dropped)
    genes["tss"] = genes["tss"].astype(np.int64)
    genes["split"] = assign_split(genes["chrom"], heldout)
    columns = ["gene_id", "reason"]
    dropped_table = pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame(columns=columns)
    return genes.reset_index(drop=True), dropped_table


def assign_split(chroms: pd.Series, heldout: dict[str, list[str]]) -> pd.Series:
    """valid / test by the held-out chromosomes (the genome's names), train otherwise."""
    result = pd.Series("train", index=chroms.index)
    for part, names in heldout.items():
        result[chroms.isin(names)] = part
    return result


def check_heldout_inputs(heldout: dict[str, list[str]], inputs: dict[str, list[str]], allowed: bool) -> None:
    """An input lacking a valid or test chromosome would silently shrink that split: an error
    naming the input, unless `split.allow_missing_heldout` allows it (then the loss is logged)."""
    problems = [
        f"{label} lacks {lacking} of split.{part}"
        for label, names in inputs.items()
        for part, chroms in heldout.items()
        if (lacking := [c for c in chroms if not match_chromosomes([c], names, label)])
    ]
    if problems and not allowed:
        raise ValueError(
            "; ".join(problems) + ": the genes on them would be lost from the held-out set. "
            "Use inputs with every held-out chromosome, or set split.allow_missing_heldout: "
            "true to drop those genes"
        )


def split_report(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    dropped: pd.DataFrame,
    chromosomes: pd.DataFrame,
    heldout: dict[str, list[str]],
    genome_sizes: dict,
    table_path: str,
) -> pd.DataFrame:
    """Per chromosome: its split and the genes of the table on it / kept (columns added to the
    chromosome report), logged per split; a valid or test split left empty is an error."""
    to_genome = match_chromosomes(raw["chrom"].dropna().unique(), genome_sizes, "genome FASTA")
    raw_chrom = raw["chrom"].map(to_genome)
    split_of = {chrom: part for part, names in heldout.items() for chrom in names}
    report = chromosomes.assign(
        split=chromosomes["chrom"].map(split_of).fillna("train"),
        genes_in_table=chromosomes["chrom"].map(raw_chrom.value_counts()).fillna(0).astype(np.int64),
        genes_kept=chromosomes["chrom"].map(genes["chrom"].value_counts()).fillna(0).astype(np.int64),
    )
    totals = report.groupby("split")[["genes_in_table", "genes_kept"]].sum()
    log.info(
        "genes per split (kept of those in the table): %s; %d of %d genes in %s kept",
        ", ".join(
            f"{p} {totals.loc[p, 'genes_kept']} of {totals.loc[p, 'genes_in_table']}"
            for p in ("train", "valid", "test")
            if p in totals.index
        ),
        len(genes),
        len(raw),
        table_path,
    )
    for part in ("train", *heldout):  # a chromosome an input lacks loses its genes: say which and why
        lost = report[(report["split"] == part) & ~report["processed"] & (report["genes_in_table"] > 0)]
        if len(lost):
            log.warning(
                "split.%s: %d genes lost (%s)",
                part,
                lost["genes_in_table"].sum(),
                "; ".join(f"{r.chrom} {r.reason}" for r in lost.itertuples()),
            )
    for part, names in heldout.items():
        if not (genes["split"] == part).any():
            on_split = raw.loc[raw_chrom.isin(names), "gene_id"]
            reasons = dropped.loc[dropped["gene_id"].isin(on_split), "reason"].value_counts()
            why = "; dropped: " + ", ".join(f"{r} ({n})" for r, n in reasons.items()) if len(reasons) else ""
            raise ValueError(
                f"split.{part}: no gene left ({len(on_split)} genes on {', '.join(names)} in the "
                f"table{why}); see {table_path} and the dropped table"
            )
    return report


def window_qc(genes: pd.DataFrame, fasta_path: str, blacklist: pd.DataFrame, half_width: int) -> pd.DataFrame:
    """Per gene: fraction of the window that is N (or beyond the chromosome) and blacklisted."""
    fasta = pyfaidx.Fasta(fasta_path, as_raw=True, sequence_always_upper=True)
    merged = merged_intervals(blacklist)
    frac_n, frac_blacklist = [], []
    for g in genes.itertuples():
        codes = window_codes(fasta, g.chrom, g.tss, half_width)
        frac_n.append(float(np.mean(codes == N_CODE)))
        start, end = window_bounds(g.tss, half_width)
        frac_blacklist.append(float(interval_mask(merged, g.chrom, start, end).mean()))
    fasta.close()
    return genes.assign(frac_n=frac_n, frac_blacklist=frac_blacklist)


def read_blacklist(path: str, genome_sizes: dict) -> pd.DataFrame:
    """Blacklist intervals with chromosome names harmonised to the genome's."""
    table = read_text_table(
        path,
        sep="\t",
        header=None,
        comment="#",
        usecols=[0, 1, 2],
        names=["chrom", "start", "end"],
        dtype={"chrom": str},
    )
    to_genome = {v: k for k, v in match_chromosomes(genome_sizes, table["chrom"].unique(), path).items()}
    return table[table["chrom"].isin(list(to_genome))].assign(chrom=lambda t: t["chrom"].map(to_genome))


def attach_mrna_features(
    genes: pd.DataFrame, path: str, id_column: str, feature_columns: list, dropped: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join the mRNA half-life features by gene id; genes without them are dropped."""
    table = read_table(path)
    require_columns(table, [id_column, *feature_columns], path)
    features = table.drop_duplicates(id_column).set_index(id_column)[feature_columns]
    merged = genes.join(features, on="gene_id")
    missing = merged[feature_columns].isna().any(axis=1)
    if len(merged) and missing.all():
        raise ValueError(_unmatched_ids_message(genes["gene_id"], features.index, path, id_column))
    extra: list = []
    merged = drop(merged, missing, "no mRNA half-life features", extra)
    return merged.reset_index(drop=True), pd.concat([dropped, *extra], ignore_index=True)


def _unmatched_ids_message(gene_ids: pd.Series, table_ids: pd.Index, path: str, id_column: str) -> str:
    message = (
        f"{path}: no gene id of the gene table is in its column {id_column} (genes e.g. {gene_ids.iloc[0]}, "
        f"the table e.g. {table_ids[0] if len(table_ids) else 'none'})"
    )
    unversioned = gene_ids.str.replace(r"\.\d+(_PAR_Y)?$", r"\1", regex=True)
    matched = int(unversioned.isin(table_ids).sum())
    if matched:
        message += (
            f": the gene ids look versioned and {matched} of {len(gene_ids)} match without their version. "
            "Set genes.annotation.strip_gene_version: true (GTF/GFF3), or remove the versions from the table"
        )
    return message


def drop_mostly_n(genes: pd.DataFrame, dropped: pd.DataFrame, max_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    extra: list = []
    kept = drop(genes, genes["frac_n"] > max_fraction, f"window more than {max_fraction:.0%} N or padding", extra)
    return kept.reset_index(drop=True), pd.concat([dropped, *extra], ignore_index=True)


# --- ABC's GeneList: the authors' TSS ------------------------------------------------------

# ABC's GeneList (Neighborhoods/GeneList.txt) columns that centre the authors' windows (their TSS).
GENE_LIST_TSS_COLUMNS = ("chr", "tss")


def read_gene_list(path: str, id_column: str, columns) -> pd.DataFrame:
    """An ABC GeneList indexed by `id_column` (our gene_id), with `columns`; an id listed twice is
    an error naming it."""
    table = read_table(path, dtype={id_column: str, "chr": str})
    require_columns(table, [id_column, *columns], path)
    repeated = table[id_column][table[id_column].duplicated()]
    if len(repeated):
        raise ValueError(f"{path}: gene id(s) listed twice in column {id_column!r}, e.g. {repeated.iloc[0]}")
    return table.set_index(id_column)[list(columns)]


def centre_on_gene_list(raw: pd.DataFrame, gene_list: pd.DataFrame, path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table's genes with the GeneList's `tss` as their window centre, used as it is (ABC's:
    the BED start on +, the BED end on -; the authors' windows are [tss - w, tss + w)); genes it
    lacks dropped (with that reason). A gene on another chromosome there is an error: it could move
    the gene between splits."""
    listed = raw["gene_id"].isin(gene_list.index)
    dropped = pd.DataFrame({"gene_id": raw.loc[~listed, "gene_id"], "reason": f"not in genes.tss_gene_list {path}"})
    genes = raw[listed].copy()
    found = gene_list.reindex(genes["gene_id"])
    moved = [
        g
        for g, ours, theirs in zip(genes["gene_id"], genes["chrom"], found["chr"])
        if not match_chromosomes([ours], [theirs], path)
    ]
    if moved:
        raise ValueError(
            f"{path}: {len(moved)} gene(s) on another chromosome than in the gene table, e.g. "
            f"{moved[0]}; check genes.gene_list_id_column"
        )
    log_tss_offsets(genes, found["tss"].to_numpy(), path)
    genes["tss"] = pd.to_numeric(found["tss"], errors="coerce").to_numpy()
    log.info("%s: windows centred on its tss for %d genes; %d genes it lacks dropped", path, len(genes), len(dropped))
    return genes, dropped


def log_tss_offsets(genes: pd.DataFrame, gene_list_tss, path: str) -> None:
    """On + strand genes (where ABC's tss is the 0-based TSS base), how often the table's 0-based TSS
    equals the GeneList's, or is one off; more one-off than equal: a WARNING that genes.tss_one_based
    looks wrong."""
    plus = (genes["strand"] == "+").to_numpy()
    offset = (genes["tss"].to_numpy() - np.asarray(gene_list_tss, dtype=float))[plus]
    equal, one_off = int((offset == 0).sum()), int((np.abs(offset) == 1).sum())
    log.info(
        "%s: + strand genes with the table's TSS equal to its tss: %d; one base off: %d; of %d",
        path,
        equal,
        one_off,
        len(offset),
    )
    if one_off > equal:
        log.warning(
            "%s: the table's TSS is one base off the GeneList's for %d + strand genes and equal for %d: "
            "genes.tss_one_based looks wrong",
            path,
            one_off,
            equal,
        )


# --- the stage ------------------------------------------------------------------------------


def chromosome_names(kind: str, path: str) -> list[str]:
    """The chromosome names an input file uses (bigWig header, Hi-C header, CTSS rows)."""
    if kind == "bigwig":
        with Track(path) as track:
            return list(track.file_chroms)
    if kind == "hic":
        _, names = file_header(path)
        return [n for n in names if n.lower() != "all"]
    if kind == "ctss":
        return list(read_text_table(path, sep="\t", header=None, usecols=[0], dtype=str)[0].unique())
    raise ValueError(f"no chromosome list for inputs of kind {kind}")


def build_gene_table(
    config: dict,
    table_path: str,
    mrna_path: str | None,
    fasta_path: str,
    blacklist_path: str,
    tss_gene_list_path: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Genes to model (TSS, strand, split, mRNA features unless `mrna_path` is None, window QC),
    dropped genes, chromosomes. It depends on the genome and the annotation only: each cell type
    keeps the genes its inputs cover (`cell_gene_table`). With `tss_gene_list_path` (ABC's
    GeneList) the windows are centred on its tss."""
    genes_cfg, window = config["genes"], config["window"]
    sizes = genome_sizes(fasta_path)
    heldout = split_chromosomes(config["split"], sizes, fasta_path)
    processed, chromosomes = common_chromosomes(sizes, {})
    raw = read_gene_table(table_path, genes_cfg)
    centred, unlisted = raw, None
    if tss_gene_list_path:
        gene_list = read_gene_list(tss_gene_list_path, genes_cfg["gene_list_id_column"], GENE_LIST_TSS_COLUMNS)
        centred, unlisted = centre_on_gene_list(raw, gene_list, tss_gene_list_path)
    genes, dropped = select_genes(centred, sizes, processed, heldout)
    dropped = pd.concat([unlisted, dropped], ignore_index=True) if unlisted is not None else dropped
    if mrna_path:
        genes, dropped = attach_mrna_features(
            genes, mrna_path, genes_cfg["mrna_gene_id_column"], genes_cfg["mrna_feature_columns"], dropped
        )
    genes = window_qc(genes, fasta_path, read_blacklist(blacklist_path, sizes), window["half_width"])
    genes, dropped = drop_mostly_n(genes, dropped, genes_cfg["max_n_fraction"])
    if genes.empty:  # the job fails, so its dropped table is never written: give the reasons here
        reasons = dropped["reason"].value_counts()
        raise ValueError(
            f"{table_path}: no gene left after filtering; dropped: "
            + ", ".join(f"{reason} ({n})" for reason, n in reasons.head(10).items())
        )
    chromosomes = split_report(raw, genes, dropped, chromosomes, heldout, sizes, table_path)
    return genes, dropped, chromosomes


def cell_gene_table(
    config: dict, genes_path: str, fasta_path: str, input_chromosomes: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The genes of the gene table on chromosomes that every one of a cell type's inputs has
    (`input_chromosomes`: label -> names), and the per-chromosome report. An input lacking a valid
    or test chromosome is an error unless split.allow_missing_heldout."""
    sizes = genome_sizes(fasta_path)
    heldout = split_chromosomes(config["split"], sizes, fasta_path)
    check_heldout_inputs(heldout, input_chromosomes, config["split"]["allow_missing_heldout"])
    processed, chromosomes = common_chromosomes(sizes, input_chromosomes)
    genes = pd.read_csv(genes_path, sep="\t", dtype={"chrom": str})
    dropped: list = []
    kept = drop(genes, ~genes["chrom"].isin(processed), "chromosome " + genes["chrom"] + " not in every input", dropped)
    dropped_table = pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame(columns=["gene_id", "reason"])
    report = split_report(genes, kept, dropped_table, chromosomes, heldout, sizes, genes_path)
    return kept.reset_index(drop=True), report


# --- the rules' entry points: each reads its rule's inputs and writes its outputs ---------------


def _optional(paths) -> str | None:
    """The path of an optional input, which a rule gives as a list of none or one."""
    return paths[0] if paths else None


def gene_table(
    config: dict, table, mrna, tss_gene_list, fasta, blacklist, out_genes, out_dropped, out_chromosomes
) -> None:
    """`build_gene_table`'s genes, dropped genes and chromosome report; `mrna` and `tss_gene_list`
    are optional inputs (none when genes.mrna_features or genes.tss_gene_list is null)."""
    genes, dropped, report = build_gene_table(
        config, table, _optional(mrna), fasta, blacklist, _optional(tss_gene_list)
    )
    write_tsv(dropped, out_dropped)
    write_tsv(report, out_chromosomes)
    write_tsv(genes, out_genes)


def cell_genes(config: dict, genes, fasta, cell_inputs, out_genes, out_chromosomes) -> None:
    """The genes every one of a cell type's inputs (`cell_inputs`, their local paths) covers."""
    sources = [s for s in configured_sources(config) if s.path in cell_inputs]
    chromosomes = {f"{s.key} ({s.path})": chromosome_names(s.kind, s.path) for s in sources}
    kept, report = cell_gene_table(config, genes, fasta, chromosomes)
    write_tsv(report, out_chromosomes)
    write_tsv(kept, out_genes)
