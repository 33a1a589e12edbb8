"""Test the rule `result_tables`: Table 1 over the genes with an active promoter, and its paired differences."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.evaluation.metrics import regression_metrics
from seq2exp.evaluation.tables import promoter_active_genes, result_tables


def test_a_promoter_is_active_where_a_peak_overlaps_tss_plus_minus_half_width():
    genes = pd.DataFrame(
        {
            "gene_id": ["edge_left", "edge_right", "inside", "covered", "elsewhere", "far"],
            "chrom": ["chr1", "chr1", "chr1", "chr1", "chr2", "chr1"],
            "tss": [1000, 2000, 3000, 9000, 1000, 20000],
        }
    )
    # Promoters span [tss - 50, tss + 50): a peak ending at 950 or starting at 2050 misses them; a long
    # early peak covers the promoter at 9000 although a later, shorter peak starts before it.
    peaks = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr1", "chr1", "chr1"],
            "start": [900, 2050, 3040, 5000, 8000],
            "end": [950, 2100, 3060, 9960, 8100],
        }
    )
    assert promoter_active_genes(genes, peaks, half_width=50) == {"inside", "covered"}
    assert promoter_active_genes(genes, peaks, half_width=51) == {"edge_left", "edge_right", "inside", "covered"}


def test_table1_scores_the_promoter_active_test_genes_apart_and_opens_with_paired_differences(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    genes = pd.DataFrame(
        {
            "gene_id": [f"G{i}" for i in range(n)],
            "chrom": "chr22",
            "tss": 1000 * np.arange(1, n + 1),
            "strand": "+",
            "split": ["train"] * 10 + ["test"] * 30,
        }
    )
    genes.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    active = [f"G{i}" for i in range(5, 40, 2)]  # 3 training and 15 test genes
    peaks = genes[genes["gene_id"].isin(active)].assign(start=lambda g: g["tss"] - 10, end=lambda g: g["tss"] + 10)
    with open(tmp_path / "peaks.narrowPeak", "w") as handle:
        for row in peaks.itertuples():
            handle.write(f"chr22\t{row.start}\t{row.end}\tp\t100\t.\t5.0\t-1\t-1\t10\n")
    target = rng.normal(size=n)
    paths = {}
    for model, noise in (("seq2exp-soft", 0.3), ("caduceus", 0.9)):
        table = genes[["gene_id", "chrom", "split"]].assign(
            target=target, prediction=target + noise * rng.normal(size=n)
        )
        paths["K562", model] = str(tmp_path / f"{model}.tsv")
        table.to_csv(paths["K562", model], sep="\t", index=False)
    out = {
        name: str(tmp_path / name)
        for name in (
            "table1",
            "table1_promoter_active",
            "table1_md",
            "table2",
            "table2_md",
            "comparison",
            "comparison_md",
        )
    }
    config = {
        "evaluation": {"bootstrap": 50, "seed": 0},
        "split": {"test": ["chr22"]},
        "features": {"promoter_half_width": 50},
    }
    result_tables(config, paths, out, str(tmp_path / "genes.tsv"), {"K562": str(tmp_path / "peaks.narrowPeak")})

    soft = pd.read_csv(paths["K562", "seq2exp-soft"], sep="\t")
    expected = soft[soft["gene_id"].isin(active) & (soft["split"] == "test")]
    table = pd.read_csv(out["table1_promoter_active"], sep="\t").set_index(["model", "source"])
    row = table.loc[("seq2exp-soft", "ours")]
    assert row["n_genes"] == 15
    assert row["pearson"] == pytest.approx(regression_metrics(expected["target"], expected["prediction"])["pearson"])
    assert (
        pd.read_csv(out["table1"], sep="\t").set_index(["model", "source"]).loc[("caduceus", "ours"), "n_genes"] == 30
    )
    comparison = pd.read_csv(out["comparison"], sep="\t").set_index(["genes", "metric"])
    assert comparison.loc[("promoter active", "pearson"), "n_genes"] == 15
    text = Path(out["table1_md"]).read_text()
    assert text.index("## Paired differences to seq2exp-soft") < text.index("## Ours")
    paired_active = text.split("Test genes with an active promoter")[1].split("## Ours")[0]
    difference = comparison.loc[("promoter active", "pearson"), "difference"]
    assert f"| caduceus | {difference:+.4f} [" in paired_active and "K562 n = 15" in paired_active
    assert "## Ours, genes with an active promoter" in text
