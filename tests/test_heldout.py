"""Held-out genes are never lost silently: split names, inputs lacking a held-out chromosome, counts."""

import copy
import logging

import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.features.genes import build_gene_table, cell_gene_table
from seq2exp.files import write_tsv
from seq2exp.inputs.unpack import prepare_genome

ALL_CHROMS = ["chr1", "chr2", "chr3", "chr21", "chr22", "chrX"]


@pytest.fixture(scope="module")
def fasta(tiny_demo_paths, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("genome") / "genome.fa")
    prepare_genome(tiny_demo_paths.fasta, path)
    return path


@pytest.fixture(scope="module")
def config(repo):
    return validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")


@pytest.fixture(scope="module")
def shared_genes(config, tiny_demo_paths, fasta, tmp_path_factory):
    """The shared gene table (genome and annotation only), as the gene_table rule writes it."""
    genes, _, _ = build_gene_table(
        config, tiny_demo_paths.gene_table, tiny_demo_paths.mrna_features, fasta, tiny_demo_paths.blacklist
    )
    path = str(tmp_path_factory.mktemp("genes") / "genes.tsv")
    write_tsv(genes, path)
    return path


def gene_table(config, paths, fasta, **split):
    config = copy.deepcopy(config)
    config["split"].update(split)
    return build_gene_table(config, paths.gene_table, paths.mrna_features, fasta, paths.blacklist)


def cell_genes(config, genes_path, fasta, inputs, allow_missing=False):
    config = copy.deepcopy(config)
    config["split"].update(allow_missing_heldout=allow_missing)
    return cell_gene_table(config, genes_path, fasta, inputs)


def test_every_gene_of_the_tiny_demo_is_kept(config, tiny_demo, tiny_demo_paths, fasta):
    genes, dropped, _ = gene_table(config, tiny_demo_paths, fasta)
    assert len(genes) == len(tiny_demo.genes) and dropped.empty


def test_split_chromosome_not_in_the_genome_is_an_error(config, tiny_demo_paths, fasta):
    with pytest.raises(ValueError, match=rf"split.test: \['chrx'\] not in {fasta}"):
        gene_table(config, tiny_demo_paths, fasta, test=["chr22", "chrx"])


def test_split_names_follow_the_alias_rule(config, tiny_demo_paths, fasta):
    genes, _, _ = gene_table(config, tiny_demo_paths, fasta, valid=["3", "21"], test=["22", "X"])
    assert genes.groupby("split")["chrom"].unique().map(sorted).to_dict() == {
        "train": ["chr1", "chr2"],
        "valid": ["chr21", "chr3"],
        "test": ["chr22", "chrX"],
    }


def test_input_lacking_a_held_out_chromosome_is_named(config, shared_genes, fasta):
    inputs = {"K562.h3k27ac (h.bw)": ALL_CHROMS, "K562.dnase (k.bw)": [c for c in ALL_CHROMS if c != "chr22"]}
    with pytest.raises(
        ValueError,
        match=r"K562.dnase \(k.bw\) lacks \['chr22'\] of split.test"
        r".*split.allow_missing_heldout",
    ):
        cell_genes(config, shared_genes, fasta, inputs)


def test_a_cell_type_keeps_every_gene_its_inputs_cover(config, tiny_demo, shared_genes, fasta):
    genes, chromosomes = cell_genes(config, shared_genes, fasta, {"K562.dnase (k.bw)": ALL_CHROMS})
    assert len(genes) == len(tiny_demo.genes) and chromosomes["processed"].all()


def test_allowed_missing_held_out_chromosome_reports_the_genes_lost(config, tiny_demo, shared_genes, fasta, caplog):
    inputs = {"K562.dnase (k.bw)": [c for c in ALL_CHROMS if c != "chr22"]}
    with caplog.at_level(logging.INFO, logger="seq2exp.features.genes"):
        genes, chromosomes = cell_genes(config, shared_genes, fasta, inputs, allow_missing=True)
    on_chr22 = int((tiny_demo.genes["chrom"] == "chr22").sum())
    assert on_chr22 > 0 and "chr22" not in set(genes["chrom"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"split.test: {on_chr22} genes lost (chr22 absent from K562.dnase (k.bw))" in warnings
    total = len(tiny_demo.genes)
    test_total = int(tiny_demo.genes["chrom"].isin(["chr22", "chrX"]).sum())
    assert (
        f"test {test_total - on_chr22} of {test_total}" in caplog.text
        and f"of {total} genes in {shared_genes}" in caplog.text
    )
    table = chromosomes.set_index("chrom")
    assert table.loc["chr22", ["split", "genes_in_table", "genes_kept"]].tolist() == ["test", on_chr22, 0]
    assert table["genes_in_table"].sum() == total and table["genes_kept"].sum() == len(genes)
    counts = genes["chrom"].value_counts()
    assert table["genes_kept"].to_dict() == {c: int(counts.get(c, 0)) for c in ALL_CHROMS}


def test_a_training_chromosome_an_input_lacks_is_a_warning_naming_it_and_the_input(
    config, tiny_demo, shared_genes, fasta, caplog
):
    inputs = {"K562.h3k27ac (h.bw)": ALL_CHROMS, "K562.dnase (k.bw)": [c for c in ALL_CHROMS if c != "chr2"]}
    genes, _ = cell_genes(config, shared_genes, fasta, inputs)
    on_chr2 = int((tiny_demo.genes["chrom"] == "chr2").sum())
    assert on_chr2 > 0 and "chr2" not in set(genes["chrom"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"split.train: {on_chr2} genes lost (chr2 absent from K562.dnase (k.bw))" in warnings


def test_a_split_left_empty_is_an_error(config, shared_genes, fasta):
    inputs = {"K562.hic (k.hic)": ["chr1", "chr2", "chr22", "chrX"]}
    with pytest.raises(
        ValueError,
        match=r"split.valid: no gene left \(4 genes on chr3, chr21 in the table; "
        r"dropped: .*not in every input",
    ):
        cell_genes(config, shared_genes, fasta, inputs, allow_missing=True)


def test_a_table_left_without_genes_gives_the_reasons_in_the_error(config, tiny_demo, tiny_demo_paths, fasta):
    config = copy.deepcopy(config)
    config["genes"]["max_n_fraction"] = -1.0  # every window is "mostly N"
    with pytest.raises(
        ValueError,
        match=rf"no gene left after filtering; dropped: window more than -100% N or "
        rf"padding \({len(tiny_demo.genes)}\)$",
    ):
        build_gene_table(
            config, tiny_demo_paths.gene_table, tiny_demo_paths.mrna_features, fasta, tiny_demo_paths.blacklist
        )


def test_without_mrna_features_every_gene_is_kept(config, tiny_demo, tiny_demo_paths, fasta):
    config = copy.deepcopy(config)
    config["genes"].update(mrna_features=None, mrna_feature_columns=[])
    genes, dropped, _ = build_gene_table(config, tiny_demo_paths.gene_table, None, fasta, tiny_demo_paths.blacklist)
    assert len(genes) == len(tiny_demo.genes) and dropped.empty
    assert "UTR5GC" not in genes.columns
