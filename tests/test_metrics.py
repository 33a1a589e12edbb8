"""Test metrics, bootstrap intervals, the results tables and paired comparisons."""

import math

import numpy as np
import pandas as pd
import pytest

from seq2exp.evaluation.metrics import (
    PAPER_RESULTS,
    TABLE1_MODELS,
    TABLE2_MODELS,
    TABLE_COLUMNS,
    bootstrap_pearson_ci,
    metrics_row,
    paired_comparison,
    regression_metrics,
    render_comparison_markdown,
    render_markdown,
    results_table,
)


def predictions(target, prediction, split="test", prefix="G", chrom="chr22"):
    n = len(target)
    return pd.DataFrame(
        {
            "gene_id": [f"{prefix}{i}" for i in range(n)],
            "chrom": chrom,
            "split": split,
            "target": np.asarray(target, float),
            "prediction": np.asarray(prediction, float),
        }
    )


def noisy(n, noise, seed=1):
    rng = np.random.default_rng(seed)
    target = rng.normal(size=n)
    return target, target + noise * rng.normal(size=n)


# --- metrics ----------------------------------------------------------------------------------


def test_regression_metrics_match_hand_computed_values():
    # errors 0, 2, -1, 1 -> MSE 6/4, MAE 4/4; deviations (-1.5, -.5, .5, 1.5) and (-2, 1, -1, 2):
    # r = 5 / sqrt(5 x 10) = 1 / sqrt(2)
    metrics = regression_metrics(np.array([1.0, 2, 3, 4]), np.array([1.0, 4, 2, 5]))
    assert metrics["mse"] == pytest.approx(1.5)
    assert metrics["mae"] == pytest.approx(1.0)
    assert metrics["pearson"] == pytest.approx(1 / math.sqrt(2))


def test_regression_metrics_pearson_is_nan_for_a_constant_prediction():
    assert math.isnan(regression_metrics([1.0, 2, 3], [2.0, 2, 2])["pearson"])


@pytest.mark.parametrize("which", ["target", "prediction"])
def test_nan_input_is_an_error_naming_which_array(which):
    values = {"target": np.array([1.0, 2, 3]), "prediction": np.array([1.0, 2, 3])}
    values[which][1] = np.nan
    with pytest.raises(ValueError, match=f"{which} has 1 non-finite value.*position 1"):
        regression_metrics(values["target"], values["prediction"])


def test_bootstrap_ci_is_deterministic_by_seed_and_contains_the_estimate():
    target, prediction = noisy(200, 1.0)
    ci = bootstrap_pearson_ci(target, prediction, n_boot=500, seed=3)
    assert ci == bootstrap_pearson_ci(target, prediction, n_boot=500, seed=3)
    assert ci != bootstrap_pearson_ci(target, prediction, n_boot=500, seed=4)
    r = regression_metrics(target, prediction)["pearson"]
    assert ci[0] < r < ci[1]


def test_bootstrap_ci_narrows_with_more_genes_and_covers_the_true_correlation():
    # prediction = target + noise of SD 1: true r = 1 / sqrt(2)
    widths = []
    for n in (50, 5000):
        low, high = bootstrap_pearson_ci(*noisy(n, 1.0), n_boot=300)
        widths.append(high - low)
    assert widths[1] < widths[0] / 5  # width ~ 1 / sqrt(n): 10x narrower for 100x the genes
    assert low < 1 / math.sqrt(2) < high


def test_bootstrap_ci_width_matches_the_normal_theory_standard_error():
    # For normal data SE(r) = (1 - rho^2) / sqrt(n): rho^2 = 1/2, so a 95% interval spans 2 x 1.96 x 0.5 / sqrt(n).
    n = 2000
    low, high = bootstrap_pearson_ci(*noisy(n, 1.0), n_boot=2000)
    assert 0.93 < (high - low) / (2 * 1.959964 * 0.5 / math.sqrt(n)) < 1.12


def test_bootstrap_ci_level_sets_the_percentiles():
    target, prediction = noisy(100, 1.0)
    wide = bootstrap_pearson_ci(target, prediction, level=0.99)
    narrow = bootstrap_pearson_ci(target, prediction, level=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_metrics_row_uses_only_the_requested_split():
    test = predictions([1.0, 2, 3, 4], [1.0, 4, 2, 5])
    train = predictions([0.0, 10, 0, 10], [10.0, 0, 10, 0], split="train", prefix="T")
    row = metrics_row(
        pd.concat([train, test]), "seq2exp-soft", "K562", n_boot=50, mask_ratio=0.1, mask_ratio_no_centre=0.05
    )
    assert list(row) == TABLE_COLUMNS
    assert row["n_genes"] == 4 and row["source"] == "ours" and row["split"] == "test"
    assert row["mse"] == pytest.approx(1.5) and row["pearson"] == pytest.approx(1 / math.sqrt(2))
    assert (row["mask_ratio"], row["mask_ratio_no_centre"]) == (0.1, 0.05)


def test_metrics_row_errors_name_the_model_and_the_problem():
    bad = predictions([1.0, 2, 3], [1.0, np.nan, 3])
    with pytest.raises(ValueError, match="caduceus in K562.*prediction has 1 non-finite"):
        metrics_row(bad, "caduceus", "K562")
    with pytest.raises(ValueError, match="lack column"):
        metrics_row(bad.drop(columns="chrom"), "caduceus", "K562")
    with pytest.raises(ValueError, match="0 gene.*split 'test'"):
        metrics_row(predictions([1.0, 2], [1.0, 2], split="valid"), "caduceus", "K562")


# --- paper numbers and tables -----------------------------------------------------------------


def test_paper_results_hold_the_published_numbers():
    paper = PAPER_RESULTS.set_index(["model", "cell_type"])
    assert len(paper) == 20 and set(PAPER_RESULTS["source"]) == {"paper"}
    assert paper.loc[("seq2exp-soft", "K562"), "pearson"] == 0.8723
    assert paper.loc[("caduceus-signals", "GM12878"), "mse"] == 0.2080
    assert paper.loc[("enformer", "GM12878"), "mae"] == 0.4721
    assert paper.loc[("seq2exp-retrain", "GM12878"), "pearson"] == 0.8960
    assert paper.loc[("macs3", "K562"), "mask_ratio"] == 0.1361
    assert paper.loc[("macs3", "GM12878"), "mask_ratio"] == 0.1595
    assert paper.loc[("seq2exp-hard", "GM12878"), "mask_ratio"] == 0.0625
    assert paper.loc[("seq2exp-retrain", "K562"), "mask_ratio"] == 0.1
    assert PAPER_RESULTS["n_genes"].isna().all() and PAPER_RESULTS["pearson_ci_low"].isna().all()
    assert set(PAPER_RESULTS["model"]) == set(TABLE1_MODELS + TABLE2_MODELS) - {"features-only"}


@pytest.fixture
def table1():
    rows = [
        metrics_row(predictions(*noisy(40, 0.5)), "seq2exp-soft", "K562", n_boot=50),
        metrics_row(predictions(*noisy(40, 0.8)), "features-only", "GM12878", n_boot=50),
    ]
    return results_table(rows, TABLE1_MODELS, ["K562", "GM12878"])


def test_results_table_has_an_ours_row_per_model_and_cell_type_and_the_paper_rows(table1):
    assert list(table1.columns) == TABLE_COLUMNS
    ours = table1[table1["source"] == "ours"]
    assert list(zip(ours["model"], ours["cell_type"])) == [(m, c) for m in TABLE1_MODELS for c in ["K562", "GM12878"]]
    ran = ours["n_genes"].notna()
    assert set(zip(ours.loc[ran, "model"], ours.loc[ran, "cell_type"])) == {
        ("seq2exp-soft", "K562"),
        ("features-only", "GM12878"),
    }
    assert ours.loc[~ran, ["mse", "mae", "pearson", "pearson_ci_low"]].isna().all().all()
    paper = table1[table1["source"] == "paper"]
    assert len(paper) == 16 and "features-only" not in set(paper["model"])
    assert list(table1["model"].drop_duplicates()) == TABLE1_MODELS
    first = table1[table1["model"] == "enformer"]
    assert list(zip(first["cell_type"], first["source"])) == [
        ("K562", "ours"),
        ("K562", "paper"),
        ("GM12878", "ours"),
        ("GM12878", "paper"),
    ]


def test_results_table_refuses_duplicate_runs_and_mixed_splits():
    row = metrics_row(predictions(*noisy(10, 0.5)), "caduceus", "K562", n_boot=20)
    with pytest.raises(ValueError, match="two result rows for model caduceus in cell type K562"):
        results_table([row, row], TABLE1_MODELS, ["K562"])
    with pytest.raises(ValueError, match="mix splits"):
        results_table([row, dict(row, split="valid", model="mamba")], TABLE1_MODELS, ["K562"])


def test_markdown_shows_both_blocks_na_and_four_decimals(table1):
    text = render_markdown(table1, TABLE1_MODELS, ["K562", "GM12878"], "Table 1", mask_ratios=False)
    ours, paper = text.split("## Ours")[1].split("## Paper")
    assert "| enformer | NA | NA | NA | NA | NA | NA |" in ours
    assert "| enformer | 0.3629 | 0.4714 | 0.7940 | 0.3668 | 0.4721 | 0.7991 |" in paper
    soft = table1[(table1["model"] == "seq2exp-soft") & (table1["source"] == "ours")].iloc[0]
    assert (
        f"| seq2exp-soft | {soft['mse']:.4f} | {soft['mae']:.4f} | {soft['pearson']:.4f} "
        f"[{soft['pearson_ci_low']:.4f}, {soft['pearson_ci_high']:.4f}] | NA |"
    ) in ours
    assert "| features-only | NA | NA | NA | NA | NA | NA |" in paper
    assert "mask ratio" not in text and "K562 n = 40" in ours


def test_the_authors_weights_rows_sit_beside_ours_in_their_own_block():
    ours = metrics_row(predictions(*noisy(40, 0.5)), "seq2exp-soft", "K562", n_boot=50)
    authors = dict(
        metrics_row(predictions(*noisy(30, 0.2, seed=3)), "seq2exp-soft", "K562", n_boot=50), source="authors-weights"
    )
    table = results_table([ours], TABLE1_MODELS, ["K562"], extra=[authors])
    soft = table[table["model"] == "seq2exp-soft"]
    assert list(soft["source"]) == ["ours", "authors-weights", "paper"]
    assert soft.iloc[1]["n_genes"] == 30 and soft.iloc[1]["pearson"] == pytest.approx(authors["pearson"])
    text = render_markdown(table, TABLE1_MODELS, ["K562"], "Table 1", mask_ratios=False)
    block = text.split("## The authors' weights on our features")[1].split("## Paper")[0]
    assert f"| seq2exp-soft | {authors['mse']:.4f} |" in block and "K562 n = 30" in block
    assert "| caduceus | NA | NA | NA |" in block
    assert "authors" not in render_markdown(
        results_table([ours], TABLE1_MODELS, ["K562"]), TABLE1_MODELS, ["K562"], "Table 1", mask_ratios=False
    )


def test_markdown_of_table2_shows_mask_ratios_as_percent():
    row = metrics_row(
        predictions(*noisy(30, 0.5)), "seq2exp-retrain", "K562", n_boot=20, mask_ratio=0.1, mask_ratio_no_centre=0.05263
    )
    table = results_table([row], TABLE2_MODELS, ["K562", "GM12878"])
    text = render_markdown(table, TABLE2_MODELS, ["K562", "GM12878"], "Table 2")
    assert "K562 mask ratio | K562 mask ratio w/o centre" in text
    assert "| 10.00% | 5.26% |" in text.split("## Paper")[0]
    assert "| macs3 | 0.2195 | 0.3455 | 0.8435 | 13.61% | NA | 0.2340 | 0.3654 | 0.8634 | 15.95% | NA |" in text


# --- paired comparison ------------------------------------------------------------------------


def test_paired_comparison_differences_and_fraction_better():
    target = np.arange(20, dtype=float)
    perfect = predictions(target, target)
    worse = predictions(target, target + 1.0)  # MSE 1 and MAE 1 more than the reference, same Pearson
    comparison = paired_comparison({"seq2exp-soft": perfect, "caduceus": worse}, n_boot=200).set_index("metric")
    assert comparison.loc["mse", "difference"] == pytest.approx(1.0)
    assert comparison.loc["mae", "difference"] == pytest.approx(1.0)
    assert comparison.loc["pearson", "difference"] == pytest.approx(0.0)
    assert comparison.loc["mse", "fraction_better"] == 0.0
    assert comparison.loc["mse", ["ci_low", "ci_high"]].tolist() == pytest.approx([1.0, 1.0])
    assert (comparison["model"] == "caduceus").all() and (comparison["n_genes"] == 20).all()


def test_paired_comparison_pairs_genes_by_id_not_by_row_order():
    target, prediction = noisy(60, 0.3)
    reference = predictions(target, prediction)
    same_model = reference.sample(frac=1.0, random_state=0)  # the same predictions, rows shuffled
    comparison = paired_comparison({"seq2exp-soft": reference, "copy": same_model}, n_boot=100)
    assert np.allclose(comparison[["difference", "ci_low", "ci_high"]], 0.0)


def test_paired_interval_is_narrower_than_unpaired_for_correlated_models():
    # Two models with nearly the same errors: pairing cancels the shared gene-to-gene variation.
    rng = np.random.default_rng(5)
    target = rng.normal(size=300)
    shared = rng.normal(size=300)
    a, b = target + shared, target + shared + 0.05 * rng.normal(size=300)
    comparison = paired_comparison(
        {"seq2exp-soft": predictions(target, a), "m": predictions(target, b)}, n_boot=300
    ).set_index("metric")
    paired_width = comparison.loc["pearson", "ci_high"] - comparison.loc["pearson", "ci_low"]
    low_a, high_a = bootstrap_pearson_ci(target, a, n_boot=300, seed=1)
    assert paired_width < (high_a - low_a) / 5


def test_paired_comparison_refuses_mismatched_targets_and_missing_reference():
    target = np.arange(10, dtype=float)
    with pytest.raises(ValueError, match="different targets"):
        paired_comparison({"seq2exp-soft": predictions(target, target), "m": predictions(target + 1, target)})
    with pytest.raises(ValueError, match="reference model seq2exp-soft has no predictions"):
        paired_comparison({"m": predictions(target, target)})


def test_comparison_markdown_lists_each_model_with_signed_differences():
    target = np.arange(20, dtype=float)
    comparison = paired_comparison(
        {"seq2exp-soft": predictions(target, target), "caduceus": predictions(target, target + 1.0)}, n_boot=50
    )
    text = render_comparison_markdown(comparison, "K562: models against seq2exp-soft")
    assert "| caduceus | 20 | +1.0000 [+1.0000, +1.0000] | 0.000 |" in text
    assert "model - seq2exp-soft" in text
