"""Figures: each writes a PNG atomically and draws what its input has."""

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from seq2exp.evaluation.plots import (
    DPI,
    binned_max,
    plot_gene_tracks,
    plot_predicted_vs_observed,
    plot_training_curves,
    prediction_metrics,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_shape(path) -> tuple[int, int]:
    """(height, width) in pixels of a valid, non-empty PNG."""
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_MAGIC
    return matplotlib.image.imread(path).shape[:2]


@pytest.fixture
def predictions():
    return pd.DataFrame(
        {
            "gene_id": ["a", "b", "c", "d", "e"],
            "chrom": ["chr22", "chr22", "chrX", "chr1", "chr1"],
            "split": ["test", "test", "test", "train", "valid"],
            "target": [1.0, 2.0, 3.0, 0.0, 0.0],
            "prediction": [1.0, 2.0, 4.0, 9.0, -9.0],
        }
    )


def test_prediction_metrics_are_over_the_test_genes_only(predictions):
    metrics = prediction_metrics(predictions)
    assert metrics["n"] == 3
    assert metrics["mse"] == pytest.approx(1 / 3)
    assert metrics["pearson"] == pytest.approx(9 / np.sqrt(84))  # by hand: cov 3, var 2 and 42/9


def test_predicted_vs_observed_writes_a_png(tmp_path, predictions):
    path = plot_predicted_vs_observed(predictions, "K562 seq2exp-soft", str(tmp_path / "fig" / "scatter.png"))
    assert png_shape(path) == (5 * DPI, 5 * DPI)


def test_predicted_vs_observed_without_test_genes_is_refused(tmp_path, predictions):
    with pytest.raises(ValueError, match="split 'test'"):
        plot_predicted_vs_observed(predictions.assign(split="train"), "t", str(tmp_path / "scatter.png"))
    assert list(tmp_path.iterdir()) == []


def lightning_metrics(with_validation: bool) -> pd.DataFrame:
    """Sparse rows as CSVLogger writes them: training rows every step, validation every 10."""
    rows = []
    for step in range(40):
        rows.append(
            {
                "epoch": step // 20,
                "step": step,
                "train/loss": 1.0 / (step + 1),
                "train/smooth_l1": 0.5,
                "train/kl": 0.1,
                "train/mask_ratio": 0.2,
                "lr": 1e-4,
            }
        )
        if with_validation and step % 10 == 9:
            rows.append({"epoch": step // 20, "step": step, "val/mse": 0.4, "val/pearson": 0.6, "val/loss": 0.45})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("with_validation, panels", [(True, 3), (False, 2)])
def test_training_curves_draw_the_panels_that_have_values(tmp_path, with_validation, panels):
    csv = tmp_path / "metrics.csv"
    lightning_metrics(with_validation).to_csv(csv, index=False)
    path = plot_training_curves(str(csv), "K562 seq2exp-soft", str(tmp_path / "curves.png"))
    assert png_shape(path)[0] == round(2.6 * panels * DPI)


def test_training_curves_skip_columns_without_values(tmp_path):
    metrics = lightning_metrics(False).assign(**{"val/mse": np.nan, "val/pearson": np.nan})
    csv = tmp_path / "metrics.csv"
    metrics.to_csv(csv, index=False)
    assert png_shape(plot_training_curves(str(csv), "t", str(tmp_path / "curves.png")))[0] == round(2.6 * 2 * DPI)


@pytest.mark.parametrize(
    "drop, message",
    [(["step"], "'step'"), (["train/loss", "train/smooth_l1", "train/kl", "train/mask_ratio"], "none of the columns")],
)
def test_training_curves_refuse_unusable_metrics(tmp_path, drop, message):
    csv = tmp_path / "metrics.csv"
    lightning_metrics(False).drop(columns=drop).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=message):
        plot_training_curves(str(csv), "t", str(tmp_path / "curves.png"))
    assert not (tmp_path / "curves.png").exists()


def test_binned_max_keeps_a_single_base_peak():
    values = np.zeros(200_000)
    values[123_457] = 1.0
    x = np.arange(values.size) + 5_000_000
    bin_x, bin_values = binned_max(x, values)
    assert len(bin_x) == len(bin_values) <= 2000
    peak = int(np.argmax(bin_values))
    assert bin_values[peak] == 1.0 and bin_values.sum() == 1.0
    assert bin_x[peak] <= 5_123_457 < bin_x[peak + 1]


def test_gene_tracks_write_one_panel_per_track(tmp_path):
    length = 2000
    rng = np.random.default_rng(0)
    tracks = {
        "DNase": rng.random(length),
        "H3K27ac": rng.random(length),
        "Hi-C contact": rng.random(length),
        "learned mask": rng.random(length),
        "MACS3 peaks": (rng.random(length) > 0.9).astype(float),
    }
    x = np.arange(length) + 10_000
    path = plot_gene_tracks(
        tracks,
        "GENE1 (K562)",
        str(tmp_path / "tracks.png"),
        regions={"truth enhancer": [(10_200, 10_250), (11_500, 11_550)], "decoy": [(10_700, 10_750)]},
        x=x,
    )
    assert png_shape(path)[0] == round((1.3 * len(tracks) + 0.8) * DPI)


@pytest.mark.parametrize(
    "tracks, x, message",
    [
        ({"DNase": np.zeros(10), "mask": np.zeros(11)}, None, "differ in length"),
        ({"DNase": np.zeros(10)}, np.arange(9), "x has 9"),
        ({}, None, "no tracks"),
    ],
)
def test_gene_tracks_refuse_mismatched_input(tmp_path, tracks, x, message):
    with pytest.raises(ValueError, match=message):
        plot_gene_tracks(tracks, "t", str(tmp_path / "tracks.png"), x=x)
    assert list(tmp_path.iterdir()) == []
