"""The inputs stage: each source read as the rules will read it, checking before any long job
what the later rules need."""

import copy
import gzip

import pandas as pd
import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.inputs.checks import inputs_report, inputs_report_table
from seq2exp.inputs.unpack import prepare_genome


@pytest.fixture(scope="module")
def config(repo):
    return validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")


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
