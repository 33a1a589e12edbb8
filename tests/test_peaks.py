"""MACS3 peaks on DNase signal and the per-gene peak mask of the paper's MACS3 baseline."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pybedtools
import pytest

from seq2exp.peaks import (
    PeakSettings,
    bdgpeakcall,
    bigwig_to_bedgraph,
    call_peaks,
    gene_peak_masks,
    mask_ratio,
    mask_ratios,
    peak_mask,
    peak_step,
    read_narrowpeak,
    signal_cutoff,
)

REAL_PEAKS = Path("/work/shared/real/peaks")
REAL_BEDGRAPH = REAL_PEAKS / "macs3_CTCF_chr22_treat_pileup.bdg"
REAL_CALLPEAK = REAL_PEAKS / "macs3_CTCF_chr22_peaks.narrowPeak"
HG19_CHR22 = 51_304_566
# The demo's elements are 50 bp, a tenth of real DNase peaks' scale: MACS3's -l 200 -g 30 scaled down.
DEMO_SETTINGS = PeakSettings(min_length=20, max_gap=10)
needs_real = pytest.mark.skipif(not REAL_BEDGRAPH.is_file(), reason="real MACS3 test files not available")


def write_bigwig(path, chrom_sizes, entries):
    """entries: (chrom, start, end, value) rows, sorted."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chrom_sizes.items()))
    chroms, starts, ends, values = zip(*entries)
    bw.addEntries(list(chroms), list(starts), ends=list(ends), values=[float(v) for v in values])
    bw.close()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*"))


def overlapping_fraction(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Fraction of intervals of `a` that overlap an interval of `b`."""
    bed_a = pybedtools.BedTool.from_dataframe(a[["chrom", "start", "end"]])
    bed_b = pybedtools.BedTool.from_dataframe(b[["chrom", "start", "end"]])
    return len(bed_a.intersect(bed_b, u=True)) / len(a)


# --- real data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_bigwig(tmp_path_factory):
    """The real MACS3 CTCF pileup bedGraph as a bigWig, as the DNase signal arrives."""
    bedgraph = pd.read_csv(REAL_BEDGRAPH, sep="\t", header=None)
    path = tmp_path_factory.mktemp("real") / "ctcf_chr22.bigWig"
    write_bigwig(path, {"chr22": HG19_CHR22}, bedgraph.itertuples(index=False))
    return path


@needs_real
def test_bdgpeakcall_on_real_bedgraph(tmp_path):
    out = tmp_path / "ctcf.narrowPeak"
    peaks = bdgpeakcall(REAL_BEDGRAPH, out, cutoff=5, min_length=200, max_gap=30)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("track") and 'name="ctcf.narrowPeak"' in lines[0]
    assert len(peaks) == len(lines) - 1 and 700 <= len(peaks) <= 800  # 755 with MACS3 3.0.4
    assert peaks.equals(read_narrowpeak(out))
    assert (peaks["chrom"] == "chr22").all() and (peaks["end"] - peaks["start"] >= 200).all()
    assert files_in(tmp_path) == ["ctcf.narrowPeak"]


@needs_real
def test_derived_cutoff_gives_sane_peaks_on_real_signal(real_bigwig, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="seq2exp.peaks")
    calls = call_peaks(real_bigwig, tmp_path / "peaks.narrowPeak", PeakSettings())
    # Covered bases of a pileup mostly hold one read: median 1, so the default cutoff is 5.
    assert calls.cutoff == pytest.approx(5.0)
    assert 300 <= len(calls.peaks) <= 2000
    callpeak = read_narrowpeak(REAL_CALLPEAK)
    assert overlapping_fraction(callpeak, calls.peaks) >= 0.85
    assert overlapping_fraction(calls.peaks, callpeak) >= 0.8
    assert f"{len(calls.peaks)} MACS3 peaks" in caplog.text and "cutoff 5" in caplog.text
    assert files_in(tmp_path) == ["peaks.narrowPeak"]


@needs_real
def test_quantile_rule_on_real_signal(real_bigwig):
    assert signal_cutoff(str(real_bigwig), "quantile", quantile=0.95) == pytest.approx(9.0)


# --- demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_peaks(tiny_demo, tiny_demo_paths, tmp_path_factory):
    """peak_step's outputs per cell type on the demo: (narrowPeak path, mask table path, ratios)."""
    out = tmp_path_factory.mktemp("demo_peaks")
    results = {}
    for cell in tiny_demo.cell_types:
        narrowpeak, table = out / f"{cell}.narrowPeak", out / f"{cell}.peak_mask.tsv"
        ratios = peak_step(tiny_demo_paths.cell_types[cell]["dnase"], tiny_demo.genes,
                           tiny_demo.spec.window_half_width, DEMO_SETTINGS, narrowpeak, table)
        results[cell] = (narrowpeak, table, ratios)
    return results


def test_demo_peaks_find_planted_open_elements(tiny_demo, demo_peaks):
    elements = tiny_demo.elements
    for cell, (narrowpeak, _, _) in demo_peaks.items():
        assert narrowpeak.read_text().startswith("track")
        peaks = read_narrowpeak(narrowpeak)
        active = elements[f"activity_{cell}"] > 0
        regulatory = elements["kind"].isin(["enhancer", "promoter", "ctcf_open"])
        open_elements = elements[active & regulatory]
        closed_elements = elements[~active & (regulatory | (elements["kind"] == "closed_motifs"))]
        assert len(open_elements) >= 40 and len(closed_elements) >= 20
        assert overlapping_fraction(open_elements, peaks) >= 0.9, cell
        assert overlapping_fraction(closed_elements, peaks) <= 0.1, cell
        # Peaks are the planted elements (or blacklisted artefacts), not background noise.
        assert overlapping_fraction(peaks, elements) >= 0.9, cell


def test_demo_mask_table_matches_per_gene_masks(tiny_demo, demo_peaks):
    hw = tiny_demo.spec.window_half_width
    for cell, (narrowpeak, table, ratios) in demo_peaks.items():
        written = pd.read_csv(table, sep="\t")
        assert list(written.columns) == ["gene_id", "chrom", "tss", "peak_bases", "mask_ratio"]
        assert list(written["gene_id"]) == list(tiny_demo.genes["gene_id"])
        peaks = read_narrowpeak(narrowpeak)
        masks = dict(gene_peak_masks(peaks, tiny_demo.genes, hw, tiny_demo.chrom_sizes))
        numpy_ratios = written["gene_id"].map(lambda g: mask_ratio(masks[g]))
        np.testing.assert_allclose(written["mask_ratio"], numpy_ratios)
        np.testing.assert_allclose(written["mask_ratio"], ratios["mask_ratio"])
        # Open elements cover a minority of each window, as DNase peaks do (paper: 13.61% / 15.95%).
        assert 0.05 <= written["mask_ratio"].mean() <= 0.3, cell


def test_default_macs3_cutoff_misses_demo_peaks(tiny_demo, tiny_demo_paths, tmp_path):
    """Why the cutoff is derived: MACS3's default (5, a -log10 p-value) is off the signal's scale."""
    derived = signal_cutoff(tiny_demo_paths.cell_types["K562"]["dnase"])
    assert 0.2 <= derived <= 1.0  # about 5 x the background level of 0.1
    calls = call_peaks(tiny_demo_paths.cell_types["K562"]["dnase"], tmp_path / "p.narrowPeak",
                       PeakSettings(cutoff=5.0, min_length=20, max_gap=10))
    open_elements = tiny_demo.elements[tiny_demo.elements["activity_K562"] > 0]
    assert overlapping_fraction(open_elements, calls.peaks) < 0.5


# --- masks on a hand-made example ---------------------------------------------------------


@pytest.fixture
def hand_peaks():
    return pd.DataFrame({"chrom": ["chr1", "chr1", "chr1", "chr1"], "start": [8, 5, 20, 28],
                         "end": [12, 10, 25, 40]})


def test_peak_mask_hand_example(hand_peaks):
    # Window [-2, 8): two positions before the chromosome start; peaks [5,10) and [8,12) merge.
    expected = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=np.uint8)
    mask = peak_mask(hand_peaks, "chr1", tss=3, half_width=5, chrom_length=30)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, expected)
    assert mask_ratio(mask) == pytest.approx(0.3)
    # Window [21, 31): peak [20,25) gives 21..24; peak [28,40) is cut at the chromosome end 30.
    np.testing.assert_array_equal(peak_mask(hand_peaks, "chr1", tss=26, half_width=5, chrom_length=30),
                                  [1, 1, 1, 1, 0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(peak_mask(hand_peaks, "chr2", tss=26, half_width=5, chrom_length=30),
                                  np.zeros(10))


def test_mask_ratios_hand_example(hand_peaks):
    genes = pd.DataFrame({"gene_id": ["a", "b", "c"], "chrom": ["chr1", "chr1", "chr2"], "tss": [3, 26, 26]})
    sizes = {"chr1": 30, "chr2": 30}
    table = mask_ratios(hand_peaks, genes, half_width=5, chrom_sizes=sizes)
    assert list(table["peak_bases"]) == [3, 6, 0]
    np.testing.assert_allclose(table["mask_ratio"], [0.3, 0.6, 0.0])
    masks = dict(gene_peak_masks(hand_peaks, genes, 5, sizes))
    assert [int(masks[g].sum()) for g in "abc"] == [3, 6, 0]
    no_peaks = mask_ratios(hand_peaks.iloc[:0], genes, half_width=5, chrom_sizes=sizes)
    assert list(no_peaks["mask_ratio"]) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="chr3"):
        mask_ratios(hand_peaks, genes.assign(chrom="chr3"), half_width=5, chrom_sizes=sizes)


# --- signal and cutoff --------------------------------------------------------------------


def test_bigwig_to_bedgraph_leaves_out_no_data_and_zero(tmp_path):
    bigwig = tmp_path / "s.bigWig"
    write_bigwig(bigwig, {"chr1": 100, "chr2": 50},
                 [("chr1", 0, 10, 1.5), ("chr1", 10, 20, 0.0), ("chr1", 30, 40, 2.0), ("chr2", 5, 15, 3.0)])
    out = tmp_path / "s.bdg"
    histogram = bigwig_to_bedgraph(bigwig, out)
    assert out.read_text() == "chr1\t0\t10\t1.5\nchr1\t30\t40\t2\nchr2\t5\t15\t3\n"
    assert histogram.to_dict() == {1.5: 10, 2.0: 10, 3.0: 10}
    bigwig_to_bedgraph(bigwig, out, chromosomes=["chr2"])
    assert out.read_text() == "chr2\t5\t15\t3\n"
    assert files_in(tmp_path) == ["s.bdg", "s.bigWig"]


def test_signal_cutoff_rules():
    values = np.array([0, 0, 1, 1, 1, 2, 2, 10, np.nan])
    assert signal_cutoff(values) == pytest.approx(5.0)  # 5 x median (1) of bases above 0
    assert signal_cutoff(values, "median_multiple", multiplier=2.5) == pytest.approx(2.5)
    assert signal_cutoff(values, "quantile", quantile=0.7) == pytest.approx(2.0)
    assert signal_cutoff(values, "quantile", quantile=0.9) == pytest.approx(10.0)
    histogram = pd.Series([3, 2, 1], index=[1.0, 2.0, 10.0])
    assert signal_cutoff(histogram, "quantile", quantile=0.9) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no bases above 0"):
        signal_cutoff(np.zeros(5))
    with pytest.raises(ValueError, match="peaks.cutoff_rule"):
        PeakSettings(cutoff_rule="mean")
    with pytest.raises(ValueError, match="peaks.cutoff_quantile"):
        PeakSettings(cutoff_quantile=1.5)


def test_read_narrowpeak_skips_headers_and_rejects_other_tables(tmp_path):
    path = tmp_path / "p.narrowPeak"
    path.write_text("browser position chr1:1-100\ntrack type=narrowPeak\n# comment\n"
                    "chr1\t10\t50\tp1\t100\t.\t3.5\t-1\t-1\t20\n")
    peaks = read_narrowpeak(path)
    assert peaks.to_dict("records") == [dict(chrom="chr1", start=10, end=50, name="p1", score=100, strand=".",
                                             signal_value=3.5, p_value=-1.0, q_value=-1.0, summit=20)]
    path.write_text("track type=narrowPeak\n")
    assert read_narrowpeak(path).empty
    path.write_text("chr1\t10\t50\n")
    with pytest.raises(ValueError, match=r"p\.narrowPeak.*10 tab-separated"):
        read_narrowpeak(path)


# --- bad input: clear errors, no partial output -------------------------------------------


def test_bigwig_lacking_a_chromosome(tiny_demo, tiny_demo_paths, tmp_path):
    dnase = tiny_demo_paths.cell_types["K562"]["dnase"]
    with pytest.raises(ValueError, match=rf"{dnase}.*lacks chromosome.*chr9"):
        call_peaks(dnase, tmp_path / "out" / "p.narrowPeak", DEMO_SETTINGS, chromosomes=["chr1", "chr9"])
    genes = tiny_demo.genes.assign(chrom=np.where(tiny_demo.genes["chrom"] == "chrX", "chrY", tiny_demo.genes["chrom"]))
    with pytest.raises(ValueError, match=rf"{dnase}.*lacks chromosome.*chrY"):
        peak_step(dnase, genes, 1000, DEMO_SETTINGS, tmp_path / "out" / "p.narrowPeak", tmp_path / "out" / "m.tsv")
    assert files_in(tmp_path / "out") == []


def test_not_a_bigwig(tmp_path):
    fake = tmp_path / "dnase.bigWig"
    fake.write_text("chr1\t0\t10\t1.0\n")
    with pytest.raises(ValueError, match=rf"{fake} is not a bigWig"):
        call_peaks(fake, tmp_path / "out" / "p.narrowPeak")
    with pytest.raises(FileNotFoundError, match="absent.bigWig does not exist"):
        call_peaks(tmp_path / "absent.bigWig", tmp_path / "out" / "p.narrowPeak")
    assert files_in(tmp_path / "out") == []


def test_macs3_failure_surfaces_its_stderr(tmp_path):
    garbage = tmp_path / "garbage.bdg"
    garbage.write_text("not a bedGraph\n")
    out = tmp_path / "out" / "p.narrowPeak"
    with pytest.raises(RuntimeError, match=r"(?s)macs3 bdgpeakcall failed on .*garbage\.bdg.*Error"):
        bdgpeakcall(garbage, out, cutoff=1.0, min_length=20, max_gap=10)
    assert files_in(tmp_path / "out") == []
