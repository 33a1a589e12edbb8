"""Sources: local paths, URLs and zip members map to local files; one download job per URL."""

from pathlib import Path

import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.inputs.sources import configured_sources, download_jobs, extractions, file_name, make_source


@pytest.fixture(scope="module")
def paper_config(repo):
    return validate_config(load_config(repo / "config/config.yaml"), repo / "workflow/schemas/config.schema.yaml")


def test_fantom_names_are_decoded_twice_and_made_safe():
    url = (
        "https://fantom.gsc.riken.jp/5/datafiles/x/chronic%2520myelogenous%2520leukemia%2520cell"
        "%2520line%253aK562.CNhs11250.10454-106G4.hg38.nobarcode.ctss.bed.gz"
    )
    assert (
        file_name(url) == "chronic_myelogenous_leukemia_cell_line_K562.CNhs11250.10454-106G4.hg38.nobarcode.ctss.bed.gz"
    )
    assert (
        file_name("https://www.encodeproject.org/files/ENCFF414OGC/@@download/ENCFF414OGC.bigWig")
        == "ENCFF414OGC.bigWig"
    )
    assert file_name("https://zenodo.org/records/1/files/expression_data.zip?download=1") == "expression_data.zip"


def test_source_kinds_map_to_local_paths():
    local = make_source("K562.hic", "hic", "data/k562.mcool", "res")
    assert local.path == "data/k562.mcool" and not local.is_url
    url = make_source("K562.dnase", "bigwig", "https://h/ENCFF1.bigWig", "res")
    assert url.path == "res/downloads/K562.dnase/ENCFF1.bigWig" and url.is_url
    member = make_source("genes.table", "gene_table", "https://h/a.zip#dir/genes.csv", "res")
    assert (member.location, member.member, member.path) == (
        "https://h/a.zip",
        "dir/genes.csv",
        "res/extracted/genes.table/genes.csv",
    )


def test_paper_config_downloads_every_source_of_both_cell_types(paper_config):
    keys = {s.key for s in configured_sources(paper_config)}
    for cell in ("K562", "GM12878"):
        assert {f"{cell}.dnase", f"{cell}.h3k27ac", f"{cell}.hic", f"{cell}.cage"} <= keys
    urls = {job.url for job in download_jobs(paper_config)}
    assert "https://www.encodeproject.org/files/ENCFF414OGC/@@download/ENCFF414OGC.bigWig" in urls
    assert "https://data.4dnucleome.org/files-processed/4DNFI1UEG1HD/@@download/4DNFI1UEG1HD.hic" in urls
    assert "EPCrisprBenchmark_combined_data.training_K562.GRCh38.tsv.gz" in {Path(u).name for u in urls}
    assert len(download_jobs(paper_config)) == 16  # 5 shared (the TSS GeneList) + 5 per cell type + the CRISPRi table
    assert {"genes.tss_gene_list", "K562.gene_list", "GM12878.gene_list"} <= keys
    [(archive, member)] = extractions(paper_config).values()
    assert archive.endswith("expression_data.zip") and member.endswith("_with_sequence_strand.csv")


def test_one_cell_type_run_needs_only_its_sources(paper_config):
    config = dict(paper_config, run_cell_types=["K562"])
    assert not any(s.key.startswith("GM12878") for s in configured_sources(config))


def test_download_jobs_carry_published_md5s(paper_config):
    config = {**paper_config, "downloads": {**paper_config["downloads"], "md5": {"K562.dnase": "a" * 32}}}
    jobs = {job.key: job for job in download_jobs(config)}
    assert jobs["K562.dnase"].md5 == "a" * 32 and jobs["K562.h3k27ac"].md5 is None
    config["downloads"]["md5"] = {"K562.dnasee": "a" * 32}
    with pytest.raises(ValueError, match=r"downloads.md5: \['K562.dnasee'\] are not source keys"):
        download_jobs(config)


def test_download_rules_are_local_one_per_file(repo, paper_config, tmp_path):
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings

    with SnakemakeApi() as api:
        workflow = api.workflow(
            ResourceSettings(),
            ConfigSettings(configfiles=[repo / "config/config.yaml"]),
            snakefile=repo / "Snakefile",
            workdir=tmp_path,
        )._workflow
        rules = {rule.name: rule for rule in workflow.rules if rule.name.startswith("download_")}
        local = workflow._localrules  # what a cluster executor keeps on the submitting machine
    assert sorted(rules) == sorted(f"download_{job.key.replace('.', '_')}" for job in download_jobs(paper_config))
    assert set(rules) | {"extract_member"} <= local
    assert sorted(str(f) for rule in rules.values() for f in rule.output) == sorted(
        job.path for job in download_jobs(paper_config)
    )
