"""PNG figures: predicted vs observed expression, training curves, and per-gene tracks.

Figures are drawn on matplotlib's Agg canvas without pyplot (no global state, no display needed)
and written atomically; each `plot_*` function returns the path it wrote. `model_figures` and
`gene_track_figures` are the rules' work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from ..features.peaks import read_narrowpeak
from ..files import atomic_output
from ..training.dataset import GeneWindows
from ..training.masks import open_masks
from .discovery import per_base_peak_signal, read_truth_bed, store_window
from .tracks import track_mask

PREDICTION_COLUMNS = ("gene_id", "chrom", "split", "target", "prediction")
# Training-curve panels: (y label, logged columns drawn on it); panels with no column are left out.
CURVE_PANELS = (
    ("loss", ("train/loss", "train/smooth_l1", "train/kl", "val/loss", "val/mse")),
    ("validation Pearson r", ("val/pearson",)),
    ("mask ratio", ("train/mask_ratio",)),
)
SMOOTHED_PREFIXES = ("train/",)  # noisy per-step columns drawn raw (faint) and smoothed
TRACK_BINS = 2000  # longer tracks are drawn as the max per bin, so narrow elements stay visible
DPI = 120


def _save(figure: Figure, path: str) -> str:
    FigureCanvasAgg(figure)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path


def prediction_metrics(predictions: pd.DataFrame, split: str = "test") -> dict[str, float]:
    """n, Pearson r and MSE of the predictions of one split's genes."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack column(s) {missing}; they have {list(predictions.columns)}")
    chosen = predictions[predictions["split"] == split]
    if len(chosen) < 2:
        raise ValueError(f"predictions: {len(chosen)} gene(s) in split '{split}'; a scatter needs at least 2")
    target, prediction = chosen["target"].to_numpy(float), chosen["prediction"].to_numpy(float)
    return {
        "n": len(chosen),
        "pearson": float(np.corrcoef(target, prediction)[0, 1]),
        "mse": float(np.mean((prediction - target) ** 2)),
    }


def plot_predicted_vs_observed(predictions: pd.DataFrame, title: str, path: str) -> str:
    """Scatter of the test genes (coloured by chromosome) against the y = x line."""
    metrics = prediction_metrics(predictions)
    test = predictions[predictions["split"] == "test"]
    figure = Figure(figsize=(5, 5))
    ax = figure.subplots()
    for chrom, genes in test.groupby("chrom", sort=True):
        ax.scatter(genes["target"], genes["prediction"], s=8, alpha=0.6, label=f"{chrom} ({len(genes)})")
    values = np.concatenate([test["target"].to_numpy(float), test["prediction"].to_numpy(float)])
    low, high = values.min(), values.max()
    ax.plot([low, high], [low, high], color="grey", linewidth=1, label="y = x")
    ax.set_xlabel("observed log10(CAGE + 1)")
    ax.set_ylabel("predicted")
    ax.set_title(
        f"{title}\ntest genes: n = {metrics['n']}, Pearson r = {metrics['pearson']:.3f}, MSE = {metrics['mse']:.3f}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return _save(figure, path)


def smoothed(values: pd.Series) -> pd.Series:
    """Exponential moving average over about a twentieth of the points."""
    return values.ewm(span=max(1, len(values) // 20)).mean()


def plot_training_curves(metrics_csv_path: str, title: str, path: str) -> str:
    """Curves from a PyTorch Lightning CSVLogger metrics.csv against the step. Its rows are sparse
    (training and validation rows log different columns); whatever columns exist are drawn."""
    metrics = pd.read_csv(metrics_csv_path)
    if "step" not in metrics.columns:
        raise ValueError(f"{metrics_csv_path}: no 'step' column; it has {list(metrics.columns)}")
    panels = [
        (label, [c for c in columns if c in metrics.columns and metrics[c].notna().any()])
        for label, columns in CURVE_PANELS
    ]
    panels = [(label, columns) for label, columns in panels if columns]
    if not panels:
        expected = [c for _, columns in CURVE_PANELS for c in columns]
        raise ValueError(f"{metrics_csv_path}: none of the columns {expected} has a value")
    figure = Figure(figsize=(7, 2.6 * len(panels)))
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, columns) in zip(axes, panels):
        for column in columns:
            logged = metrics[["step", column]].dropna()
            if column.startswith(SMOOTHED_PREFIXES) and len(logged) > 1:
                (line,) = ax.plot(logged["step"], logged[column], linewidth=0.5, alpha=0.3)
                ax.plot(logged["step"], smoothed(logged[column]), color=line.get_color(), label=f"{column} (smoothed)")
            else:
                ax.plot(logged["step"], logged[column], marker="o", markersize=3, label=column)
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    axes[0].set_title(title)
    axes[-1].set_xlabel("step")
    figure.tight_layout()
    return _save(figure, path)


def binned_max(x: np.ndarray, values: np.ndarray, n_bins: int = TRACK_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(bin start x, max per bin) over about n_bins equal bins; short tracks are returned as they are."""
    if len(values) <= n_bins:
        return x, values
    width = -(-len(values) // n_bins)
    padded = np.pad(values.astype(float), (0, -len(values) % width), constant_values=-np.inf)
    return x[::width], padded.reshape(-1, width).max(axis=1)


def plot_gene_tracks(
    tracks: dict[str, np.ndarray],
    title: str,
    path: str,
    regions: dict[str, list[tuple[int, int]]] | None = None,
    x=None,
) -> str:
    """One panel per track, in the order given, sharing the x axis (`x`: the positions of the
    values, e.g. genome coordinates; default 0..L-1). `regions` (e.g. truth elements) are shaded
    on every panel, in x units."""
    if not tracks:
        raise ValueError(f"{path}: no tracks to plot")
    lengths = {name: len(values) for name, values in tracks.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: tracks differ in length: {lengths}")
    length = next(iter(lengths.values()))
    x = np.arange(length) if x is None else np.asarray(x)
    if len(x) != length:
        raise ValueError(f"{path}: x has {len(x)} positions; the tracks have {length}")
    figure = Figure(figsize=(9, 1.3 * len(tracks) + 0.8))
    axes = figure.subplots(len(tracks), 1, sharex=True, squeeze=False)[:, 0]
    region_colours = {name: f"C{i + 1}" for i, name in enumerate(regions or {})}
    for ax, (name, values) in zip(axes, tracks.items()):
        bin_x, bin_values = binned_max(x, np.asarray(values, dtype=float))
        ax.fill_between(bin_x, bin_values, step="post", color="C0", linewidth=0)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        for region_name, spans in (regions or {}).items():
            for i, (start, end) in enumerate(spans):
                ax.axvspan(
                    start,
                    end,
                    color=region_colours[region_name],
                    alpha=0.25,
                    zorder=0,
                    label=region_name if i == 0 else None,
                )
    if regions:
        axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xlim(x[0], x[-1])
    axes[-1].xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # genome coordinates, no offset
    figure.tight_layout()
    return _save(figure, path)


# --- the rules `model_figures` and `gene_track_figures` --------------------------------------


def model_figures(
    model: str, cell: str, predictions_path: str, metrics_path: str, out_scatter: str, out_curves: str
) -> None:
    predictions = pd.read_csv(predictions_path, sep="\t")
    plot_predicted_vs_observed(predictions, f"{cell} / {model}: test genes", out_scatter)
    plot_training_curves(metrics_path, f"{cell} / {model}: training", out_curves)


def gene_track_figures(
    config: dict,
    cell: str,
    inputs: Mapping[str, str],
    mask_models: list[str],
    truth_bed: str | None,
    out_dir: str,
) -> None:
    """For the first `evaluation.figure_genes` test genes (by expression), the input tracks, the
    learned masks, MACS3 peaks and (where known) the true elements. `inputs`: the rule's inputs by
    name: `store` (the cell type's), `genes`, `peaks`, and the masks of each of `mask_models`."""
    window_cfg = config["window"]
    hw = window_cfg["half_width"]
    genes = pd.read_csv(inputs["genes"], sep="\t").set_index("gene_id")
    windows = GeneWindows(str(Path(inputs["store"]).parent), cell)
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}
    test = [g for g in genes.index[genes["split"] == "test"] if g in row_of]
    chosen = sorted(test, key=lambda g: -windows.targets[row_of[g]])[: config["evaluation"]["figure_genes"]]
    truth = read_truth_bed(truth_bed) if truth_bed else None
    peaks = read_narrowpeak(inputs["peaks"])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        files.enter_context(windows)
        opened = {name: track_mask(files.enter_context(open_masks(inputs[name]))) for name in mask_models}
        for gene_id in chosen:
            g, item = genes.loc[gene_id], windows[row_of[gene_id]]
            window = store_window(g, window_cfg)
            signals = item["signals"].astype(np.float32)
            panels = {"DNase": signals[1], "H3K27ac": signals[0], "Hi-C contact": signals[2]}
            panels.update({f"{name} mask": data[row_of[gene_id]] for name, data in opened.items()})
            panels["MACS3 peaks"] = (per_base_peak_signal(window, peaks) > 0).astype(np.float32)
            regions = None
            if truth is not None:
                own = window.overlapping(truth[truth["gene_id"] == gene_id])
                regions = {"true elements": [(int(i) - hw, int(j) - hw) for i, j in zip(own["i"], own["j"])]}
            plot_gene_tracks(
                panels,
                f"{cell}: {g.get('gene_name', gene_id)} ({gene_id}, {g['chrom']}:{g['tss']:,}"
                f" {g['strand']}); x: bp from the TSS in window order",
                str(Path(out_dir) / f"{gene_id}.png"),
                regions=regions,
                x=np.arange(2 * hw) - hw,
            )
