"""Mask tracks: bigWig of the soft mask and BED of the elements, in genome orientation."""

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from seq2exp.evaluation.tracks import BED_COLUMNS, mask_elements, write_mask_bed, write_mask_bigwig

HALF_WIDTH = 20
WINDOW = 2 * HALF_WIDTH
CHROM_SIZES = {"chr2": 300, "chr1": 200}  # not in name order: the header must keep this order


def gene_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["gene_id", "chrom", "tss", "strand"])


def bigwig_values(path, chrom) -> np.ndarray:
    bw = pyBigWig.open(str(path))
    values = np.asarray(bw.values(chrom, 0, bw.chroms(chrom)), dtype=np.float32)
    bw.close()
    return values


def expected_track(genes, masks, reverse_minus, chrom) -> np.ndarray:
    """Base by base: the max over the windows covering the position, NaN where none does."""
    track = np.full(CHROM_SIZES[chrom], np.nan, dtype=np.float32)
    for (_, gene), mask in zip(genes.iterrows(), masks):
        if gene["chrom"] != chrom:
            continue
        oriented = mask[::-1] if reverse_minus and gene["strand"] == "-" else mask
        for offset, value in enumerate(oriented):
            position = gene["tss"] - HALF_WIDTH + offset
            if 0 <= position < len(track):
                track[position] = value if np.isnan(track[position]) else max(track[position], value)
    return track


@pytest.fixture
def genes():
    return gene_table(
        [
            ("PLUS", "chr1", 60, "+"),
            ("MINUS", "chr1", 140, "-"),
            ("OVERLAP", "chr1", 155, "+"),  # window [135, 175) overlaps MINUS's [120, 160)
            ("START", "chr2", 5, "-"),  # window [-15, 25): 15 bases of padding
            ("END", "chr2", 290, "+"),  # window [270, 310): 10 bases of padding
        ]
    )


@pytest.fixture
def soft_masks(genes):
    return np.random.default_rng(0).random((len(genes), WINDOW), dtype=np.float32)


@pytest.mark.parametrize("reverse_minus", [True, False])
def test_bigwig_values_are_the_genome_oriented_max_of_the_windows(tmp_path, genes, soft_masks, reverse_minus):
    path = write_mask_bigwig(genes, soft_masks, HALF_WIDTH, reverse_minus, CHROM_SIZES, str(tmp_path / "m.bw"))
    for chrom in CHROM_SIZES:
        np.testing.assert_array_equal(
            bigwig_values(path, chrom), expected_track(genes, soft_masks, reverse_minus, chrom)
        )


def test_minus_strand_mask_is_flipped_back_to_genome_orientation(tmp_path):
    genes = gene_table([("MINUS", "chr1", 100, "-")])
    mask = np.zeros((1, WINDOW), dtype=np.float32)
    mask[0, 0] = 0.9  # stored index 0 of a reverse-complemented window = genome position tss + hw - 1
    for reverse_minus, position in ((True, 100 + HALF_WIDTH - 1), (False, 100 - HALF_WIDTH)):
        path = write_mask_bigwig(genes, mask, HALF_WIDTH, reverse_minus, CHROM_SIZES, str(tmp_path / "m.bw"))
        values = bigwig_values(path, "chr1")
        assert values[position] == pytest.approx(0.9)
        assert np.nansum(values) == pytest.approx(0.9)


def test_overlapping_windows_take_the_max(tmp_path):
    genes = gene_table([("A", "chr1", 50, "+"), ("B", "chr1", 60, "+")])  # overlap [40, 70)
    masks = np.full((2, WINDOW), 0.25, dtype=np.float32)
    masks[1, :] = 0.75
    masks[0, 25] = 1.0  # genome position 55, inside the overlap
    values = bigwig_values(
        write_mask_bigwig(genes, masks, HALF_WIDTH, False, CHROM_SIZES, str(tmp_path / "m.bw")), "chr1"
    )
    assert (values[30:40] == 0.25).all()
    assert (values[40:55] == 0.75).all() and values[55] == 1.0 and (values[56:80] == 0.75).all()
    assert np.isnan(values[:30]).all() and np.isnan(values[80:]).all()


def test_bigwig_header_runs_and_uncovered_bases(tmp_path):
    genes = gene_table([("A", "chr1", 50, "+"), ("B", "chr1", 150, "+")])
    masks = np.zeros((2, WINDOW), dtype=np.float32)
    masks[0, 10:20] = 0.5
    path = write_mask_bigwig(genes, masks, HALF_WIDTH, False, CHROM_SIZES, str(tmp_path / "m.bw"))
    bw = pyBigWig.open(path)
    assert list(bw.chroms().items()) == list(CHROM_SIZES.items())
    # zeros are data (the mask is 0 there); runs of equal value are one interval each
    assert bw.intervals("chr1") == ((30, 40, 0.0), (40, 50, 0.5), (50, 70, 0.0), (130, 170, 0.0))
    assert bw.intervals("chr2") is None
    bw.close()


def test_small_blocks_give_the_same_track(tmp_path, genes, soft_masks):
    whole = write_mask_bigwig(genes, soft_masks, HALF_WIDTH, True, CHROM_SIZES, str(tmp_path / "whole.bw"))
    blocks = write_mask_bigwig(
        genes, soft_masks, HALF_WIDTH, True, CHROM_SIZES, str(tmp_path / "blocks.bw"), block_size=7
    )
    for chrom in CHROM_SIZES:
        np.testing.assert_array_equal(bigwig_values(blocks, chrom), bigwig_values(whole, chrom))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda g, m: (g, m[:, :-1]), "shape"),
        (lambda g, m: (g.assign(chrom="chr9"), m), "chr9"),
        (lambda g, m: (g.assign(strand="."), m), "strand"),
        (lambda g, m: (g.drop(columns="tss"), m), "tss"),
        (lambda g, m: (g, np.where(np.arange(WINDOW) == 3, np.nan, m)), "non-finite"),
    ],
)
def test_bad_input_is_refused_without_output(tmp_path, genes, soft_masks, change, message):
    bad_genes, bad_masks = change(genes, soft_masks)
    path = tmp_path / "m.bw"
    with pytest.raises(ValueError, match=message):
        write_mask_bigwig(bad_genes, bad_masks, HALF_WIDTH, True, CHROM_SIZES, str(path))
    assert list(tmp_path.iterdir()) == []


def test_elements_are_runs_at_or_above_threshold_with_mean_score():
    genes = gene_table([("G", "chr1", 100, "+")]).assign(gene_name="NAME")
    mask = np.zeros((1, WINDOW), dtype=np.float32)
    mask[0, 2:5] = [0.6, 0.8, 0.5]  # 0.5 itself is selected, as by the hard mask
    mask[0, 10] = 0.49
    mask[0, 30:32] = 1.0
    elements = mask_elements(genes, mask, HALF_WIDTH, False, CHROM_SIZES)
    assert list(elements.columns) == BED_COLUMNS
    assert elements[["start", "end", "score", "name", "strand", "gene_id"]].values.tolist() == [
        [82, 85, 633, "NAME|G", "+", "G"],
        [110, 112, 1000, "NAME|G", "+", "G"],
    ]
    assert elements["mean_mask"].tolist() == pytest.approx([1.9 / 3, 1.0])
    assert mask_elements(genes, mask, HALF_WIDTH, False, CHROM_SIZES, min_length=3)["start"].tolist() == [82]


def test_a_gene_without_a_name_is_named_by_its_id():
    genes = gene_table(
        [("G1", "chr1", 100, "+"), ("G2", "chr1", 100, "+"), ("G3", "chr1", 100, "+"), ("G4", "chr1", 100, "+")]
    ).assign(gene_name=["A", "", None, " "])
    masks = np.ones((4, WINDOW), dtype=np.float32)
    elements = mask_elements(genes, masks, HALF_WIDTH, False, CHROM_SIZES)
    assert dict(zip(elements["gene_id"], elements["name"])) == {"G1": "A|G1", "G2": "G2", "G3": "G3", "G4": "G4"}


def selected_genome_positions(elements, gene_id) -> set[int]:
    records = elements[elements["gene_id"] == gene_id]
    return {p for start, end in zip(records["start"], records["end"]) for p in range(start, end)}


def test_bed_bases_of_each_gene_equal_its_hard_mask_ratio(genes):
    """Per gene: the hard mask's ratio = the bases of the gene's records / window length, and the
    records sit exactly on the selected positions in genome orientation (minus strand flipped
    back; windows over both chromosome ends, whose padding the mask does not select)."""
    rng = np.random.default_rng(1)
    hard = (rng.random((len(genes), WINDOW)) < 0.3).astype(np.float32)
    hard[3, WINDOW - 15 :] = 0  # START's padding, genome [-15, 0): the stored end of a flipped window
    hard[4, 30:] = 0  # END's padding
    elements = mask_elements(genes, hard, HALF_WIDTH, True, CHROM_SIZES)
    for (_, gene), mask in zip(genes.iterrows(), hard):
        records = elements[elements["gene_id"] == gene["gene_id"]]
        assert (records["end"] - records["start"]).sum() / WINDOW == pytest.approx(np.mean(mask >= 0.5))
        oriented = mask[::-1] if gene["strand"] == "-" else mask
        start = gene["tss"] - HALF_WIDTH
        assert selected_genome_positions(elements, gene["gene_id"]) == set(start + np.flatnonzero(oriented))
        assert (records["strand"] == gene["strand"]).all()


def test_selected_padding_is_not_reported():
    genes = gene_table([("START", "chr1", 5, "+"), ("END", "chr1", 195, "+")])  # [-15, 25), [175, 215)
    mask = np.zeros((2, WINDOW), dtype=np.float32)
    mask[0, 10:20] = 1.0  # genome [-5, 5): half of it padding
    mask[1, 20:30] = 1.0  # genome [195, 205): half of it padding
    elements = mask_elements(genes, mask, HALF_WIDTH, False, CHROM_SIZES)
    assert elements[["start", "end"]].values.tolist() == [[0, 5], [195, 200]]


def test_bed_file_is_sorted_with_a_header(tmp_path, genes, soft_masks):
    elements = mask_elements(genes, soft_masks, HALF_WIDTH, True, CHROM_SIZES)
    path = write_mask_bed(elements.sample(frac=1.0, random_state=0), str(tmp_path / "m.bed"))
    with open(path) as handle:
        assert handle.readline() == "#" + "\t".join(BED_COLUMNS) + "\n"
    written = pd.read_csv(path, sep="\t")
    assert list(written.columns) == ["#chrom", *BED_COLUMNS[1:]]
    assert written["#chrom"].is_monotonic_increasing
    for _, chunk in written.groupby("#chrom"):
        assert chunk["start"].is_monotonic_increasing
    assert len(written) == len(elements) > 0
    assert written["score"].between(0, 1000).all()
