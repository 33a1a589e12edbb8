"""Inputs as users have them: CSV/TSV gene tables, GTF/GFF3 annotations, and the inputs stage
checking before any long job what the later rules need."""

import copy
import gzip

import pandas as pd
import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.features.genes import attach_mrna_features, read_gene_table
from seq2exp.inputs.checks import inputs_report, inputs_report_table
from seq2exp.inputs.unpack import prepare_genome

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


# --- the inputs stage ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fasta(tiny_demo_paths, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("genome") / "genome.fa")
    prepare_genome(tiny_demo_paths.fasta, path)
    return path


def run_config(config, paths, **changes):
    """The demo config on the tiny demo's files, with `changes` ({"hic.resolution": 5000, ...})."""
    config = copy.deepcopy(config)
    config["genome"].update(fasta=paths.fasta, blacklist=paths.blacklist)
    config["genes"].update(table=paths.gene_table, mrna_features=paths.mrna_features)
    config["cell_types"] = copy.deepcopy(paths.cell_types)
    for key, value in changes.items():
        *parents, last = key.split(".")
        section = config
        for parent in parents:
            section = section[parent]
        section[last] = value
    return config


def test_the_shared_report_leaves_cell_and_evaluation_inputs_to_their_own(config, tiny_demo_paths, fasta, tmp_path):
    """Each input is checked by one report, so adding a cell type or a CRISPRi table reruns nothing
    that the shared report gates (the gene table and everything after it)."""
    crispri = tmp_path / "pairs.tsv"
    crispri.write_text(
        "chrom\tchromStart\tchromEnd\tmeasuredGeneSymbol\tmeasuredGeneEnsemblId\tRegulated\t"
        "ValidConnection\tCellType\nchr1\t100\t200\tG1\tENSG1\tTRUE\tTRUE\tK562\n"
    )

    def keys(scope):
        run = run_config(config, tiny_demo_paths, **{"evaluation.crispri": str(crispri)})
        return list(inputs_report_table(run, fasta, scope)["key"])

    assert keys(None) == ["genome.fasta", "genome.blacklist", "genes.table", "genes.mrna_features"]
    assert keys("GM12878") == ["GM12878.dnase", "GM12878.h3k27ac", "GM12878.hic", "GM12878.cage"]
    assert keys("evaluation") == ["evaluation.crispri"]


def test_each_report_rule_writes_the_report_of_its_scope(config, tiny_demo_paths, fasta, tmp_path):
    report = tmp_path / "K562" / "inputs.tsv"
    inputs_report(run_config(config, tiny_demo_paths), fasta, "K562", str(report))
    assert list(pd.read_csv(report, sep="\t")["key"]) == ["K562.dnase", "K562.h3k27ac", "K562.hic", "K562.cage"]


def test_the_report_reads_a_tsv_table_as_the_rules_do(config, tiny_demo, tiny_demo_paths, fasta, tmp_path):
    path = tmp_path / "genes.tsv"
    path.write_text(pd.read_csv(tiny_demo_paths.gene_table).to_csv(sep="\t", index=False))
    report = inputs_report_table(run_config(config, tiny_demo_paths, **{"genes.table": str(path)}), fasta)
    summary = report.set_index("key").loc["genes.table", "summary"]
    assert summary == f"{len(tiny_demo.genes)} genes on 6 chromosomes, chr-prefixed (tab-separated)"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"genes.columns.tss": "TSS"}, r"genes.table: .* missing column\(s\) \['TSS'\]"),
        ({"genes.precomputed_target_column": "{cell_type}_CAGE"}, r"genes.table: .* missing column\(s\) \['K562_CAGE'"),
        (
            {"genes.mrna_feature_columns": ["UTR5GC", "HALF_LIFE"]},
            r"genes.mrna_features: .* missing column\(s\) \['HALF_LIFE'\]",
        ),
    ],
)
def test_the_report_checks_the_columns_the_rules_need(config, tiny_demo_paths, fasta, change, message):
    with pytest.raises(ValueError, match=message):
        inputs_report_table(run_config(config, tiny_demo_paths, **change), fasta)


def test_hic_resolution_and_normalisation_are_checked_in_the_inputs_stage(config, tiny_demo_paths, fasta):
    report = inputs_report_table(run_config(config, tiny_demo_paths), fasta, "K562").set_index("key")
    assert report.loc["K562.hic", "summary"].endswith("VC at 50 bp checked on 6, VC to compute on 6 chromosomes")
    with pytest.raises(
        ValueError,
        match=r"K562.hic: .*K562.hic could not be read as hic: hic.resolution 5000 bp "
        r"is not in the file \(it has 50 bp\)",
    ):
        inputs_report_table(run_config(config, tiny_demo_paths, **{"hic.resolution": 5000}), fasta, "K562")
    with pytest.raises(ValueError, match=r"K562.hic: .*hic.normalization KR: .*has no KR normalisation vector"):
        inputs_report_table(run_config(config, tiny_demo_paths, **{"hic.normalization": "KR"}), fasta, "K562")


def _rename_ctss_chromosomes(source, path, rename):
    with gzip.open(source, "rt") as handle:
        lines = [rename(line) for line in handle]
    with gzip.open(path, "wt") as handle:
        handle.writelines(lines)


def test_chromosome_names_are_matched_across_inputs(config, tiny_demo_paths, fasta, tmp_path):
    unprefixed = tmp_path / "K562.unprefixed.ctss.bed.gz"
    _rename_ctss_chromosomes(tiny_demo_paths.cell_types["K562"]["cage"], unprefixed, lambda line: line[3:])
    report = inputs_report_table(
        run_config(config, tiny_demo_paths, **{"cell_types.K562.cage": str(unprefixed)}), fasta, "K562"
    )
    assert report.set_index("key").loc["K562.cage", "summary"].endswith("unprefixed")
    foreign = tmp_path / "K562.foreign.ctss.bed.gz"
    _rename_ctss_chromosomes(tiny_demo_paths.cell_types["K562"]["cage"], foreign, lambda line: "NC_" + line[3:])
    with pytest.raises(
        ValueError,
        match=r"K562.cage \(.*K562.foreign.ctss.bed.gz\): none of its chromosomes "
        r"\(NC_1, .*\) matches the genome FASTA's \(chr1, ",
    ):
        inputs_report_table(
            run_config(config, tiny_demo_paths, **{"cell_types.K562.cage": str(foreign)}), fasta, "K562"
        )


def test_an_input_lacking_a_held_out_chromosome_stops_the_inputs_stage(config, tiny_demo_paths, fasta, tmp_path):
    partial = tmp_path / "K562.no_chr22.ctss.bed.gz"
    _rename_ctss_chromosomes(
        tiny_demo_paths.cell_types["K562"]["cage"], partial, lambda line: "" if line.startswith("chr22\t") else line
    )
    with pytest.raises(ValueError, match=r"K562.cage \(.*\) lacks \['chr22'\] of split.test"):
        inputs_report_table(
            run_config(config, tiny_demo_paths, **{"cell_types.K562.cage": str(partial)}), fasta, "K562"
        )


def test_gene_table_chromosomes_must_match_the_genome(config, tiny_demo_paths, fasta, tmp_path):
    path = tmp_path / "genes.csv"
    pd.read_csv(tiny_demo_paths.gene_table).assign(chrom="scaffold_1").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"genes.table: no chromosome of .*genes.csv \(scaffold_1\) is in the genome"):
        inputs_report_table(run_config(config, tiny_demo_paths, **{"genes.table": str(path)}), fasta)


def test_a_downloaded_file_that_fails_its_format_is_removed_naming_the_lock_line(
    config, tiny_demo_paths, fasta, tmp_path
):
    url = "https://www.encodeproject.org/files/ENCFF1/@@download/ENCFF1.bigWig"
    run = run_config(
        config,
        tiny_demo_paths,
        resources_dir=str(tmp_path / "res"),
        **{"cell_types.K562.dnase": url, "downloads.lock_file": str(tmp_path / "sources.lock.tsv")},
    )
    page = tmp_path / "res/downloads/K562.dnase/ENCFF1.bigWig"  # an error page, locked before formats were checked
    page.parent.mkdir(parents=True)
    page.write_text("<?xml version='1.0'?><!DOCTYPE html><html>Error</html>")
    (tmp_path / "sources.lock.tsv").write_text(f"url\tbytes\tmd5\tverified_by\n{url}\t52\t{'a' * 32}\tunverified\n")
    with pytest.raises(
        ValueError,
        match=rf"K562.dnase: .*could not be read as bigwig: .*the downloaded {page} is no "
        rf"bigwig file \(the server sent an HTML page.*removed it; "
        rf"{tmp_path}/sources.lock.tsv line 2 .*delete that line",
    ):
        inputs_report_table(run, fasta, "K562")
    assert not page.exists()
