"""`seq2exp predict`: errors that name the checkpoint and what was expected, before any work."""

import lightning as L
import numpy as np
import pytest
import torch

from seq2exp.cli import main
from seq2exp.config import load_config, validate_config
from seq2exp.training.batches import FeatureScaling
from seq2exp.training.specs import model_options
from seq2exp.training.train import ExpressionModule


def predict(checkpoint, tmp_path, *extra):
    return main(
        [
            "predict",
            "--checkpoint",
            str(checkpoint),
            "--store",
            str(tmp_path / "store"),
            "--cell",
            "K562",
            "--genes-table",
            str(tmp_path / "genes.tsv"),
            "--out",
            str(tmp_path / "p.tsv"),
            *extra,
        ]
    )


def test_a_missing_truncated_or_foreign_checkpoint_is_named(tmp_path):
    checkpoint = tmp_path / "best.ckpt"
    with pytest.raises(SystemExit, match=rf"--checkpoint {checkpoint} does not exist \(expected a best.ckpt"):
        predict(checkpoint, tmp_path)
    torch.save({"weights": torch.zeros(3)}, checkpoint)
    whole = checkpoint.read_bytes()
    with pytest.raises(
        SystemExit,
        match=rf"--checkpoint {checkpoint} cannot be read as a best.ckpt or last.ckpt "
        r"written by a seq2exp training job \(KeyError",
    ):
        predict(checkpoint, tmp_path)
    checkpoint.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SystemExit, match=rf"--checkpoint {checkpoint} cannot be read as .* \(RuntimeError"):
        predict(checkpoint, tmp_path)


def test_mask_tracks_of_a_model_without_a_mask_are_an_error(repo, tmp_path):
    config = validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")
    options = model_options(config, "features-only")
    scaling = FeatureScaling(np.zeros(options["n_features"]), np.ones(options["n_features"])).to_dict()
    module = ExpressionModule("features-only", options, config["training"], scaling)
    checkpoint = tmp_path / "best.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": L.__version__,
        },
        checkpoint,
    )
    with pytest.raises(
        SystemExit,
        match=rf"--masks-bed/--masks-bigwig: {checkpoint} is a features-only model, "
        "which has no mask",
    ):
        predict(checkpoint, tmp_path, "--masks-bed", str(tmp_path / "masks.bed"))
