"""The per-gene store: values equal their sources, orientation follows the config."""

import os

import h5py
import numpy as np
import pandas as pd
import pyBigWig
import pytest

from seq2exp.features.genome import reverse_complement_codes, sequence_codes
from seq2exp.features.store import build_cell_store, build_sequence_store, rows_in_order, store_gene_table
from seq2exp.training.dataset import GeneWindows

FEATURES = ["f1", "f2"]


def hic_ramp(half_width):
    """A stand-in Hi-C channel that identifies the gene: its TSS / 1e4 everywhere."""
    return lambda gene: np.full(2 * half_width, gene.tss / 1e4, dtype=np.float32)


def build(tmp_path, demo, paths, fasta_path, reverse_minus, genes=None, cell_genes=None, workers=1):
    genes = demo.genes if genes is None else genes
    genes = genes.assign(target=np.arange(len(genes), dtype=float), f1=1.0, f2=2.0)
    hw = demo.spec.window_half_width
    blacklist = demo.blacklist[["chrom", "start", "end"]]
    peaks = demo.elements.loc[demo.elements["kind"] == "enhancer", ["chrom", "start", "end"]]
    build_sequence_store(str(tmp_path / "sequence.h5"), genes, fasta_path, blacklist, hw, reverse_minus, workers)
    cell = demo.cell_types[0]
    genes = genes if cell_genes is None else genes.loc[cell_genes]
    build_cell_store(
        str(tmp_path / f"{cell}.h5"),
        genes,
        FEATURES,
        paths.cell_types[cell]["dnase"],
        paths.cell_types[cell]["h3k27ac"],
        hic_ramp(hw),
        peaks,
        hw,
        reverse_minus,
        workers,
    )
    return GeneWindows(str(tmp_path), cell), genes


def test_store_holds_the_source_values(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    data, genes = build(tmp_path, tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False)
    cell, hw = tiny_demo.cell_types[0], tiny_demo.spec.window_half_width
    assert len(data) == len(genes)
    enhancers = tiny_demo.elements[
        (tiny_demo.elements["kind"] == "enhancer") & (tiny_demo.elements[f"activity_{cell}"] > 0)
    ]
    checked = 0
    for i, g in enumerate(genes.itertuples()):
        item = data[i]
        assert item["gene_id"] == g.gene_id and item["target"] == i
        np.testing.assert_array_equal(item["features"], [1.0, 2.0])
        start = g.tss - hw
        expected_dna = np.full(2 * hw, 4, dtype=np.uint8)
        seq = tiny_demo.sequence[g.chrom]
        lo, hi = max(start, 0), min(g.tss + hw, len(seq))
        expected_dna[lo - start : hi - start] = sequence_codes(seq[lo:hi])
        np.testing.assert_array_equal(item["dna"], expected_dna)
        assert item["signals"].shape == (3, 2 * hw)
        np.testing.assert_allclose(item["signals"][2], g.tss / 1e4, rtol=1e-3)
        for e in enhancers[enhancers["chrom"] == g.chrom].itertuples():
            if not (start <= e.start and e.end <= g.tss + hw):
                continue
            bw = pyBigWig.open(tiny_demo_paths.cell_types[cell]["dnase"])
            truth = bw.values(e.chrom, e.start, e.end, numpy=True)
            stored = item["signals"][1, e.start - start : e.end - start]
            np.testing.assert_allclose(stored, truth, rtol=1e-3)
            assert item["peaks"][e.start - start : e.end - start].all()
            checked += 1
    assert checked >= 10


def test_rows_are_computed_in_other_processes_and_kept_in_order():
    rows = list(rows_in_order(lambda i: (i, os.getpid()), 50, workers=2, batch=4))
    assert [i for i, _ in rows] == list(range(50))
    assert os.getpid() not in {pid for _, pid in rows}


def test_a_build_sharded_over_processes_writes_the_same_store(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    assert len(tiny_demo.genes) > 16  # more than one batch of rows_in_order per worker
    one, _ = build(tmp_path / "one", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=True)
    sharded, _ = build(tmp_path / "two", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=True, workers=2)
    for name in ("sequence.h5", f"{tiny_demo.cell_types[0]}.h5"):
        with h5py.File(tmp_path / "one" / name) as a, h5py.File(tmp_path / "two" / name) as b:
            assert set(a) == set(b)
            for key in a:
                np.testing.assert_array_equal(a[key][:], b[key][:], err_msg=f"{name}:{key}")


def test_minus_strand_windows_follow_the_config(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    genes = tiny_demo.genes
    minus = int(np.flatnonzero(genes["strand"] == "-")[0])
    forward, _ = build(tmp_path / "fwd", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False)
    flipped, _ = build(tmp_path / "rc", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=True)
    a, b = forward[minus], flipped[minus]
    np.testing.assert_array_equal(b["dna"], reverse_complement_codes(a["dna"]))
    np.testing.assert_array_equal(b["signals"], a["signals"][:, ::-1])
    np.testing.assert_array_equal(b["peaks"], a["peaks"][::-1])
    np.testing.assert_array_equal(b["blacklist"], a["blacklist"][::-1])
    plus = int(np.flatnonzero(genes["strand"] == "+")[0])
    np.testing.assert_array_equal(forward[plus]["dna"], flipped[plus]["dna"])


def test_failed_build_leaves_no_store(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    genes = tiny_demo.genes.copy()
    genes.loc[0, "chrom"] = "chr9"  # not in the bigWigs
    with pytest.raises(KeyError, match="no chromosome chr9"):
        build_cell_store(
            str(tmp_path / "K562.h5"),
            genes.assign(target=0.0, f1=0.0, f2=0.0),
            FEATURES,
            tiny_demo_paths.cell_types["K562"]["dnase"],
            tiny_demo_paths.cell_types["K562"]["h3k27ac"],
            hic_ramp(1000),
            pd.DataFrame(columns=["chrom", "start", "end"]),
            1000,
            False,
        )
    assert list(tmp_path.iterdir()) == []


def test_the_gene_table_gathers_each_cell_types_columns_under_its_name(tmp_path):
    """The rule's per-cell inputs come in `run_cell_types` order: each cell type's values carry its
    name, and a list that does not match the cell types is an error, not a shorter table."""
    pd.DataFrame({"gene_id": ["a", "b"], "chrom": "chr1"}).to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    tables, peaks = [], []
    for cell, value in (("K562", 1.0), ("GM12878", 2.0)):
        table = pd.DataFrame({"gene_id": ["b", "a"], "target": value, "promoter_activity": value + 10})
        table.assign(frac_hic_missing=0.0).to_csv(tmp_path / f"{cell}.tsv", sep="\t", index=False)
        pd.DataFrame({"gene_id": ["a"], "mask_ratio": value / 10}).to_csv(
            tmp_path / f"{cell}.peaks.tsv", sep="\t", index=False
        )
        tables.append(str(tmp_path / f"{cell}.tsv"))
        peaks.append(str(tmp_path / f"{cell}.peaks.tsv"))
    out = tmp_path / "store" / "genes.tsv"
    config = {"run_cell_types": ["K562", "GM12878"]}
    store_gene_table(config, str(tmp_path / "genes.tsv"), tables, peaks, str(out))
    table = pd.read_csv(out, sep="\t")
    assert list(table["gene_id"]) == ["a", "b"] and list(table["chrom"]) == ["chr1", "chr1"]
    assert list(table["target_K562"]) == [1.0, 1.0] and list(table["promoter_activity_GM12878"]) == [12.0, 12.0]
    assert table["peak_mask_ratio_GM12878"].tolist()[0] == 0.2 and np.isnan(table["peak_mask_ratio_K562"][1])
    with pytest.raises(ValueError, match=r"run_cell_types \['K562', 'GM12878'\]: got 1 cell tables"):
        store_gene_table(config, str(tmp_path / "genes.tsv"), tables[:1], peaks[:1], str(tmp_path / "other.tsv"))
    assert not (tmp_path / "other.tsv").exists()
