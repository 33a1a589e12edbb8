"""CRISPRi pairs: reading the ENCODE benchmark, joining pairs to our genes and windows, scoring, metrics."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.evaluation import crispri
from seq2exp.evaluation.discovery import average_precision
from seq2exp.inputs.crispri import read_crispri

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
BENCHMARK = REAL / "crispr/EPCrisprBenchmark_combined_data.training_K562.GRCh38.tsv.gz"
needs_real = pytest.mark.skipif(not BENCHMARK.is_file(), reason=f"real test files not found at {REAL}")


@needs_real
def test_benchmark_reads_with_typed_columns():
    pairs = read_crispri(str(BENCHMARK))
    assert len(pairs) == 10356 and pairs["Regulated"].sum() == 471
    assert pairs["Regulated"].dtype == bool and pairs["chromStart"].dtype == np.int64


def test_precision_at_recall_by_hand():
    labels = [1, 0, 1, 1, 0, 0, 1, 0]
    scores = [8, 7, 6, 5, 4, 3, 2, 1]
    # recall 0.75 is first reached at rank 4 (3 of 4 positives): precision 3/4
    assert crispri.precision_at_recall(labels, scores) == pytest.approx(3 / 4)
    assert crispri.precision_at_recall(labels, scores, recall=1.0) == pytest.approx(4 / 7)
    # tied scores enter together: ranks 2-4 share one threshold
    assert crispri.precision_at_recall(labels, [8, 5, 5, 5, 4, 3, 2, 1]) == pytest.approx(3 / 4)
    assert crispri.precision_at_recall([1, 0, 1, 0], [1, 1, 1, 1]) == pytest.approx(0.5)
    assert np.isnan(crispri.precision_at_recall([0, 0], [1, 2]))


def pair(chrom, start, end, symbol, ensembl, regulated=True, valid=True, cell="K562"):
    return dict(
        chrom=chrom,
        chromStart=start,
        chromEnd=end,
        measuredGeneSymbol=symbol,
        measuredGeneEnsemblId=ensembl,
        Regulated=regulated,
        ValidConnection=valid,
        CellType=cell,
    )


GENES = pd.DataFrame(
    {
        "gene_id": ["ENSG1", "ENSG2", "ENSG3", "ENSG4"],
        "gene_name": ["A", "B", "DUP", "DUP"],
        "chrom": ["chr1", "chr1", "chr2", "chr2"],
        "tss": [1000, 5000, 1000, 3000],
        "strand": ["+", "-", "+", "+"],
    }
)


def test_pairs_join_our_genes_by_id_then_symbol_and_keep_elements_inside_the_window():
    pairs = pd.DataFrame(
        [
            pair("chr1", 900, 950, "A-AS", "ENSG1.7"),  # id with a version suffix (symbol not ours)
            pair("chr1", 4000, 4100, "B", "ENSG999"),  # unknown id, known symbol
            pair("chr1", 100, 300, "A", "ENSG1"),  # inside the window [0, 2000)
            pair("chr1", 1900, 2100, "A", "ENSG1"),  # crosses the window's end: dropped
            pair("chr2", 900, 950, "DUP", "ENSG999"),  # symbol of two of our genes: dropped
            pair("chr1", 900, 950, "Z", "ENSG999"),  # not our gene
            pair("1", 950, 980, "A", "ENSG1"),  # chromosome alias
            pair("chr2", 900, 950, "A", "ENSG1"),  # our gene, other chromosome: dropped
        ]
    )
    located = crispri.pairs_in_windows(pairs, GENES, half_width=1000, reverse_minus=False)
    assert list(located.index) == [0, 1, 2, 6]
    assert list(located["gene_id"]) == ["ENSG1", "ENSG2", "ENSG1", "ENSG1"]
    assert list(zip(located["i"], located["j"])) == [(900, 950), (0, 100), (100, 300), (950, 980)]
    assert list(located["distance_bp"]) == [75.0, 950.0, 800.0, 35.0]


def test_reversed_minus_strand_windows_map_elements_onto_the_stored_orientation():
    pairs = pd.DataFrame([pair("chr1", 4000, 4100, "B", "ENSG2")])
    located = crispri.pairs_in_windows(pairs, GENES, half_width=1000, reverse_minus=True)
    # window [4000, 6000) stored from 5999 down: genome 4000-4100 is the last 100 bases
    assert (located["i"].iloc[0], located["j"].iloc[0]) == (1900, 2000)


def test_scores_are_track_means_over_each_element_and_distance_ranks_nearer_higher():
    pairs = pd.DataFrame(
        [
            pair("chr1", 900, 910, "A", "ENSG1"),
            pair("chr1", 1500, 1520, "A", "ENSG1", False),
            pair("chr1", 4000, 4010, "B", "ENSG2", valid=False),
        ]
    )
    located = crispri.pairs_in_windows(pairs, GENES, half_width=1000, reverse_minus=False)
    ramp = np.arange(2000, dtype=float)
    tracks = {"ENSG1": {"mask": ramp}, "ENSG2": {"mask": np.ones(2000)}}
    scored = crispri.score_pairs(located, tracks.__getitem__, ["mask"])
    assert list(scored["mask"]) == [np.mean(ramp[900:910]), np.mean(ramp[1500:1520]), 1.0]
    assert list(scored["distance"]) == [-95.0, -510.0, -995.0]
    table = crispri.crispri_table({"K562": scored}, ["mask", "distance"]).set_index(["pairs", "method"])
    assert table.loc[("all", "mask"), "n_pairs"] == 3 and table.loc[("ValidConnection", "mask"), "n_pairs"] == 2
    assert table.loc[("all", "mask"), "n_regulated"] == 2
    assert table.loc[("all", "distance"), "auprc"] == pytest.approx(average_precision([1, 0, 1], [-95, -510, -995]))
    assert table.loc[("ValidConnection", "distance"), "auprc"] == pytest.approx(1.0)
    markdown = crispri.render_crispri_markdown(table.reset_index())
    assert "| K562 | ValidConnection | distance | 2 | 1 | 1.0000 | 1.0000 | 0.5000 |" in markdown


def test_bad_tables_name_the_file_and_column(tmp_path):
    good = pd.DataFrame([pair("chr1", 1, 2, "A", "ENSG1")]).replace({True: "TRUE", False: "FALSE"})
    path = tmp_path / "pairs.tsv"
    good.drop(columns="Regulated").to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"pairs.tsv: missing column\(s\) \['Regulated'\]"):
        read_crispri(str(path))
    good.assign(Regulated="maybe").to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match="pairs.tsv: column Regulated must be TRUE or FALSE; row 1 has 'maybe'"):
        read_crispri(str(path))
    good.assign(chromEnd=1).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match="end <= start"):
        read_crispri(str(path))


def test_the_crispri_rule_names_the_run_cell_types_when_the_table_has_none_of_them(tmp_path):
    path = tmp_path / "pairs.tsv"
    pd.DataFrame([pair("chr1", 1, 2, "A", "ENSG1", cell="HepG2")]).to_csv(path, sep="\t", index=False)
    config = {"run_cell_types": ["K562"], "window": {"half_width": 1000, "reverse_complement_minus_strand": False}}
    inputs = {"table": str(path), "genes": str(tmp_path / "genes.tsv")}
    with pytest.raises(ValueError, match=r"no pairs of the run's cell types \['K562'\]; .* holds \['HepG2'\]"):
        crispri.crispri(config, inputs, str(tmp_path / "crispri.tsv"), str(tmp_path / "crispri.md"))
    assert not (tmp_path / "crispri.tsv").exists()
