"""The store's reader: joins a cell type to the shared sequence store, opens lazily, pickles."""

import pickle

import numpy as np
import pytest
from test_store import build

from seq2exp.features.store import build_sequence_store
from seq2exp.training.dataset import GeneWindows


def test_a_cell_store_with_fewer_genes_joins_the_sequence_store_on_gene_id(
    tiny_demo, tiny_demo_paths, fasta_path, tmp_path
):
    """A cell type holds the genes its inputs cover, in its own order: each item's DNA and
    blacklist are its own gene's, whatever its row in the shared sequence store."""
    full, _ = build(tmp_path / "all", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False)
    picked = [7, 2, 5]
    subset, genes = build(
        tmp_path / "some", tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False, cell_genes=picked
    )
    assert len(subset) == 3 and list(subset.gene_ids) == list(genes["gene_id"])
    for i, row in enumerate(picked):
        assert subset[i]["gene_id"] == full[row]["gene_id"]
        for name in ("dna", "blacklist", "signals", "peaks"):
            np.testing.assert_array_equal(subset[i][name], full[row][name])


def test_a_cell_gene_missing_from_the_sequence_store_is_an_error(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    build(tmp_path, tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False, genes=tiny_demo.genes.head(6))
    build_sequence_store(
        str(tmp_path / "sequence.h5"),
        tiny_demo.genes.head(4),
        fasta_path,
        tiny_demo.blacklist[["chrom", "start", "end"]],
        tiny_demo.spec.window_half_width,
        False,
    )
    with pytest.raises(ValueError, match=r"K562.h5: 2 genes \(e.g. ENSG9\d+\) are not in .*sequence.h5; rebuild"):
        GeneWindows(str(tmp_path), tiny_demo.cell_types[0])


def test_dataset_opens_lazily_and_pickles(tiny_demo, tiny_demo_paths, fasta_path, tmp_path):
    data, _ = build(tmp_path, tiny_demo, tiny_demo_paths, fasta_path, reverse_minus=False)
    assert data._datasets.handles is None
    first = data[0]
    assert data._datasets.handles is not None
    clone = pickle.loads(pickle.dumps(data))
    assert clone._datasets.handles is None
    np.testing.assert_array_equal(clone[0]["dna"], first["dna"])
    subset = GeneWindows(str(tmp_path), tiny_demo.cell_types[0], indices=[3, 1])
    assert len(subset) == 2 and subset[0]["gene_id"] == data[3]["gene_id"]
