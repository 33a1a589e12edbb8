"""Genes from a GTF or GFF3 annotation (GENCODE, Ensembl): id, name, chromosome, TSS, strand.

GTF and GFF3 count from 1 and include both ends; the TSS returned is 0-based: the first base of
the gene (or of its transcript carrying the configured tag) on its strand, i.e. `start - 1` on
+ and `end - 1` on -. Only gene and transcript records are parsed (a full GENCODE file streams
through in bounded memory).
"""

from __future__ import annotations

import logging
import re
import urllib.parse

import pandas as pd

from ..files import GZIP_ERRORS, open_maybe_gzip

log = logging.getLogger(__name__)
ANNOTATION_SUFFIXES = {".gtf": "gtf", ".gff3": "gff3", ".gff": "gff3"}
GENE_TYPE_KEYS = ("gene_type", "gene_biotype", "biotype")  # GENCODE, Ensembl GTF, Ensembl GFF3
GENE_NAME_KEYS = ("gene_name", "Name")
GTF_ATTRIBUTE = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^;]*?))\s*(?:;|$)')


def annotation_format(path: str) -> str | None:
    """ "gtf" or "gff3" by the file's name (also gzipped); None for any other table."""
    name = str(path).lower().removesuffix(".gz")
    return next((fmt for suffix, fmt in ANNOTATION_SUFFIXES.items() if name.endswith(suffix)), None)


def _gtf_attributes(text: str) -> dict[str, list[str]]:
    attributes: dict[str, list[str]] = {}
    for key, quoted, bare in GTF_ATTRIBUTE.findall(text):
        attributes.setdefault(key, []).append(quoted or bare)
    return attributes


def _gff3_attributes(text: str) -> dict[str, list[str]]:
    attributes = {}
    for field in text.strip().strip(";").split(";"):
        key, _, value = field.partition("=")
        attributes[key.strip()] = [urllib.parse.unquote(v) for v in value.split(",")]
    return attributes


def _records(path: str, fmt: str):
    """(chrom, feature, start, end, strand, attributes) of every gene and transcript record."""
    parse = _gtf_attributes if fmt == "gtf" else _gff3_attributes
    with open_maybe_gzip(path) as handle:
        for number, line in enumerate(handle, 1):
            if line.startswith("##FASTA"):  # GFF3 may end with the sequences
                break
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise ValueError(f"{path}: line {number} has {len(fields)} tab-separated fields, not {fmt}'s 9")
            chrom, _, feature, start, end, _, strand, _, text = fields
            if fmt == "gtf" and feature not in ("gene", "transcript"):
                continue
            attributes = parse(text)
            if fmt == "gff3" and "gene_id" not in attributes and "transcript_id" not in attributes:
                continue
            yield chrom, feature, int(start), int(end), strand, attributes


def _first(attributes: dict, keys) -> str | None:
    return next((attributes[k][0] for k in keys if k in attributes), None)


def _tss(start: int, end: int, strand: str) -> int:
    return start - 1 if strand == "+" else end - 1


def read_annotation(
    path: str, gene_types: list | None, tss_transcript_tag: str | None, strip_gene_version: bool
) -> pd.DataFrame:
    """gene_id, gene_name, chrom, tss (0-based), strand of the genes of `gene_types` (None: all).

    With `tss_transcript_tag` (e.g. Ensembl_canonical) the TSS is that of the gene's transcript
    carrying the tag; genes without one keep the gene's own first base (their number is logged).
    """
    fmt = annotation_format(path)
    genes, tagged, gff3_ids = [], {}, {}
    try:
        for chrom, feature, start, end, strand, attributes in _records(path, fmt):
            is_gene = feature == "gene" if fmt == "gtf" else "Parent" not in attributes
            if is_gene:
                gene_id = attributes["gene_id"][0]
                gff3_ids[_first(attributes, ["ID"])] = gene_id
                genes.append(
                    (
                        gene_id,
                        _first(attributes, GENE_NAME_KEYS),
                        _first(attributes, GENE_TYPE_KEYS),
                        chrom,
                        _tss(start, end, strand),
                        strand,
                    )
                )
            elif tss_transcript_tag and tss_transcript_tag in attributes.get("tag", []):
                parent = attributes["gene_id"][0] if fmt == "gtf" else gff3_ids.get(attributes["Parent"][0])
                if parent is not None:  # GFF3 exons and CDSs have transcripts as parents
                    tagged.setdefault(parent, _tss(start, end, strand))
    except GZIP_ERRORS as error:
        raise ValueError(f"{path}: truncated or corrupt gzip file ({error})") from None
    table = pd.DataFrame(genes, columns=["gene_id", "gene_name", "gene_type", "chrom", "tss", "strand"])
    if table.empty:
        raise ValueError(f"{path}: no gene records (expected {fmt} with 'gene' features carrying gene_id)")
    if gene_types is not None:
        table = table[table["gene_type"].isin(gene_types)]
        if table.empty:
            raise ValueError(f"{path}: no gene of genes.annotation.gene_types {gene_types}")
    if tss_transcript_tag:
        from_transcript = table["gene_id"].map(tagged)
        log.info(
            "%s: TSS of %d genes from their %s transcript; %d genes have none and keep the gene's first base",
            path,
            int(from_transcript.notna().sum()),
            tss_transcript_tag,
            int(from_transcript.isna().sum()),
        )
        table = table.assign(tss=from_transcript.fillna(table["tss"]).astype("int64"))
    if strip_gene_version:
        table = table.assign(gene_id=table["gene_id"].str.replace(r"\.\d+(_PAR_Y)?$", r"\1", regex=True))
    return table.drop(columns="gene_type").reset_index(drop=True)
