"""Gene tables as users have them: CSV/TSV tables and GTF/GFF3 annotations (GENCODE, Ensembl)."""

import copy
import gzip

import pandas as pd
import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.features.genes import attach_mrna_features, read_gene_table

# GENCODE-style GTF (1-based, inclusive). A: + strand, canonical transcript starts at 151; B: lncRNA on -,
# canonical transcript ends at 1900; C: - strand, no canonical transcript. Exons must be ignored.
GTF = """##description: test
chr1\tHAVANA\tgene\t101\t500\t.\t+\t.\tgene_id "ENSG01.5"; gene_type "protein_coding"; gene_name "A"; level 2;
chr1\tHAVANA\ttranscript\t101\t500\t.\t+\t.\tgene_id "ENSG01.5"; transcript_id "ENST01.1"; gene_type "protein_coding"; tag "basic";
chr1\tHAVANA\texon\t121\t500\t.\t+\t.\tgene_id "ENSG01.5"; transcript_id "ENST02.1"; tag "Ensembl_canonical";
chr1\tHAVANA\ttranscript\t151\t400\t.\t+\t.\tgene_id "ENSG01.5"; transcript_id "ENST02.1"; gene_type "protein_coding"; tag "basic"; tag "Ensembl_canonical";
chr1\tHAVANA\tgene\t1001\t2000\t.\t-\t.\tgene_id "ENSG02.1"; gene_type "lncRNA"; gene_name "B"; level 2;
chr1\tHAVANA\ttranscript\t1001\t1900\t.\t-\t.\tgene_id "ENSG02.1"; transcript_id "ENST03.1"; tag "Ensembl_canonical";
chr2\tHAVANA\tgene\t301\t700\t.\t-\t.\tgene_id "ENSG03.2"; gene_type "protein_coding"; gene_name "C"; level 2;
chr2\tHAVANA\ttranscript\t301\t650\t.\t-\t.\tgene_id "ENSG03.2"; transcript_id "ENST04.1"; tag "basic";
"""  # noqa: E501 (GTF records are one line each)

# The same genes as Ensembl writes GFF3 (biotype, Name, Parent=gene:..., comma-separated tags).
GFF3 = """##gff-version 3
1\tensembl\tchromosome\t1\t5000\t.\t.\t.\tID=chromosome:1;Alias=chr1
1\tensembl\tgene\t101\t500\t.\t+\t.\tID=gene:ENSG01;Name=A;biotype=protein_coding;gene_id=ENSG01;version=5
1\tensembl\tmRNA\t101\t500\t.\t+\t.\tID=transcript:ENST01;Parent=gene:ENSG01;biotype=protein_coding;tag=basic;transcript_id=ENST01
1\tensembl\tmRNA\t151\t400\t.\t+\t.\tID=transcript:ENST02;Parent=gene:ENSG01;biotype=protein_coding;tag=basic,Ensembl_canonical;transcript_id=ENST02
1\tensembl\texon\t151\t400\t.\t+\t.\tParent=transcript:ENST02;Name=ENSE01;exon_id=ENSE01
1\tensembl\tncRNA_gene\t1001\t2000\t.\t-\t.\tID=gene:ENSG02;Name=B;biotype=lncRNA;gene_id=ENSG02;version=1
1\tensembl\tlnc_RNA\t1001\t1900\t.\t-\t.\tID=transcript:ENST03;Parent=gene:ENSG02;biotype=lncRNA;tag=Ensembl_canonical;transcript_id=ENST03
2\tensembl\tgene\t301\t700\t.\t-\t.\tID=gene:ENSG03;Name=C;biotype=protein_coding;gene_id=ENSG03;version=2
2\tensembl\tmRNA\t301\t650\t.\t-\t.\tID=transcript:ENST04;Parent=gene:ENSG03;biotype=protein_coding;tag=basic;transcript_id=ENST04
##FASTA
>1
ACGT
"""


@pytest.fixture(scope="module")
def config(repo):
    return validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")


def annotation_settings(config, **settings):
    genes = copy.deepcopy(config["genes"])
    genes["annotation"].update(settings)
    return genes


def tss_of(genes) -> dict:
    return dict(zip(genes["gene_id"], zip(genes["chrom"], genes["tss"], genes["strand"])))


@pytest.mark.parametrize("name", ["genes.tsv", "genes.txt", "genes.tsv.gz", "genes"])
def test_tab_separated_gene_table_is_read_by_its_name_or_sniffed(config, tiny_demo_paths, tmp_path, name):
    expected = read_gene_table(tiny_demo_paths.gene_table, config["genes"])
    path = tmp_path / name
    text = pd.read_csv(tiny_demo_paths.gene_table).to_csv(sep="\t", index=False)
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    pd.testing.assert_frame_equal(read_gene_table(str(path), config["genes"]), expected)


def test_a_table_split_on_the_wrong_delimiter_says_so(config, tiny_demo_paths, tmp_path):
    path = tmp_path / "genes.csv"
    path.write_text(pd.read_csv(tiny_demo_paths.gene_table).to_csv(sep="\t", index=False))
    with pytest.raises(
        ValueError,
        match=r"genes.csv: missing column\(s\).*\(read as comma-separated\); its header "
        r"is tab-separated: name the file .tsv",
    ):
        read_gene_table(str(path), config["genes"])


def test_gtf_genes_of_the_configured_types_with_the_canonical_transcripts_tss(config, tmp_path):
    path = tmp_path / "gencode.gtf.gz"
    path.write_bytes(gzip.compress(GTF.encode()))
    genes = read_gene_table(
        str(path), annotation_settings(config, gene_types=["protein_coding"], tss_transcript_tag="Ensembl_canonical")
    )
    assert list(genes.columns) == ["gene_id", "gene_name", "chrom", "tss", "strand"]
    assert tss_of(genes) == {"ENSG01": ("chr1", 150, "+"), "ENSG03": ("chr2", 699, "-")}
    assert list(genes["gene_name"]) == ["A", "C"]


def test_gtf_tss_of_the_gene_every_type_and_versions_kept(config, tmp_path):
    path = tmp_path / "gencode.gtf"
    path.write_text(GTF)
    genes = read_gene_table(
        str(path), annotation_settings(config, gene_types=None, tss_transcript_tag=None, strip_gene_version=False)
    )
    assert tss_of(genes) == {
        "ENSG01.5": ("chr1", 100, "+"),
        "ENSG02.1": ("chr1", 1999, "-"),
        "ENSG03.2": ("chr2", 699, "-"),
    }


def test_versioned_ids_that_match_no_mrna_feature_name_the_key(config, tmp_path):
    path = tmp_path / "gencode.gtf"
    path.write_text(GTF)
    genes = read_gene_table(str(path), annotation_settings(config, gene_types=None, strip_gene_version=False))
    features = tmp_path / "features.csv"
    features.write_text("ENSID,UTR5GC\nENSG01,0.5\nENSG03,0.25\n")
    with pytest.raises(
        ValueError,
        match=rf"{features}: no gene id of the gene table is in its column ENSID \(genes "
        r"e.g. ENSG01.5, the table e.g. ENSG01\): the gene ids look versioned and 2 "
        r"of 3 match without their version. Set genes.annotation.strip_gene_version",
    ):
        attach_mrna_features(genes, str(features), "ENSID", ["UTR5GC"], pd.DataFrame(columns=["gene_id", "reason"]))


def test_ensembl_gff3_gives_the_same_genes(config, tmp_path):
    path = tmp_path / "ensembl.gff3"
    path.write_text(GFF3)
    genes = read_gene_table(
        str(path), annotation_settings(config, gene_types=None, tss_transcript_tag="Ensembl_canonical")
    )
    assert tss_of(genes) == {"ENSG01": ("1", 150, "+"), "ENSG02": ("1", 1899, "-"), "ENSG03": ("2", 699, "-")}
    assert list(genes["gene_name"]) == ["A", "B", "C"]


def test_annotation_without_genes_of_the_types_is_named(config, tmp_path):
    path = tmp_path / "gencode.gtf"
    path.write_text(GTF)
    with pytest.raises(ValueError, match=r"gencode.gtf: no gene of genes.annotation.gene_types \['miRNA'\]"):
        read_gene_table(str(path), annotation_settings(config, gene_types=["miRNA"]))
