"""Table 1, Table 2 and the paired comparison with seq2exp-soft, from the trained models'
predictions (the rule `result_tables`); the metrics themselves live in `metrics`."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..features.peaks import read_narrowpeak
from ..files import write_text, write_tsv
from ..training.specs import SOFT_MODEL
from . import metrics

log = logging.getLogger(__name__)


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
    write_text(
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
    write_text(
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
    write_text(
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
