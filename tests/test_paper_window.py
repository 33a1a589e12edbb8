"""The paper's lengths end to end, in seconds: a few demo genes at 200 kb windows (2 kb central and
pooled regions, 5 kb Hi-C, config/rehearsal.yaml) through the functions the rules call, the store,
a training step of a small model and its predictions and masks. The other end-to-end tests run the demo's
2 kb windows, where a length or a central slice computed for 2 kb goes unseen."""

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.features.genes import build_gene_table
from seq2exp.features.genome import N_CODE, central_slice, sequence_codes
from seq2exp.features.hic import tss_contact_profiles
from seq2exp.features.peaks import PeakSettings, peaks_and_mask_ratios
from seq2exp.features.promoters import bigwig_promoter_activity
from seq2exp.features.store import store_cell, store_sequence
from seq2exp.features.targets import cell_targets
from seq2exp.files import write_tsv
from seq2exp.inputs.demo.simulation import simulate_cell, simulate_world
from seq2exp.inputs.demo.spec import paths_from_config, spec_from_config
from seq2exp.inputs.demo.writers import write_cell, write_world
from seq2exp.inputs.unpack import prepare_genome
from seq2exp.training.dataset import GeneWindows
from seq2exp.training.masks import open_masks
from seq2exp.training.train import JobPaths, train_job

CELL = "K562"
LENGTH = 200_000
SOURCES = {"dnase": "dnase.bigWig", "h3k27ac": "h3k27ac.bigWig", "hic": "hic", "cage": "ctss.bed.gz"}


def paper_length_config(repo, root: Path) -> dict:
    """config/rehearsal.yaml (the paper's lengths) with one gene per chromosome, files under `root`,
    a model of width 8 and one training step."""
    from seq2exp.config import load_config, validate_config

    config = validate_config(load_config(repo / "config/rehearsal.yaml"), repo / "workflow/schemas/config.schema.yaml")
    assert config["window"]["half_width"] == LENGTH // 2 and config["hic"]["resolution"] == 5000
    config["run_cell_types"] = [CELL]
    config["demo"].update(
        genes_per_chromosome={c: 1 for c in config["demo"]["genes_per_chromosome"]}, truth_dir=str(root / "truth")
    )
    config["genome"].update(fasta=str(root / "genome.fa.gz"), blacklist=str(root / "blacklist.bed"))
    config["genes"].update(table=str(root / "genes.csv"), mrna_features=str(root / "mrna.csv"))
    config["cell_types"] = {
        cell: {kind: str(root / f"{cell}.{suffix}") for kind, suffix in SOURCES.items()}
        for cell in config["demo"]["cell_type_motifs"]
    }
    config["model"].update(d_model=8, n_layer=1, d_state=2, expand=1, mlp_hidden=8)
    config["training"].update(batch_size=2, max_steps=1, val_every_steps=1, checkpoint_every_steps=1, warmup_steps=1)
    return config


@pytest.fixture(scope="module")
def paper_store(repo, tmp_path_factory):
    """(config, the simulated world, the folder): demo inputs at 200 kb, the gene table, targets,
    promoter activity, Hi-C contacts, peaks and the store, as the rules build them."""
    root = tmp_path_factory.mktemp("paper_window")
    config = paper_length_config(repo, root)
    world = simulate_world(spec_from_config(config))
    paths = paths_from_config(config)
    write_world(world, paths)
    write_cell(world, simulate_cell(world, CELL), paths.cell_types[CELL])
    files = {
        name: str(root / name)
        for name in (
            "genome.fa",
            "genes.tsv",
            "targets.tsv",
            "promoter.tsv",
            "contacts.tsv",
            "peaks.narrowPeak",
            "ratios.tsv",
            "cell.tsv",
        )
    }
    prepare_genome(paths.fasta, files["genome.fa"])
    genes, _, _ = build_gene_table(config, paths.gene_table, paths.mrna_features, files["genome.fa"], paths.blacklist)
    write_tsv(genes, files["genes.tsv"])
    sources = paths.cell_types[CELL]
    write_tsv(cell_targets(config, genes, sources["cage"], paths.gene_table, CELL), files["targets.tsv"])
    write_tsv(
        bigwig_promoter_activity(
            genes, sources["dnase"], sources["h3k27ac"], config["features"]["promoter_half_width"]
        ),
        files["promoter.tsv"],
    )
    write_tsv(
        tss_contact_profiles(sources["hic"], genes, config["window"]["half_width"], **config["hic"]).table,
        files["contacts.tsv"],
    )
    peaks_and_mask_ratios(
        sources["dnase"],
        genes,
        config["window"]["half_width"],
        PeakSettings(**config["peaks"]),
        files["peaks.narrowPeak"],
        files["ratios.tsv"],
        paths.blacklist,
    )
    store_sequence(config, files["genes.tsv"], files["genome.fa"], paths.blacklist, str(root / "store" / "sequence.h5"))
    store_cell(
        config,
        files["genes.tsv"],
        files["targets.tsv"],
        files["promoter.tsv"],
        sources["dnase"],
        sources["h3k27ac"],
        files["contacts.tsv"],
        files["peaks.narrowPeak"],
        str(root / "store" / f"{CELL}.h5"),
        files["cell.tsv"],
    )
    return config, world, root


def test_the_store_holds_200kb_windows_of_the_genome_and_5kb_hic(paper_store):
    config, world, root = paper_store
    windows = GeneWindows(str(root / "store"), CELL)
    genes = pd.read_csv(root / "genes.tsv", sep="\t").set_index("gene_id")
    assert windows.length == LENGTH and set(genes.loc[windows.gene_ids, "split"]) == {"train", "valid", "test"}
    for i, gene_id in enumerate(windows.gene_ids):
        gene, item = genes.loc[gene_id], windows[i]
        start = int(gene.tss) - LENGTH // 2
        sequence = world.sequence[gene.chrom]
        expected = np.full(LENGTH, N_CODE, dtype=np.uint8)
        lo, hi = max(start, 0), min(start + LENGTH, len(sequence))
        expected[lo - start : hi - start] = sequence_codes(sequence[lo:hi])
        np.testing.assert_array_equal(item["dna"], expected, err_msg=gene_id)
        assert item["signals"].shape == (3, LENGTH) and item["peaks"].shape == item["blacklist"].shape == (LENGTH,)
        hic = item["signals"][2]
        steps = start + np.flatnonzero(np.diff(hic)) + 1
        inside = hi - lo  # the Hi-C channel is 0 beyond the chromosome's ends
        assert ((steps % 5000 == 0) | (steps == len(sequence))).all(), f"{gene_id}: Hi-C changes inside a 5 kb bin"
        assert len(np.unique(hic[lo - start : hi - start])) >= 0.8 * inside / 5000, gene_id


@pytest.mark.parametrize(
    "model, masks", [("seq2exp-soft", ("mask", "mask_untrained")), ("seq2exp-hard", ("mask", "soft"))]
)
def test_a_200kb_model_trains_predicts_and_writes_full_length_masks(paper_store, model, masks, caplog):
    config, _, root = paper_store
    out = root / "models" / CELL / model
    with caplog.at_level(logging.INFO, logger="seq2exp.training.train"):
        train_job(config, model, CELL, JobPaths(str(root / "store"), str(root / "genes.tsv"), str(out)))
    windows = GeneWindows(str(root / "store"), CELL)
    assert json.loads((out / "manifest.json").read_text())["steps"] == 1
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert list(predictions["gene_id"]) == list(windows.gene_ids)
    assert np.isfinite(predictions["prediction"]).all()
    centre = central_slice(LENGTH, config["window"]["central_region"])
    assert (centre.start, centre.stop) == (99_000, 101_000)
    with open_masks(str(out / "masks.h5")) as stored:
        for name in masks:
            # the untrained mask is kept for the test genes alone, the only ones discovery reads
            expected = (predictions["split"] == "test").to_numpy() if name == "mask_untrained" else True
            assert stored[name].shape == (len(windows), LENGTH), name
            assert (stored[name].written == expected).all(), name
        mask = stored["mask"][:]
    outside = np.ones(LENGTH, dtype=bool)
    outside[centre] = False
    for i in range(len(windows)):
        assert (mask[i, centre] == 1).all(), "the central 2 kb is always selected"
        assert (mask[i, windows[i]["blacklist"]] == 0).all()
        assert mask[i, outside].mean() < 1
    np.testing.assert_allclose(predictions["mask_ratio"], mask.mean(1), atol=1 / 255)
    np.testing.assert_allclose(predictions["mask_ratio_no_centre"], mask[:, outside].mean(1), atol=1 / 255)
