"""Discovery scoring: average precision, window coordinates, eligibility, truth elements and decoys."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.evaluation.discovery import (
    TABLE_COLUMNS,
    GeneWindow,
    Window,
    average_precision,
    base_labels,
    discovery_table,
    element_scores,
    eligible_positions,
    gene_elements,
    gene_window,
    per_base_auprc,
    per_element_auprc,
    precision_recall,
    read_elements,
    read_truth_bed,
    render_discovery_markdown,
    top_k_selection,
    window_interval,
)
from seq2exp.features.genome import central_slice

# --- average precision ------------------------------------------------------------------------


def brute_force_ap(labels, scores):
    """Enumerate thresholds: at each distinct score t (high to low), precision and recall of
    'score >= t'; AP = sum of recall gains x precision."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    ap, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        precision = (labels & chosen).sum() / chosen.sum()
        recall = (labels & chosen).sum() / labels.sum()
        ap += (recall - previous_recall) * precision
        previous_recall = recall
    return ap


def test_average_precision_hand_computed():
    # positives ranked 1st and 3rd: (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)
    assert average_precision([1, 1, 0, 0], [4, 3, 2, 1]) == pytest.approx(1.0)
    # positives ranked last: (1/3 + 2/4) / 2
    assert average_precision([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx(5 / 12)


def test_average_precision_groups_tied_scores():
    # 0.9 (negative) alone: recall 0; then both 0.5s at once: recall 1 at precision 2/3.
    assert average_precision([0, 1, 1, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(2 / 3)
    # A tie between a positive and a negative is worth precision 1/2, whichever comes first.
    assert average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_all_equal_scores_give_the_fraction_of_positives():
    assert average_precision([1, 0, 0, 1, 0], np.zeros(5)) == pytest.approx(0.4)


def test_average_precision_matches_threshold_enumeration_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.random(60) < 0.3
        scores = np.round(rng.random(60) + 0.3 * labels, 1)  # many ties
        assert average_precision(labels, scores) == pytest.approx(brute_force_ap(labels, scores))


def test_average_precision_without_ties_is_mean_precision_at_each_positive():
    rng = np.random.default_rng(1)
    labels = rng.random(200) < 0.2
    scores = rng.random(200) + 0.5 * labels
    rank = np.argsort(-scores)
    hits = np.cumsum(labels[rank])
    expected = np.mean((hits / np.arange(1, 201))[labels[rank]])
    assert average_precision(labels, scores) == pytest.approx(expected)


def test_average_precision_edge_cases():
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        average_precision([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="differ in length"):
        average_precision([1, 0, 1], [0.1, 0.2])


# --- coordinates and eligibility --------------------------------------------------------------


def stored_window(track: np.ndarray, tss: int, half_width: int, minus: bool, reverse_minus: bool) -> np.ndarray:
    """A genome track cut to a gene's window as the store does it (flipped for reversed minus genes)."""
    window = track[tss - half_width : tss + half_width]
    return window[::-1] if (minus and reverse_minus) else window


@pytest.mark.parametrize("minus, reverse_minus", [(False, False), (True, False), (False, True), (True, True)])
def test_window_interval_points_at_the_same_bases_as_the_stored_window(minus, reverse_minus):
    genome_positions = np.arange(5000)
    tss, half_width = 2000, 300
    window = stored_window(genome_positions, tss, half_width, minus, reverse_minus)
    for start, end in [(1750, 1790), (2000, 2001), (1699, 1705), (2290, 2400)]:
        i, j = window_interval(start, end, tss, half_width, minus, reverse_minus)
        expected = set(range(max(start, 1700), min(end, 2300)))
        assert set(window[i:j].tolist()) == expected and j - i == len(expected)


def test_window_interval_of_a_reversed_minus_gene_by_hand():
    # window [900, 1100) read from 1099 down to 900: genome [950, 960) sits at indices [140, 150)
    assert window_interval(950, 960, 1000, 100, minus=True, reverse_minus=True) == (140, 150)
    assert window_interval(950, 960, 1000, 100, minus=True, reverse_minus=False) == (50, 60)
    assert window_interval(0, 800, 1000, 100) == (0, 0)
    assert window_interval(1100, 1200, 1000, 100, minus=True, reverse_minus=True) == (0, 0)


def test_eligible_positions_exclude_centre_blacklist_and_n():
    length = 40
    blacklist = np.zeros(length, bool)
    blacklist[3:6] = True
    n_mask = np.zeros(length, bool)
    n_mask[:2] = True
    eligible = eligible_positions(length, 10, blacklist, n_mask)
    expected = np.ones(length, bool)
    expected[[0, 1, 3, 4, 5]] = False
    expected[central_slice(length, 10)] = False
    assert np.array_equal(eligible, expected)
    assert eligible.sum() == length - 5 - 10


def test_eligible_positions_check_the_mask_lengths():
    with pytest.raises(ValueError, match=r"blacklist_mask has shape \(39,\); expected \(40,\)"):
        eligible_positions(40, 10, np.zeros(39, bool), np.zeros(40, bool))


# --- truth and decoys -------------------------------------------------------------------------

TRUTH_BED = """#chrom\tstart\tend\tname\tscore\tstrand\tgene_id\tkind\tcontribution\tcontact
chr1\t995\t1005\tG1|E1\t100\t.\tG1\tpromoter\t10.0\t1.0
chr1\t1050\t1060\tG1|E3\t50\t.\tG1\tenhancer\t2.5\t0.8
chr1\t1500\t1510\tG2|E5\t50\t.\tG2\tenhancer\t1.0\t1.2
"""
ELEMENTS = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chr1", "chr1", "chr1", "chr1", "chr2"],
        "start": [995, 920, 1050, 1070, 1085, 1500, 1050],
        "end": [1005, 930, 1060, 1080, 1095, 1510, 1060],
        "element_id": ["E1", "E2", "E3", "E4", "E6", "E5", "E7"],
        "kind": ["promoter", "ctcf_open", "enhancer", "closed_motifs", "enhancer", "enhancer", "enhancer"],
    }
)
WINDOW = Window("chr1", tss=1000, half_width=100)


@pytest.fixture
def truth(tmp_path):
    path = tmp_path / "K562.causal_elements.bed"
    path.write_text(TRUTH_BED)
    return read_truth_bed(str(path))


def test_read_truth_bed_reads_the_demo_layout(truth):
    assert truth.columns[:7].tolist() == ["chrom", "start", "end", "name", "score", "strand", "gene_id"]
    assert truth["start"].tolist() == [995, 1050, 1500] and truth["kind"].tolist()[1] == "enhancer"
    assert truth["contribution"].tolist() == [10.0, 2.5, 1.0]


def test_read_truth_bed_accepts_a_user_bed_without_kind(tmp_path):
    path = tmp_path / "user.bed"
    path.write_text("chr1\t100\t150\tenh1\t0\t.\tG1\n")
    truth = read_truth_bed(str(path))
    assert truth["kind"].tolist() == ["element"] and truth["contribution"].isna().all()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("short.bed", "chr1\t1\t5\tx\n", r"short.bed: a truth BED needs at least 7 columns"),
        ("backwards.bed", "chr1\t9\t5\tx\t0\t.\tG1\n", r"backwards.bed: interval chr1:9-5 has end <= start"),
        ("empty.bed", "chr1\t5\t5\tx\t0\t.\tG1\n", r"empty.bed: interval chr1:5-5 has end <= start"),
        (
            "negative.bed",
            "chr1\t1\t5\tx\t0\t.\tG1\nchr1\t-3\t5\ty\t0\t.\tG1\n",
            r"negative.bed: column start must hold non-negative integers; row 2 has '-3'",
        ),
    ],
)
def test_read_truth_bed_errors_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_truth_bed(str(path))


def test_gene_elements_label_own_truth_and_every_other_element_in_the_window(truth):
    elements = gene_elements(WINDOW, "G1", truth, ELEMENTS)
    as_tuples = set(map(tuple, elements[["start", "end", "label", "kind"]].itertuples(index=False)))
    assert as_tuples == {
        (95, 105, 1, "promoter"),
        (150, 160, 1, "enhancer"),  # G1's own elements
        (20, 30, 0, "ctcf_open"),
        (170, 180, 0, "closed_motifs"),
        (185, 195, 0, "enhancer"),
    }  # G2's enhancer at 1500 and chr2's element lie outside the window
    labels = base_labels(WINDOW.length, elements)
    assert labels.sum() == 20 and labels[95:105].all() and labels[150:160].all()


def test_gene_elements_of_a_reversed_minus_gene_are_flipped(truth):
    window = Window("chr1", tss=1000, half_width=100, minus=True, reverse_minus=True)
    elements = gene_elements(window, "G1", truth, ELEMENTS)
    assert (40, 50, 1) in set(map(tuple, elements[["start", "end", "label"]].itertuples(index=False)))


def test_gene_elements_tile_a_background_without_an_elements_table(truth):
    elements = gene_elements(WINDOW, "G1", truth, background_bp=50)
    background = elements[elements["label"] == 0]
    # tiles [0,50) [50,100) [100,150) [150,200): the 2nd and 3rd overlap the promoter, the 4th the enhancer
    assert list(zip(background["start"], background["end"])) == [(0, 50)]
    assert (background["kind"] == "background").all()
    with pytest.raises(ValueError, match="decoys .* or background_bp"):
        gene_elements(WINDOW, "G1", truth)


def test_element_score_is_the_mean_over_eligible_bases_of_mostly_eligible_elements():
    eligible = np.ones(20, bool)
    eligible[2:4] = False  # 2 of element A's 4 bases: exactly half eligible, still scored
    eligible[10:13] = False  # 3 of element B's 4 bases: not scored
    scores = np.zeros(20)
    scores[0:4] = [1.0, 3.0, 100.0, 100.0]  # blacklisted bases with a high score must not count
    elements = pd.DataFrame({"start": [0, 10], "end": [4, 14], "label": [1, 0], "kind": ["a", "b"]})
    gene = GeneWindow(base_labels(20, elements), eligible, {"m": scores}, elements)
    scored = element_scores(gene, "m")
    assert scored["kind"].tolist() == ["a"] and scored["score"].tolist() == [2.0]


# --- pooled scoring ---------------------------------------------------------------------------


def test_per_base_auprc_pools_genes_and_ignores_ineligible_bases():
    labels = np.array([1, 0, 0, 1, 0, 0], bool)
    eligible = np.array([1, 1, 1, 1, 1, 0], bool)
    # the ineligible last base outranks everything; counted, it would cost precision
    a = GeneWindow(labels, eligible, {"m": np.array([0.9, 0.1, 0.2, 0.8, 0.3, 5.0])})
    b = GeneWindow(labels, eligible, {"m": np.array([0.7, 0.6, 0.1, 0.1, 0.1, 5.0])})
    # pooled eligible ranking: .9+ .8+ .7+ .6- .3- .2- then a tie .1 (1+, 3-): AP = 3/4 + 1/4 x 4/10
    assert per_base_auprc([a, b])["m"] == pytest.approx(0.75 + 0.25 * 0.4)
    as_tuples = [(labels.astype(int), eligible.astype(int), g.scores) for g in (a, b)]
    assert per_base_auprc(as_tuples)["m"] == pytest.approx(0.75 + 0.25 * 0.4)


def test_per_base_auprc_requires_every_method_in_every_gene():
    a = GeneWindow(np.array([1, 0], bool), np.ones(2, bool), {"m": np.zeros(2), "n": np.zeros(2)}, gene_id="A")
    b = GeneWindow(np.array([1, 0], bool), np.ones(2, bool), {"m": np.zeros(2)}, gene_id="B")
    with pytest.raises(ValueError, match="gene B has no scores for method n"):
        per_base_auprc([a, b])


def test_precision_recall_counts_only_eligible_bases():
    labels = np.array([1, 1, 0, 0, 1, 0], bool)
    selected = np.array([1, 0, 1, 0, 1, 1], bool)
    eligible = np.array([1, 1, 1, 1, 0, 0], bool)
    # eligible: selected {0, 2}, truth {0, 1}: one hit
    assert precision_recall(labels, selected, eligible) == (0.5, 0.5)
    assert precision_recall(labels, np.zeros(6, bool), eligible)[1] == 0.0
    assert math.isnan(precision_recall(labels, np.zeros(6, bool), eligible)[0])


def test_top_k_selection_takes_the_highest_eligible_scores():
    scores = np.array([9.0, 1, 5, 7, 3, 7, 2, 0, 4, 6])
    eligible = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], bool)
    selection = top_k_selection(scores, eligible, 0.34)  # round(0.34 x 9) = 3 of the 9 eligible bases
    assert np.flatnonzero(selection).tolist() == [3, 5, 9]
    assert not top_k_selection(scores, eligible, 0.0).any()
    with pytest.raises(ValueError, match="ratio"):
        top_k_selection(scores, eligible, 1.5)


def test_discovery_table_layout_and_rendering(truth):
    eligible = eligible_positions(WINDOW.length, 20, np.zeros(200, bool), np.zeros(200, bool))
    oracle = np.zeros(200)
    oracle[150:160] = 1.0
    flat = np.zeros(200)
    gene = gene_window(
        WINDOW,
        "G1",
        truth,
        eligible,
        {"oracle": oracle, "flat": flat},
        selections={"hard": oracle > 0},
        decoys=ELEMENTS,
    )
    table = discovery_table({"K562": [gene]})
    assert list(table.columns) == TABLE_COLUMNS
    rows = table.set_index(["method", "level"])
    assert rows.loc[("oracle", "base"), "auprc"] == 1.0 and rows.loc[("oracle", "element"), "auprc"] == 1.0
    # the promoter sits in the central region: elements scored are the enhancer and 3 decoys
    assert rows.loc[("flat", "element"), "auprc"] == pytest.approx(1 / 4)
    assert rows.loc[("chance", "element"), "auprc"] == pytest.approx(1 / 4)
    assert rows.loc[("chance", "base"), "auprc"] == pytest.approx(10 / eligible.sum())
    assert rows.loc[("hard", "base"), ["precision", "recall"]].tolist() == [1.0, 1.0]
    assert math.isnan(rows.loc[("hard", "base"), "auprc"]) and math.isnan(rows.loc[("oracle", "base"), "recall"])
    text = render_discovery_markdown(table)
    assert "| oracle | 1.0000 | 1.0000 | NA | NA |" in text
    assert "| hard | NA | NA | 1.0000 | 1.0000 |" in text


# --- on the demo's own truth files ------------------------------------------------------------


def test_demo_truth_scored_against_itself_is_perfect_in_either_orientation(tiny_demo, tiny_demo_paths):
    """A genome track that marks each gene's causal elements, cut and flipped as the store cuts its
    windows, must score AUPRC 1 against the labels built from the truth files."""
    truth_dir = Path(tiny_demo_paths.truth_dir)
    truth = read_truth_bed(str(truth_dir / "K562.causal_elements.bed"))
    elements = read_elements(str(truth_dir / "elements.tsv"))
    half_width, central = tiny_demo.spec.window_half_width, tiny_demo.spec.central_region
    padded = {c: len(s) + 2 * half_width for c, s in tiny_demo.sequence.items()}
    minus_genes = 0
    genes = []
    for g in tiny_demo.genes.itertuples():
        minus = g.strand == "-"
        minus_genes += minus
        track = np.zeros(padded[g.chrom])  # shifted by half_width so windows never run off the array
        for e in truth[truth["gene_id"] == g.gene_id].itertuples():
            track[e.start + half_width : e.end + half_width] = 1.0
        oracle = stored_window(track, g.tss + half_width, half_width, minus, reverse_minus=True)
        window = Window(g.chrom, g.tss, half_width, minus, reverse_minus=True)
        eligible = eligible_positions(
            window.length, central, np.zeros(window.length, bool), np.zeros(window.length, bool)
        )
        genes.append(gene_window(window, g.gene_id, truth, eligible, {"oracle": oracle}, decoys=elements))
    assert minus_genes > 0
    assert per_base_auprc(genes)["oracle"] == pytest.approx(1.0)
    assert per_element_auprc(genes)["oracle"] == pytest.approx(1.0)
    kinds = set(pd.concat([g.elements[g.elements["label"] == 0] for g in genes])["kind"])
    assert {"ctcf_open", "closed_motifs", "enhancer"} <= kinds
