"""The authors' weights evaluated on our store (checkpoints in their layout from test_authors_checkpoint)."""

import pytest
import torch
from test_authors_checkpoint import EXTRA, their_state

from seq2exp.models.authors_checkpoint import AuthorsCheckpointError, load_authors_checkpoint


def test_evaluation_on_a_store_feeds_raw_features_and_writes_the_predictions_table(tmp_path):
    import numpy as np
    import pandas as pd
    from test_training import make_store

    from seq2exp.cli import main
    from seq2exp.evaluation.authors import authors_predictions
    from seq2exp.training.dataset import GeneWindows

    make_store(tmp_path / "store")
    ckpt = tmp_path / "authors.ckpt"
    torch.save({"state_dict": their_state()}, ckpt)
    genes = str(tmp_path / "store" / "genes.tsv")
    table = authors_predictions(
        ckpt, str(tmp_path / "store"), "CELL", genes, str(tmp_path / "p.tsv"), EXTRA, batch_size=2, block_size=16
    )
    assert list(table["split"].unique()) == ["test"] and (table["source"] == "authors-weights").all()
    assert {"gene_id", "target", "prediction", "mask_ratio"} <= set(table.columns)
    # same numbers as our model on the store's items with the unscaled features, unstreamed
    model = load_authors_checkpoint(their_state(), EXTRA)
    windows = GeneWindows(str(tmp_path / "store"), "CELL")
    rows = [i for i, g in enumerate(windows.gene_ids) if g in set(table["gene_id"])]
    items = [windows[i] for i in rows]
    batch = {
        "dna": torch.eye(5)[torch.from_numpy(np.stack([it["dna"] for it in items])).long()][..., :4],
        "signals": torch.from_numpy(np.stack([it["signals"] for it in items])).float().transpose(1, 2),
        "blacklist": torch.from_numpy(np.stack([it["blacklist"] for it in items])),
        "features": torch.from_numpy(np.stack([it["features"] for it in items])).float(),
    }
    with torch.no_grad():
        expected = model(batch).prediction
    got = table.set_index("gene_id").loc[[windows.gene_ids[i] for i in rows], "prediction"].to_numpy()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
    main(
        [
            "authors-weights",
            "--checkpoint",
            str(ckpt),
            "--store",
            str(tmp_path / "store"),
            "--cell",
            "CELL",
            "--genes-table",
            genes,
            "--out",
            str(tmp_path / "all.tsv"),
            "--all-genes",
            "--central-region",
            "8",
        ]
    )
    assert len(pd.read_csv(tmp_path / "all.tsv", sep="\t")) == 12


def test_evaluation_refuses_a_store_whose_hic_channel_is_abcs(tmp_path):
    import h5py
    from test_training import make_store

    from seq2exp.evaluation.authors import authors_predictions
    from seq2exp.files import write_checksum

    make_store(tmp_path / "store")
    cell = tmp_path / "store" / "CELL.h5"
    with h5py.File(cell, "a") as handle:
        handle.attrs["hic_recipe"] = "abc"
    write_checksum(str(cell))
    with pytest.raises(AuthorsCheckpointError, match=r"CELL\.h5: its Hi-C channel was made by the 'abc' recipe"):
        authors_predictions(
            their_state(),
            str(tmp_path / "store"),
            "CELL",
            str(tmp_path / "store" / "genes.tsv"),
            options=EXTRA,
            block_size=16,
        )


def test_the_authors_weights_rule_predicts_the_test_genes_of_the_cell_types_store_file(tmp_path):
    import pandas as pd
    from test_training import make_store

    from seq2exp.evaluation.authors import authors_predictions, authors_weights

    make_store(tmp_path / "store")
    ckpt = tmp_path / "authors.ckpt"
    torch.save({"state_dict": their_state(), "hyper_parameters": {"model": {"config": {"center_len": 8}}}}, ckpt)
    genes = str(tmp_path / "store" / "genes.tsv")
    config = {"resources": {"training": {"gpu": 0}}}
    authors_weights(config, str(ckpt), str(tmp_path / "store" / "CELL.h5"), "CELL", genes, str(tmp_path / "p.tsv"))
    written = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    expected = authors_predictions(ckpt, str(tmp_path / "store"), "CELL", genes, options=EXTRA, block_size=16)
    assert list(written["gene_id"]) == list(expected["gene_id"]) and (written["split"] == "test").all()
    assert written["prediction"].to_numpy() == pytest.approx(expected["prediction"].to_numpy(), rel=1e-4, abs=1e-5)
