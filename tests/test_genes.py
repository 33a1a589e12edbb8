"""The gene table (seq2exp.features.genes; hand-computed)."""

from pathlib import Path

import pandas as pd
import pytest

from seq2exp.features.genes import (
    GENE_LIST_TSS_COLUMNS,
    centre_on_gene_list,
    common_chromosomes,
    genes_from_table,
    read_columns_table,
    read_gene_list,
    read_gene_table,
    select_genes,
    window_qc,
)


def test_gene_selection_drops_with_reasons():
    raw = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c", "d", "e", "a", "f"],
            "gene_name": list("ABCDEAF"),
            "chrom": ["1", "chr2", "chrUn", "chr1", "chr1", "chr1", "chr3"],
            "tss": [10, 5, 1, 1000, 20, 10, 3],
            "strand": ["+", "-", "+", "+", "?", "+", "+"],
        }
    )
    sizes = {"chr1": 100, "chr2": 50, "chr3": 50}
    kept, report = common_chromosomes(sizes, {"K562.hic (x.hic)": ["1", "2"]})
    assert kept == ["chr1", "chr2"]
    assert report.set_index("chrom").loc["chr3", "reason"] == "absent from K562.hic (x.hic)"
    genes, dropped = select_genes(raw, sizes, kept, {"valid": ["chr2"], "test": ["chrX"]})
    assert list(genes["gene_id"]) == ["a", "b"]
    assert list(genes["chrom"]) == ["chr1", "chr2"] and list(genes["split"]) == ["train", "valid"]
    reasons = dict(zip(dropped["gene_id"], dropped["reason"]))
    assert reasons == {
        "a": "duplicate gene id",
        "c": "chromosome chrUn not in the genome FASTA",
        "f": "chromosome chr3 not in every input",
        "d": "TSS outside the assembly",
        "e": "strand not + or -",
    }
    assert (dropped["gene_id"] == "a").sum() == 1


def test_a_gene_id_listed_at_two_places_is_an_error_naming_both_rows(tmp_path):
    path = tmp_path / "genes.csv"
    path.write_text("ENSID,name,chrom,TSS,strand\ng1,A,chr22,500,+\ng2,B,chr1,99,+\ng1,A,chr1,1000,+\ng2,B,chr1,99,+\n")
    columns = {"gene_id": "ENSID", "gene_name": "name", "chrom": "chrom", "tss": "TSS", "strand": "strand"}
    settings = {"columns": columns, "tss_one_based": False}
    with pytest.raises(
        ValueError,
        match=rf"{path}: 1 gene id\(s\) listed at different places .*g1 \(row 1: chr22, "
        r"TSS 500, strand \+ vs row 3: chr1, TSS 1000, strand \+\)",
    ):
        read_gene_table(str(path), settings)
    path.write_text("ENSID,name,chrom,TSS,strand\ng2,B,chr1,99,+\ng2,B,chr1,99,+\ng2,B,chr1,99,-\n")
    with pytest.raises(ValueError, match=r"g2 \(row 1: chr1, TSS 99, strand \+ vs row 3: chr1, TSS 99, strand -\)"):
        read_gene_table(str(path), settings)
    path.write_text("ENSID,name,chrom,TSS,strand\ng2,B,chr1,99,+\ng2,B,chr1,99,+\n")  # an exact repeat: dropped later
    assert list(read_gene_table(str(path), settings)["gene_id"]) == ["g2", "g2"]


def test_one_based_tss_and_missing_columns(tmp_path):
    path = tmp_path / "genes.csv"
    pd.DataFrame({"ENSID": ["g"], "Gene name": ["G"], "chrom": ["1"], "TSS_xpresso": [11], "strand": ["+"]}).to_csv(
        path, index=False
    )
    columns = {"gene_id": "ENSID", "gene_name": "Gene name", "chrom": "chrom", "tss": "TSS_xpresso", "strand": "strand"}
    assert read_columns_table(str(path), columns, tss_one_based=True)["tss"].tolist() == [10]
    assert read_columns_table(str(path), columns, tss_one_based=False)["tss"].tolist() == [11]
    with pytest.raises(ValueError, match=r"genes.csv: missing column\(s\) \['TSS'\]"):
        read_columns_table(str(path), {**columns, "tss": "TSS"}, True)


def test_window_qc_counts_n_padding_and_blacklist(tmp_path):
    path = tmp_path / "genome.fa"
    path.write_text(">chr1\nNNNNACGTACGTACGTACGT\n")
    genes = pd.DataFrame({"gene_id": ["g"], "chrom": ["chr1"], "tss": [2]})
    blacklist = pd.DataFrame({"chrom": ["chr1"], "start": [4], "end": [6]})
    qc = window_qc(genes, str(path), blacklist, half_width=4)  # [-2, 6)
    assert qc["frac_n"].iloc[0] == pytest.approx(6 / 8)  # 2 padding + 4 N
    assert qc["frac_blacklist"].iloc[0] == pytest.approx(2 / 8)


# --- ABC's GeneList: the authors' TSS and promoter activity (real K562 chr22 list) -----------

REAL_GENE_LIST = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "abc_k562_chr22" / "GeneList.txt"
needs_real = pytest.mark.skipif(not REAL_GENE_LIST.exists(), reason=f"real test files not found at {REAL_GENE_LIST}")


@needs_real
def test_windows_centre_on_the_gene_lists_tss_and_a_one_based_mix_up_is_reported(caplog):
    raw = pd.read_csv(REAL_GENE_LIST, sep="\t").head(40)
    gene_list = read_gene_list(str(REAL_GENE_LIST), "name", GENE_LIST_TSS_COLUMNS)
    with pytest.raises(ValueError, match="listed twice in column 'Ensembl_ID', e.g. ENSG00000273032"):
        read_gene_list(str(REAL_GENE_LIST), "Ensembl_ID", GENE_LIST_TSS_COLUMNS)  # DGCR5, DGCR9, DGCR10
    # a table whose TSS column counts from 1 (as Xpresso's): ABC's tss is the 0-based base on +
    table = pd.DataFrame(
        {
            "id": [*raw["name"], "ENSG_ABSENT"],
            "name": "n",
            "chrom": "chr22",
            "TSS": [*(raw["tss"] + 1), 5],
            "strand": [*raw["strand"], "+"],
        }
    )
    columns = {"gene_id": "id", "gene_name": "name", "chrom": "chrom", "tss": "TSS", "strand": "strand"}
    for one_based, warned in ((True, False), (False, True)):
        caplog.clear()
        genes = genes_from_table(table, columns, one_based, "t.csv")
        with caplog.at_level("INFO", logger="seq2exp.features.genes"):
            centred, dropped = centre_on_gene_list(genes, gene_list, str(REAL_GENE_LIST))
        assert centred["tss"].tolist() == raw["tss"].tolist()  # used as is, both strands
        assert dropped["gene_id"].tolist() == ["ENSG_ABSENT"]
        assert "not in genes.tss_gene_list" in dropped["reason"].iloc[0]
        assert ("genes.tss_one_based looks wrong" in caplog.text) == warned
    moved = genes_from_table(table.assign(chrom="chr21"), columns, True, "t.csv")
    with pytest.raises(ValueError, match=r"GeneList\.txt: 40 gene\(s\) on another chromosome"):
        centre_on_gene_list(moved, gene_list, str(REAL_GENE_LIST))
