"""Test metrics with bootstrap intervals, the paper's tables (ours beside the paper's) and paired
model comparisons.

Predictions come as one table per model and cell type with columns gene_id, chrom, split, target,
prediction (one row per gene, every split); metrics use the rows of one split (test by default:
chr22 + chrX pooled). Targets and predictions are log10(CAGE + 1).

Intervals are percentile bootstraps over genes: `n_boot` resamples of the genes with replacement,
drawn from numpy's default generator seeded with `seed`, so the same inputs give the same interval.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..training.specs import MODEL_SPECS, SOFT_MODEL, TABLE1, TABLE2, table_models

TABLE1_MODELS = table_models(TABLE1)
TABLE2_MODELS = table_models(TABLE2)
PAPER_CELL_TYPES = ["K562", "GM12878"]
AUTHORS_SOURCE = "authors-weights"
PROMOTER_ACTIVE_SOURCE = "ours, promoter active"  # our rows over the genes with an active promoter (markdown only)
TABLE_COLUMNS = [
    "model",
    "cell_type",
    "source",
    "split",
    "n_genes",
    "mse",
    "mae",
    "pearson",
    "pearson_ci_low",
    "pearson_ci_high",
    "mask_ratio",
    "mask_ratio_no_centre",
]
PREDICTION_COLUMNS = ["gene_id", "chrom", "split", "target", "prediction"]
COMPARISON_METRICS = ["mse", "mae", "pearson"]
HIGHER_IS_BETTER = {"mse": False, "mae": False, "pearson": True}


def _paper_results() -> pd.DataFrame:
    """The paper's test-set rows of each model (`ModelSpec.paper` and `paper_mask_ratio`)."""
    rows = []
    for model, spec in MODEL_SPECS.items():
        for i, cell in enumerate(PAPER_CELL_TYPES if spec.paper else ()):
            mse, mae, pearson = spec.paper[3 * i : 3 * i + 3]
            ratio = (spec.paper_mask_ratio or (math.nan, math.nan))[i]
            rows.append(
                dict(
                    model=model,
                    cell_type=cell,
                    source="paper",
                    split="test",
                    n_genes=pd.NA,
                    mse=mse,
                    mae=mae,
                    pearson=pearson,
                    pearson_ci_low=math.nan,
                    pearson_ci_high=math.nan,
                    mask_ratio=ratio,
                    mask_ratio_no_centre=math.nan,
                )
            )
    return _typed(pd.DataFrame(rows, columns=TABLE_COLUMNS))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """The table's column order and dtypes: text, nullable integer gene count, float metrics."""
    table = table[TABLE_COLUMNS].copy()
    for column in ["model", "cell_type", "source", "split"]:
        table[column] = table[column].astype(object)
    table["n_genes"] = table["n_genes"].astype("Int64")
    for column in TABLE_COLUMNS[5:]:
        table[column] = table[column].astype(float)
    return table.reset_index(drop=True)


PAPER_RESULTS = _paper_results()


# --- metrics ----------------------------------------------------------------------------------


def _checked_pair(target, prediction) -> tuple[np.ndarray, np.ndarray]:
    target = np.asarray(target, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    if target.ndim != 1 or target.shape != prediction.shape:
        raise ValueError(
            f"target and prediction must be 1-D arrays of one length; got shapes {target.shape} and {prediction.shape}"
        )
    if len(target) < 2:
        raise ValueError(f"metrics need at least 2 genes; got {len(target)}")
    for name, values in (("target", target), ("prediction", prediction)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"{name} has {bad.sum()} non-finite value(s) (NaN or inf) of {len(values)}, "
                f"first at position {np.flatnonzero(bad)[0]}"
            )
    return target, prediction


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis; NaN where either side is constant."""
    dx = x - x.mean(axis=-1, keepdims=True)
    dy = y - y.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((dx * dx).sum(axis=-1) * (dy * dy).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (dx * dy).sum(axis=-1) / denominator, np.nan)


def regression_metrics(target, prediction) -> dict:
    """MSE, MAE and Pearson r of `prediction` against `target` (Pearson NaN if either is constant)."""
    target, prediction = _checked_pair(target, prediction)
    error = prediction - target
    return dict(
        mse=float(np.mean(error**2)),
        mae=float(np.mean(np.abs(error))),
        pearson=float(_pearson_rows(target, prediction)),
    )


def _resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval; resamples with an undefined statistic (NaN) are left out."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1); got {level}")
    tail = 100 * (1 - level) / 2
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_pearson_ci(
    target, prediction, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of Pearson r over genes (deterministic for a given seed)."""
    target, prediction = _checked_pair(target, prediction)
    idx = _resample_indices(len(target), n_boot, seed)
    return _interval(_pearson_rows(target[idx], prediction[idx]), level)


def _split_rows(predictions: pd.DataFrame, split: str, what: str) -> pd.DataFrame:
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions of {what} lack column(s) {missing}; expected {PREDICTION_COLUMNS}")
    rows = predictions[predictions["split"] == split]
    if rows["gene_id"].duplicated().any():
        duplicated = rows.loc[rows["gene_id"].duplicated(), "gene_id"].iloc[0]
        raise ValueError(f"predictions of {what} list gene {duplicated} more than once in split {split}")
    if len(rows) < 2:
        raise ValueError(
            f"predictions of {what} have {len(rows)} gene(s) in split {split!r}; need at least 2 "
            f"(splits present: {sorted(predictions['split'].unique())})"
        )
    return rows


def metrics_row(
    predictions: pd.DataFrame,
    model: str,
    cell_type: str,
    split: str = "test",
    mask_ratio: float | None = None,
    mask_ratio_no_centre: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """One row of a results table (keys = TABLE_COLUMNS, source 'ours') from one model's predictions."""
    rows = _split_rows(predictions, split, f"{model} in {cell_type}")
    target, prediction = rows["target"].to_numpy(float), rows["prediction"].to_numpy(float)
    try:
        metrics = regression_metrics(target, prediction)
    except ValueError as error:
        raise ValueError(f"predictions of {model} in {cell_type}, split {split}: {error}") from None
    low, high = bootstrap_pearson_ci(target, prediction, n_boot=n_boot, seed=seed)
    return dict(
        model=model,
        cell_type=cell_type,
        source="ours",
        split=split,
        n_genes=len(rows),
        **metrics,
        pearson_ci_low=low,
        pearson_ci_high=high,
        mask_ratio=math.nan if mask_ratio is None else float(mask_ratio),
        mask_ratio_no_centre=math.nan if mask_ratio_no_centre is None else float(mask_ratio_no_centre),
    )


# --- tables -----------------------------------------------------------------------------------


def _empty_row(model: str, cell_type: str, source: str, split: str) -> dict:
    row = {column: math.nan for column in TABLE_COLUMNS}
    row.update(model=model, cell_type=cell_type, source=source, split=split, n_genes=pd.NA)
    return row


def results_table(
    rows: list[dict],
    models: list[str],
    cell_types: list[str],
    paper: pd.DataFrame = PAPER_RESULTS,
    extra: list[dict] = (),
) -> pd.DataFrame:
    """Tidy table: for every model x cell type an 'ours' row (all metrics NA where `rows` has no run
    of it), the `extra` rows of that model and cell type (another source, e.g. the authors' weights
    on our features) and a 'paper' row where the paper reports one; ordered by `models`, then
    `cell_types`, ours before the others. Rows of models not in `models` are left out."""
    ours = {}
    for row in rows:
        if set(row) != set(TABLE_COLUMNS):
            raise ValueError(f"a results row must have exactly the keys {TABLE_COLUMNS}; got {sorted(row)}")
        key = (row["model"], row["cell_type"])
        if key in ours:
            raise ValueError(f"two result rows for model {key[0]} in cell type {key[1]}")
        ours[key] = row
    splits = {row["split"] for row in rows} or {"test"}
    if len(splits) > 1:
        raise ValueError(f"result rows mix splits {sorted(splits)}; a table reports one split")
    split = splits.pop()
    paper_rows = {(r["model"], r["cell_type"]): r for r in paper.to_dict("records")}
    table = []
    for model in models:
        for cell in cell_types:
            table.append(ours.get((model, cell), _empty_row(model, cell, "ours", split)))
            table += [row for row in extra if (row["model"], row["cell_type"]) == (model, cell)]
            if (model, cell) in paper_rows:
                table.append(paper_rows[(model, cell)])
    return _typed(pd.DataFrame(table, columns=TABLE_COLUMNS))


def _number(value, digits: int = 4) -> str:
    return "NA" if pd.isna(value) else f"{value:.{digits}f}"


def _percent(value) -> str:
    return "NA" if pd.isna(value) else f"{100 * value:.2f}%"


def _pearson_cell(row) -> str:
    if pd.isna(row["pearson"]):
        return "NA"
    if pd.isna(row["pearson_ci_low"]):
        return _number(row["pearson"])
    return f"{_number(row['pearson'])} [{_number(row['pearson_ci_low'])}, {_number(row['pearson_ci_high'])}]"


def _markdown_grid(header: list[str], lines: list[list[str]]) -> str:
    rows = [header, ["---"] * len(header), *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def render_markdown(
    table: pd.DataFrame,
    models: list[str],
    cell_types: list[str],
    title: str,
    mask_ratios: bool | None = None,
    preamble: str = "",
) -> str:
    """The paper's layout: one row per model, cell types side by side (MSE, MAE, Pearson [95% CI]
    each), an 'ours' block, one for rows of source PROMOTER_ACTIVE_SOURCE or AUTHORS_SOURCE where
    present, and a 'paper' block; `preamble` (markdown) goes between the title and the blocks.
    Mask-ratio columns (with and without the forced central region) are shown when `mask_ratios` is
    true, or, when it is None, wherever any row of these models has a mask ratio (pass False for
    Table 1 to keep the paper's layout)."""
    table = table[table["model"].isin(models) & table["cell_type"].isin(cell_types)]
    if mask_ratios is None:
        mask_ratios = bool(table[["mask_ratio", "mask_ratio_no_centre"]].notna().to_numpy().any())
    header = ["model"]
    for cell in cell_types:
        header += [f"{cell} MSE", f"{cell} MAE", f"{cell} Pearson [95% CI]"]
        if mask_ratios:
            header += [f"{cell} mask ratio", f"{cell} mask ratio w/o centre"]
    parts = [f"# {title}", *([preamble] if preamble else [])]
    blocks = [("ours", "Ours"), ("paper", "Paper")]
    if (table["source"] == AUTHORS_SOURCE).any():
        blocks.insert(1, (AUTHORS_SOURCE, "The authors' weights on our features"))
    if (table["source"] == PROMOTER_ACTIVE_SOURCE).any():
        blocks.insert(
            1,
            (
                PROMOTER_ACTIVE_SOURCE,
                "Ours, genes with an active promoter (a MACS3 DNase peak within the promoter region)",
            ),
        )
    for source, label in blocks:
        rows = table[table["source"] == source].set_index(["model", "cell_type"])
        lines = []
        for model in models:
            line = [model]
            for cell in cell_types:
                row = rows.loc[(model, cell)] if (model, cell) in rows.index else _empty_row(model, cell, source, "")
                line += [_number(row["mse"]), _number(row["mae"]), _pearson_cell(row)]
                if mask_ratios:
                    line += [_percent(row["mask_ratio"]), _percent(row["mask_ratio_no_centre"])]
            lines.append(line)
        parts.append(f"## {label}{_block_note(table, source)}\n\n{_markdown_grid(header, lines)}")
    return "\n\n".join(parts) + "\n"


def _block_note(table: pd.DataFrame, source: str) -> str:
    if source == "paper":
        return " (published test-set numbers; no intervals)"
    rows = table[table["source"] == source]
    counts = ", ".join(
        f"{cell} n = {int(n)}"
        for cell, n in rows.dropna(subset=["n_genes"]).groupby("cell_type", sort=False)["n_genes"].max().items()
    )
    split = rows["split"].iloc[0] if len(rows) else "test"
    return f" ({split} genes{': ' + counts if counts else ''}; NA = no run yet)"


# --- paired comparison ------------------------------------------------------------------------


def _paired_statistics(target: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """model minus reference for each metric, along the last axis (one value per resample)."""
    error_a, error_b = a - target, b - target
    return {
        "mse": (error_a**2).mean(axis=-1) - (error_b**2).mean(axis=-1),
        "mae": np.abs(error_a).mean(axis=-1) - np.abs(error_b).mean(axis=-1),
        "pearson": _pearson_rows(target, a) - _pearson_rows(target, b),
    }


def paired_comparison(
    predictions_by_model: dict[str, pd.DataFrame],
    reference: str = SOFT_MODEL,
    split: str = "test",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Each model against `reference` on the genes both predicted (joined on gene_id): the
    difference model - reference in MSE, MAE and Pearson on all genes, its paired percentile
    bootstrap interval (the same resampled genes for both models) and the fraction of resamples in
    which the model is better (lower MSE/MAE, higher Pearson). Tidy: one row per model x metric."""
    if reference not in predictions_by_model:
        raise ValueError(
            f"reference model {reference} has no predictions; models given: {sorted(predictions_by_model)}"
        )
    ref = _split_rows(predictions_by_model[reference], split, reference)
    rows = []
    for model, predictions in predictions_by_model.items():
        if model == reference:
            continue
        joined = _split_rows(predictions, split, model).merge(ref, on="gene_id", suffixes=("", "_ref"))
        if len(joined) < 2:
            raise ValueError(f"{model} and {reference} share {len(joined)} gene(s) in split {split}; need 2")
        try:
            target, a = _checked_pair(joined["target"], joined["prediction"])
            b = _checked_pair(target, joined["prediction_ref"])[1]
        except ValueError as error:
            raise ValueError(f"comparing {model} with {reference}, split {split}: {error}") from None
        differs = ~np.isclose(target, joined["target_ref"].to_numpy(float))
        if differs.any():
            raise ValueError(
                f"{model} and {reference} have different targets for the same genes (e.g. "
                f"{joined['gene_id'].iloc[np.flatnonzero(differs)[0]]}): predictions of different "
                f"cell types or target definitions"
            )
        point = _paired_statistics(target, a, b)
        idx = _resample_indices(len(target), n_boot, seed)
        resampled = _paired_statistics(target[idx], a[idx], b[idx])
        for metric in COMPARISON_METRICS:
            low, high = _interval(resampled[metric], level)
            sign = 1 if HIGHER_IS_BETTER[metric] else -1
            defined = resampled[metric][np.isfinite(resampled[metric])]
            rows.append(
                dict(
                    model=model,
                    reference=reference,
                    split=split,
                    n_genes=len(joined),
                    metric=metric,
                    difference=float(point[metric]),
                    ci_low=low,
                    ci_high=high,
                    fraction_better=float(np.mean(sign * defined > 0)) if len(defined) else math.nan,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "reference",
            "split",
            "n_genes",
            "metric",
            "difference",
            "ci_low",
            "ci_high",
            "fraction_better",
        ],
    )


def render_paired_markdown(comparisons: dict[str, pd.DataFrame], models: list[str], title: str) -> str:
    """Table 1's first comparison: per model (rows, in `models` order) and cell type (the keys of
    `comparisons`, each a `paired_comparison` of that cell type), the paired differences to the
    reference in Pearson r and MSE with their 95% intervals."""
    header = ["model"]
    for cell in comparisons:
        header += [f"{cell} dPearson [95% CI]", f"{cell} dMSE [95% CI]"]
    by_cell = {cell: c.set_index(["model", "metric"]) for cell, c in comparisons.items()}
    lines = []
    for model in models:
        if not any(model in c.index.get_level_values("model") for c in by_cell.values()):
            continue
        line = [model]
        for c in by_cell.values():
            for metric in ("pearson", "mse"):
                r = c.loc[(model, metric)] if (model, metric) in c.index else None
                line.append("NA" if r is None else f"{r['difference']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]")
        lines.append(line)
    counts = ", ".join(f"{cell} n = {int(c['n_genes'].max())}" for cell, c in comparisons.items() if len(c))
    return f"### {title} ({counts})\n\n{_markdown_grid(header, lines)}"


def render_comparison_markdown(comparison: pd.DataFrame, title: str) -> str:
    """One row per model: each metric's difference to the reference [95% CI] and P(better)."""
    header = ["model", "n genes"]
    for metric in COMPARISON_METRICS:
        header += [f"d{metric.upper() if metric != 'pearson' else 'Pearson'} [95% CI]", f"P(better, {metric})"]
    lines = []
    for model, rows in comparison.groupby("model", sort=False):
        by_metric = rows.set_index("metric")
        line = [model, str(int(rows["n_genes"].iloc[0]))]
        for metric in COMPARISON_METRICS:
            r = by_metric.loc[metric]
            line += [
                f"{r['difference']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]",
                _number(r["fraction_better"], 3),
            ]
        lines.append(line)
    reference = comparison["reference"].iloc[0] if len(comparison) else "reference"
    note = (
        f"Differences are model - {reference} on the same genes (paired bootstrap over genes); "
        f"P(better) is the fraction of resamples where the model beats {reference}."
    )
    return f"# {title}\n\n{note}\n\n{_markdown_grid(header, lines)}\n"
