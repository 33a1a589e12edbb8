"""The evaluation stage: trained models' predictions and masks -> tables, discovery scores, mask
tracks and figures. Each function is one rule's work; the metrics live in `metrics`, the scoring
in `discovery`, the writers in `tracks` and `plots`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..features.genome import N_CODE
from ..features.peaks import read_narrowpeak
from ..files import atomic_output, write_tsv
from ..training.dataset import GeneWindows
from ..training.masks import MaskFile, StoredMask, open_masks
from ..training.specs import HARD_MODEL, SOFT_MODEL
from . import crispri, discovery, metrics, plots, tracks

log = logging.getLogger(__name__)
CRISPRI_TRACKS = (SOFT_MODEL, "macs3", "dnase x contact")


def _write_text(text: str, path: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


# --- tables -------------------------------------------------------------------------------


def result_tables(
    config: dict,
    predictions: dict[tuple[str, str], str],
    out: dict[str, str],
    genes_path: str,
    peaks: dict[str, str],
    authors: dict[str, str] | None = None,
) -> None:
    """Table 1, Table 2 and the paired comparison with seq2exp-soft, from each job's predictions.tsv
    (`predictions` maps (cell, model) to its path); `authors` maps a cell type to the predictions of
    the authors' weights on our store, added to Table 1 as seq2exp-soft rows of source authors-weights.
    Table 1 and the comparison are also computed over each cell type's test genes with an active
    promoter (`promoter_active_genes` from the gene table and the cell type's `peaks`), and
    table1.md opens with the paired differences to seq2exp-soft."""
    ev = config["evaluation"]
    cells = list(dict.fromkeys(cell for cell, _ in predictions))
    tables = {(cell, model): pd.read_csv(path, sep="\t") for (cell, model), path in predictions.items()}
    authors_tables = {cell: pd.read_csv(path, sep="\t") for cell, path in (authors or {}).items()}
    genes = pd.read_csv(genes_path, sep="\t")
    half_width = config["features"]["promoter_half_width"]
    test_genes = genes.loc[genes["split"] == "test", "gene_id"]
    active = {cell: promoter_active_genes(genes, read_narrowpeak(peaks[cell]), half_width) for cell in cells}
    for cell in cells:
        log.info(
            "%s: %d of %d test genes with an active promoter",
            cell,
            test_genes.isin(active[cell]).sum(),
            len(test_genes),
        )
    subsets = {"all": {cell: set(test_genes) for cell in cells}, "promoter active": active}
    table1_models = metrics.TABLE1_MODELS
    table1, comparisons = {}, {}
    for label, chosen in subsets.items():
        scored = {key: table[table["gene_id"].isin(chosen[key[0]])] for key, table in tables.items()}
        scored = {key: table for key, table in scored.items() if _scorable(table, key, label)}
        rows = [
            _metrics_row(table, model, cell, ev) for (cell, model), table in scored.items() if model in table1_models
        ]
        authors_rows = [
            dict(
                _metrics_row(table[table["gene_id"].isin(chosen[cell])], SOFT_MODEL, cell, ev),
                source=metrics.AUTHORS_SOURCE,
            )
            for cell, table in authors_tables.items()
            if _scorable(table[table["gene_id"].isin(chosen[cell])], (cell, "authors' weights"), label)
        ]
        table1[label] = metrics.results_table(rows, table1_models, cells, extra=authors_rows)
        for cell in cells:
            if (cell, SOFT_MODEL) in scored:
                comparisons[label, cell] = metrics.paired_comparison(
                    {m: t for (c, m), t in scored.items() if c == cell}, n_boot=ev["bootstrap"], seed=ev["seed"]
                ).assign(cell_type=cell, genes=label)
    rows = [
        _metrics_row(table, model, cell, ev)
        for (cell, model), table in tables.items()
        if model in metrics.TABLE2_MODELS
    ]
    table2 = metrics.results_table(rows, metrics.TABLE2_MODELS, cells)
    write_tsv(table1["all"], out["table1"])
    write_tsv(table1["promoter active"], out["table1_promoter_active"])
    write_tsv(table2, out["table2"])
    paired = "\n\n".join(
        metrics.render_paired_markdown(
            {cell: c for (label, cell), c in comparisons.items() if label == genes_label},
            table1_models,
            f"{what}: each model minus {SOFT_MODEL} on the same genes, 95% interval over the same resampled genes",
        )
        for genes_label, what in (("all", "All test genes"), ("promoter active", "Test genes with an active promoter"))
    )
    active_rows = table1["promoter active"]
    shown = pd.concat(
        [table1["all"], active_rows[active_rows["source"] == "ours"].assign(source=metrics.PROMOTER_ACTIVE_SOURCE)],
        ignore_index=True,
    )
    _write_text(
        metrics.render_markdown(
            shown,
            table1_models,
            cells,
            "Table 1: test set (chromosomes " + " + ".join(config["split"]["test"]) + ")",
            mask_ratios=False,
            preamble=f"## Paired differences to {SOFT_MODEL}\n\n{paired}",
        ),
        out["table1_md"],
    )
    _write_text(
        metrics.render_markdown(
            table2,
            metrics.TABLE2_MODELS,
            cells,
            "Table 2: masks (test set), mask ratio with and without the central region",
        ),
        out["table2_md"],
    )
    comparison = pd.concat(comparisons.values(), ignore_index=True) if comparisons else pd.DataFrame()
    write_tsv(comparison, out["comparison"])
    _write_text(
        "\n\n".join(
            metrics.render_comparison_markdown(
                c, f"{cell}, {label} test genes: each model minus {SOFT_MODEL} (paired bootstrap over test genes)"
            )
            for (label, cell), c in comparisons.items()
        ),
        out["comparison_md"],
    )
    for label, table in table1.items():
        for row in table[table["source"] == "ours"].dropna(subset=["pearson"]).to_dict("records"):
            log.info(
                "%s / %s (%s test genes): MSE %.4f, MAE %.4f, Pearson %.4f [%.4f, %.4f]",
                row["cell_type"],
                row["model"],
                label,
                row["mse"],
                row["mae"],
                row["pearson"],
                row["pearson_ci_low"],
                row["pearson_ci_high"],
            )


def _scorable(predictions: pd.DataFrame, key: tuple[str, str], label: str) -> bool:
    """At least two test genes to score; a subset with fewer leaves its rows NA (logged)."""
    if (predictions["split"] == "test").sum() >= 2:
        return True
    log.warning("%s / %s: fewer than 2 %s test genes; its rows are NA", *key, label)
    return False


def promoter_active_genes(genes: pd.DataFrame, peaks: pd.DataFrame, half_width: int) -> set[str]:
    """The genes whose promoter region (TSS +/- `half_width`, the region of the promoter-activity
    feature) overlaps one of the cell type's MACS3 DNase peaks: open chromatin at the promoter,
    from an input every run has, never from the CAGE target the models are scored on."""
    active = set()
    for chrom, chrom_genes in genes.groupby("chrom"):
        chrom_peaks = peaks[peaks["chrom"] == chrom].sort_values("start")
        if chrom_peaks.empty:
            continue
        # A promoter [lo, hi) overlaps a peak iff among the peaks starting before hi one ends after lo.
        furthest_end = np.maximum.accumulate(chrom_peaks["end"].to_numpy())
        tss = chrom_genes["tss"].to_numpy()
        starting_before = np.searchsorted(chrom_peaks["start"].to_numpy(), tss + half_width, side="left")
        overlaps = (starting_before > 0) & (furthest_end[np.maximum(starting_before - 1, 0)] > tss - half_width)
        active.update(chrom_genes["gene_id"][overlaps])
    return active


def _metrics_row(predictions: pd.DataFrame, model: str, cell: str, ev: dict) -> dict:
    test = predictions[predictions["split"] == "test"]
    ratios = {k: float(test[k].mean()) if k in test else None for k in ("mask_ratio", "mask_ratio_no_centre")}
    return metrics.metrics_row(predictions, model, cell, n_boot=ev["bootstrap"], seed=ev["seed"], **ratios)


# --- masks and windows ----------------------------------------------------------------------


def track_mask(masks: MaskFile) -> StoredMask:
    """The soft mask of a model: its Beta mean where it has a hard one, else what its predictor saw."""
    return masks["soft" if "soft" in masks else "mask"]


def check_mask_genes(masks: MaskFile, windows: GeneWindows) -> None:
    if list(masks.gene_ids) != list(windows.gene_ids):
        raise ValueError(f"{masks.path}: genes differ from the store {windows.cell_path}")


def mask_tracks(
    config: dict, genes_path: str, masks_path: str, fai_path: str, out_bigwig: str, out_bed: str, threshold: float
) -> None:
    window = config["window"]
    mask_tracks_from(
        pd.read_csv(genes_path, sep="\t"),
        masks_path,
        fai_path,
        window["half_width"],
        window["reverse_complement_minus_strand"],
        out_bigwig,
        out_bed,
        threshold,
    )


def mask_tracks_from(
    genes: pd.DataFrame,
    masks_path: str,
    fai_path: str,
    half_width: int,
    reverse_minus: bool,
    out_bigwig: str | None,
    out_bed: str | None,
    threshold: float,
    rows=None,
) -> None:
    """A bigWig of the model's soft mask over the genes' windows, and a BED of the elements it
    selects: runs of the mask its predictor saw at or above `threshold` (for the hard model exactly
    its hard mask). `rows`: the store rows to export (default all)."""
    sizes = dict(pd.read_csv(fai_path, sep="\t", header=None, usecols=[0, 1]).itertuples(index=False))
    with open_masks(masks_path) as masks:
        rows = np.arange(len(masks.gene_ids)) if rows is None else np.asarray(rows)
        table = genes.set_index("gene_id").loc[masks.gene_ids[rows]].reset_index()
        if out_bigwig:
            tracks.write_mask_bigwig(
                table, _Rows(track_mask(masks), rows), half_width, reverse_minus, sizes, out_bigwig
            )
        if out_bed:
            elements = tracks.mask_elements(
                table, _Rows(masks["mask"], rows), half_width, reverse_minus, sizes, threshold=threshold
            )
            tracks.write_mask_bed(elements, out_bed)
            log.info("%s: %d elements over %d genes", out_bed, len(elements), elements["gene_id"].nunique())


class _Rows:
    """The rows `rows` of a per-gene dataset, read one at a time."""

    def __init__(self, data, rows):
        self.data, self.rows = data, rows
        self.shape = (len(rows), *data.shape[1:])

    def __getitem__(self, i):
        return self.data[int(self.rows[i])]


# --- discovery ----------------------------------------------------------------------------


def peak_strength(peaks: pd.DataFrame) -> pd.Series:
    """How strong MACS3 calls each peak: its signal value, or, where the caller leaves that 0
    (`bdgpeakcall` does), its score, which is ten times the summit's height."""
    return peaks["signal_value"] if (peaks["signal_value"] > 0).any() else peaks["score"].astype(float)


def gene_window(gene: pd.Series, window_cfg: dict) -> discovery.Window:
    """The window of a gene-table row as the store built it (the config's `window`)."""
    return discovery.Window(
        gene["chrom"],
        int(gene["tss"]),
        window_cfg["half_width"],
        gene["strand"] == "-",
        window_cfg["reverse_complement_minus_strand"],
    )


def _per_base_peak_signal(window: discovery.Window, peaks: pd.DataFrame) -> np.ndarray:
    """MACS3 peaks as a per-base score: the peak's strength inside peaks, 0 outside."""
    score = np.zeros(window.length)
    for row in window.overlapping(peaks.assign(strength=peak_strength(peaks))).itertuples():
        score[row.i : row.j] = np.maximum(score[row.i : row.j], row.strength)
    return score


def discovery_scores(
    config: dict,
    cell: str,
    store_dir: str,
    genes_path: str,
    soft_masks: str,
    hard_masks: str | None,
    peaks_path: str,
    truth_bed: str,
    elements_path: str | None,
) -> list[discovery.GeneWindow]:
    """Per test gene: truth labels, eligible bases, and the scores of each method."""
    window_cfg = config["window"]
    genes = pd.read_csv(genes_path, sep="\t").set_index("gene_id")
    windows = GeneWindows(store_dir, cell)
    truth = discovery.read_truth_bed(truth_bed)
    decoys = discovery.read_elements(elements_path) if elements_path else None
    background = None if decoys is not None else int((truth["end"] - truth["start"]).median())
    peaks = read_narrowpeak(peaks_path)
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}
    result = []
    with contextlib.ExitStack() as files:
        files.enter_context(windows)
        opened = [files.enter_context(open_masks(path)) for path in (soft_masks, hard_masks) if path]
        for masks in opened:
            check_mask_genes(masks, windows)
        soft, untrained = opened[0]["mask"], opened[0]["mask_untrained"]
        hard = opened[1]["mask"] if hard_masks else None
        for gene_id in genes.index[genes["split"] == "test"]:
            if gene_id not in row_of:
                continue
            row, g = row_of[gene_id], genes.loc[gene_id]
            item = windows[row]
            window = gene_window(g, window_cfg)
            eligible = discovery.eligible_positions(
                window.length, window_cfg["central_region"], item["blacklist"], item["dna"] == N_CODE
            )
            signals = item["signals"].astype(np.float32)  # (H3K27ac, DNase, Hi-C)
            peak_signal = _per_base_peak_signal(window, peaks)
            if not untrained.written[row]:
                raise ValueError(
                    f"{soft_masks}: no `mask_untrained` for test gene {gene_id} (stored for the test "
                    f"genes of the training job's gene table only; is {genes_path}'s split another?)"
                )
            trained = soft[row]
            scores = {
                SOFT_MODEL: trained,
                f"{SOFT_MODEL} (untrained)": untrained[row],
                "macs3": peak_signal,
                "dnase": signals[1],
                "hic-contact": signals[2],
                "dnase x contact": signals[1] * signals[2],
            }
            macs3_ratio = float((peak_signal[eligible] > 0).mean()) if eligible.any() else 0.0
            selections = {
                f"{SOFT_MODEL} top-k at macs3 ratio": discovery.top_k_selection(trained, eligible, macs3_ratio),
                "macs3 peaks": peak_signal > 0,
            }
            if hard is not None:
                selections[HARD_MODEL] = hard[row] >= 0.5
            result.append(
                discovery.gene_window(window, gene_id, truth, eligible, scores, selections, decoys, background)
            )
    return result


def discovery_tables(config: dict, per_cell: dict[str, dict], out_tsv: str, out_md: str) -> None:
    """`per_cell`: cell -> keyword arguments of `discovery_scores`."""
    table = discovery.discovery_table(
        {cell: discovery_scores(config, cell, **kwargs) for cell, kwargs in per_cell.items()}
    )
    write_tsv(table, out_tsv)
    _write_text(discovery.render_discovery_markdown(table), out_md)
    for row in table.itertuples():
        log.info(
            "%s %-40s %-7s AUPRC %.3f precision %.3f recall %.3f",
            row.cell_type,
            row.method,
            row.level,
            row.auprc,
            row.precision,
            row.recall,
        )


# --- CRISPRi ------------------------------------------------------------------------------


def crispri_tables(
    config: dict, crispri_path: str, genes_path: str, per_cell: dict[str, dict], out_tsv: str, out_md: str
) -> None:
    """`tables/crispri`: the benchmark's pairs of each run cell type (`CellType`), scored by the
    seq2exp-soft mask, the MACS3 peak mask, DNase x contact and distance (see `crispri`).
    `per_cell`: cell -> dict(store_dir, soft_masks)."""
    pairs = crispri.read_crispri(crispri_path)
    window = config["window"]
    scored = {}
    for cell, paths in per_cell.items():
        cell_pairs = pairs[pairs["CellType"] == cell]
        if cell_pairs.empty:
            log.warning("%s: no pairs of cell type %s", crispri_path, cell)
            continue
        windows = GeneWindows(paths["store_dir"], cell)
        genes = pd.read_csv(genes_path, sep="\t")
        genes = genes[genes["gene_id"].isin(windows.gene_ids)]
        located = crispri.pairs_in_windows(
            cell_pairs, genes, window["half_width"], window["reverse_complement_minus_strand"]
        )
        log.info(
            "%s: %d %s pairs, %d with a gene of ours, %d with the element in its window",
            crispri_path,
            len(cell_pairs),
            cell,
            crispri.match_genes(cell_pairs, genes).notna().sum(),
            len(located),
        )
        with windows, open_masks(paths["soft_masks"]) as masks:
            check_mask_genes(masks, windows)
            scored[cell] = crispri.score_pairs(located, _crispri_tracks(windows, masks["mask"]), list(CRISPRI_TRACKS))
    if not scored:
        raise ValueError(
            f"{crispri_path}: no pairs of the run's cell types {list(per_cell)}; its CellType column "
            f"holds {sorted(pairs['CellType'].unique())}"
        )
    table = crispri.crispri_table(scored, [*CRISPRI_TRACKS, "distance"])
    write_tsv(table, out_tsv)
    _write_text(crispri.render_crispri_markdown(table), out_md)
    for row in table.to_dict("records"):
        log.info(
            "%s %-15s %-16s %5d pairs, %4d regulated: AUPRC %.3f, precision at recall 0.7 %.3f",
            row["cell_type"],
            row["pairs"],
            row["method"],
            row["n_pairs"],
            row["n_regulated"],
            row["auprc"],
            row["precision_at_recall_0.7"],
        )


def _crispri_tracks(windows: GeneWindows, soft: StoredMask):
    """gene_id -> the per-base tracks CRISPRi pairs are scored by, from the store and the soft mask."""
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}

    def tracks(gene_id: str) -> dict[str, np.ndarray]:
        row = row_of[gene_id]
        item = windows[row]
        signals = item["signals"].astype(np.float32)  # (H3K27ac, DNase, Hi-C)
        return {
            SOFT_MODEL: soft[row],
            "macs3": item["peaks"].astype(np.float32),
            "dnase x contact": signals[1] * signals[2],
        }

    return tracks


# --- figures ------------------------------------------------------------------------------


def model_figures(
    model: str, cell: str, predictions_path: str, metrics_path: str, out_scatter: str, out_curves: str
) -> None:
    predictions = pd.read_csv(predictions_path, sep="\t")
    plots.plot_predicted_vs_observed(predictions, f"{cell} / {model}: test genes", out_scatter)
    plots.plot_training_curves(metrics_path, f"{cell} / {model}: training", out_curves)


def gene_track_figures(
    config: dict,
    cell: str,
    store_dir: str,
    genes_path: str,
    masks: dict[str, str],
    peaks_path: str,
    truth_bed: str | None,
    out_dir: str,
) -> None:
    """For the first `evaluation.figure_genes` test genes (by expression), the input tracks, the
    learned masks, MACS3 peaks and (where known) the true elements."""
    window_cfg = config["window"]
    hw = window_cfg["half_width"]
    genes = pd.read_csv(genes_path, sep="\t").set_index("gene_id")
    windows = GeneWindows(store_dir, cell)
    row_of = {g: i for i, g in enumerate(windows.gene_ids)}
    test = [g for g in genes.index[genes["split"] == "test"] if g in row_of]
    chosen = sorted(test, key=lambda g: -windows.targets[row_of[g]])[: config["evaluation"]["figure_genes"]]
    truth = discovery.read_truth_bed(truth_bed) if truth_bed else None
    peaks = read_narrowpeak(peaks_path)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        files.enter_context(windows)
        opened = {name: track_mask(files.enter_context(open_masks(path))) for name, path in masks.items()}
        for gene_id in chosen:
            g, item = genes.loc[gene_id], windows[row_of[gene_id]]
            window = gene_window(g, window_cfg)
            signals = item["signals"].astype(np.float32)
            panels = {"DNase": signals[1], "H3K27ac": signals[0], "Hi-C contact": signals[2]}
            panels.update({f"{name} mask": data[row_of[gene_id]] for name, data in opened.items()})
            panels["MACS3 peaks"] = (_per_base_peak_signal(window, peaks) > 0).astype(np.float32)
            regions = None
            if truth is not None:
                own = window.overlapping(truth[truth["gene_id"] == gene_id])
                regions = {"true elements": [(int(i) - hw, int(j) - hw) for i, j in zip(own["i"], own["j"])]}
            plots.plot_gene_tracks(
                panels,
                f"{cell}: {g.get('gene_name', gene_id)} ({gene_id}, {g['chrom']}:{g['tss']:,}"
                f" {g['strand']}); x: bp from the TSS in window order",
                str(Path(out_dir) / f"{gene_id}.png"),
                regions=regions,
                x=np.arange(2 * hw) - hw,
            )
