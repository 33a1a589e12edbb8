"""MACS3 peaks on DNase signal and the per-gene peak mask of the paper's MACS3 baseline."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pybedtools
import pyBigWig
import pytest
from test_bigwig import write_bigwig

from seq2exp.config import load_config
from seq2exp.features.genome import interval_mask, merged_intervals, window_bounds
from seq2exp.features.peaks import (
    PeakSettings,
    SignalBins,
    bdgpeakcall,
    bigwig_to_bedgraph,
    call_peaks,
    control_track,
    mask_ratios,
    peaks_and_mask_ratios,
    read_narrowpeak,
)

REAL_PEAKS = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "peaks"
REAL_BEDGRAPH = REAL_PEAKS / "macs3_CTCF_chr22_treat_pileup.bdg"
REAL_CALLPEAK = REAL_PEAKS / "macs3_CTCF_chr22_peaks.narrowPeak"
HG19_CHR22 = 51_304_566
REPO = Path(__file__).resolve().parents[1]
DEMO_SETTINGS = PeakSettings(**load_config(REPO / "config/demo.yaml")["peaks"])
needs_real = pytest.mark.skipif(not REAL_BEDGRAPH.is_file(), reason="real MACS3 test files not available")


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
def test_poisson_score_on_a_real_pileup_finds_callpeaks_peaks(real_bigwig, tmp_path, caplog):
    """On a count-like track (MACS3's own CTCF pileup) the ppois route calls peaks that
    `macs3 callpeak` called too."""
    caplog.set_level(logging.INFO, logger="seq2exp.features.peaks")
    calls = call_peaks(real_bigwig, tmp_path / "peaks.narrowPeak", PeakSettings(score="ppois", cutoff=3.0))
    assert 300 <= len(calls.peaks) <= 500  # 391 with MACS3 3.0.4
    callpeak = read_narrowpeak(REAL_CALLPEAK)
    assert overlapping_fraction(calls.peaks, callpeak) >= 0.95
    assert overlapping_fraction(callpeak, calls.peaks) >= 0.4
    assert f"{len(calls.peaks)} MACS3 peaks (ppois >= 3" in caplog.text
    assert files_in(tmp_path) == ["peaks.narrowPeak"]


# --- demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_peaks(tiny_demo, tiny_demo_paths, tmp_path_factory):
    """peaks_and_mask_ratios's outputs per cell type on the demo: (narrowPeak path, mask table path, ratios)."""
    out = tmp_path_factory.mktemp("demo_peaks")
    results = {}
    for cell in tiny_demo.cell_types:
        narrowpeak, table = out / f"{cell}.narrowPeak", out / f"{cell}.peak_mask.tsv"
        ratios = peaks_and_mask_ratios(
            tiny_demo_paths.cell_types[cell]["dnase"],
            tiny_demo.genes,
            tiny_demo.spec.window_half_width,
            DEMO_SETTINGS,
            narrowpeak,
            table,
            tiny_demo_paths.blacklist,
        )
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
        closed_motifs = elements[elements["kind"] == "closed_motifs"]
        assert len(open_elements) >= 40 and len(closed_elements) >= 20 and len(closed_motifs) >= 5
        assert overlapping_fraction(open_elements, peaks) >= 0.9, cell
        assert overlapping_fraction(closed_elements, peaks) <= 0.1, cell
        assert overlapping_fraction(closed_motifs, peaks) <= 0.1, cell
        # Peaks are the planted elements (or blacklisted artefacts), not background noise.
        assert overlapping_fraction(peaks, elements) >= 0.9, cell


def test_demo_mask_table_matches_per_gene_masks(tiny_demo, demo_peaks):
    hw = tiny_demo.spec.window_half_width
    for cell, (narrowpeak, table, ratios) in demo_peaks.items():
        written = pd.read_csv(table, sep="\t")
        assert list(written.columns) == ["gene_id", "chrom", "tss", "peak_bases", "mask_ratio"]
        assert list(written["gene_id"]) == list(tiny_demo.genes["gene_id"])
        peaks = read_narrowpeak(narrowpeak)
        numpy_ratios = [store_peak_mask(peaks, g.chrom, g.tss, hw).mean() for g in tiny_demo.genes.itertuples()]
        np.testing.assert_allclose(written["mask_ratio"], numpy_ratios)
        np.testing.assert_allclose(written["mask_ratio"], ratios["mask_ratio"])
        # Open elements cover a minority of each window, as DNase peaks do (paper: 13.61% / 15.95%).
        assert 0.05 <= written["mask_ratio"].mean() <= 0.3, cell


def scaled_bigwig(source, path, factor):
    """A copy of a bigWig with every value multiplied by `factor`."""
    track = pyBigWig.open(str(source))
    entries = [(chrom, *interval) for chrom in track.chroms() for interval in track.intervals(chrom)]
    sizes = track.chroms()
    track.close()
    write_bigwig(path, sizes, [(c, s, e, v * factor) for c, s, e, v in entries])
    return path


@pytest.mark.parametrize("factor", [0.01, 100])
def test_same_peaks_at_any_signal_scale(tiny_demo, tiny_demo_paths, demo_peaks, tmp_path, factor):
    """Fold enrichment over a control built from the signal does not depend on its units."""
    dnase = scaled_bigwig(tiny_demo_paths.cell_types["K562"]["dnase"], tmp_path / "scaled.bigWig", factor)
    peaks_and_mask_ratios(
        dnase,
        tiny_demo.genes,
        tiny_demo.spec.window_half_width,
        DEMO_SETTINGS,
        tmp_path / "scaled.narrowPeak",
        tmp_path / "m.tsv",
        tiny_demo_paths.blacklist,
    )
    scaled = read_narrowpeak(tmp_path / "scaled.narrowPeak")
    original = read_narrowpeak(demo_peaks["K562"][0])
    assert len(original) >= 40
    pd.testing.assert_frame_equal(scaled[["chrom", "start", "end"]], original[["chrom", "start", "end"]])


def test_mask_ratio_outside_the_sane_range_is_a_warning(tiny_demo, tiny_demo_paths, demo_peaks, tmp_path, caplog):
    ratio = demo_peaks["K562"][2]["mask_ratio"].mean()
    narrow = PeakSettings(**{**DEMO_SETTINGS.__dict__, "mask_ratio_range": (0.5, 0.9)})
    with caplog.at_level(logging.WARNING, logger="seq2exp.features.peaks"):
        peaks_and_mask_ratios(
            tiny_demo_paths.cell_types["K562"]["dnase"],
            tiny_demo.genes,
            tiny_demo.spec.window_half_width,
            narrow,
            tmp_path / "p.narrowPeak",
            tmp_path / "m.tsv",
            tiny_demo_paths.blacklist,
        )
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"selects {100 * ratio:.1f}% of window bases, outside the sane range 50-90%" in warning.getMessage()


def test_control_is_the_largest_of_genome_mean_and_local_means():
    # Bins of 10 bp; one 40 bp chromosome with signal only in its third bin, one empty chromosome,
    # 25 bp of the 100 blacklisted.
    signal = SignalBins({"chr1": np.array([0.0, 0.0, 60.0, 0.0]), "chr2": np.zeros(6)}, {"chr1": 40, "chr2": 60}, 75)
    control, genome_mean = control_track(signal, 10, local_windows=(10, 30))
    assert genome_mean == pytest.approx(60 / 75)
    # 10 bp window: the bin itself (6.0 in bin 2); 30 bp window: bins b-1..b+1 (60/30 = 2.0 next to it).
    np.testing.assert_allclose(control["chr1"], [0.8, 2.0, 6.0, 2.0])
    np.testing.assert_allclose(control["chr2"], np.full(6, 0.8))


def test_blacklisted_signal_is_left_out_of_the_control(tmp_path):
    bigwig = tmp_path / "s.bigWig"
    write_bigwig(bigwig, {"chr1": 100}, [("chr1", 0, 50, 1.0), ("chr1", 50, 60, 500.0), ("chr1", 60, 100, 1.0)])
    blacklist = pd.DataFrame({"chrom": ["chr1"], "start": [45], "end": [65]})
    signal = bigwig_to_bedgraph(bigwig, tmp_path / "s.bdg", bin_size=10, blacklist=blacklist)
    assert signal.sums["chr1"].tolist() == [10.0] * 4 + [5.0, 0.0, 5.0] + [10.0] * 3
    assert signal.counted_bases == 80
    assert "chr1\t50\t60\t500\n" in (tmp_path / "s.bdg").read_text()  # the treatment keeps it


def test_no_peak_reaches_back_over_a_gap_in_the_signal(tmp_path):
    """MACS3 reads each bedGraph record as starting where the previous ended: gaps must be written."""
    bigwig = tmp_path / "s.bigWig"
    write_bigwig(bigwig, {"chr1": 3000}, [("chr1", 0, 100, 1.0), ("chr1", 1500, 1560, 20.0), ("chr1", 1560, 3000, 1.0)])
    peaks = call_peaks(bigwig, tmp_path / "p.narrowPeak", PeakSettings(cutoff=2.0, min_length=20, max_gap=10)).peaks
    assert peaks[["start", "end"]].values.tolist() == [[1500, 1560]]


# --- masks on a hand-made example ---------------------------------------------------------


@pytest.fixture
def hand_peaks():
    return pd.DataFrame({"chrom": ["chr1", "chr1", "chr1", "chr1"], "start": [8, 5, 20, 28], "end": [12, 10, 25, 40]})


def store_peak_mask(peaks, chrom, tss, half_width):
    """The peak mask of a gene's window as `store.build_cell_store` computes it."""
    return interval_mask(merged_intervals(peaks), chrom, *window_bounds(tss, half_width))


def test_peak_mask_hand_example(hand_peaks):
    # Window [-2, 8): two positions before the chromosome start; peaks [5,10) and [8,12) merge.
    expected = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=np.uint8)
    mask = store_peak_mask(hand_peaks, "chr1", tss=3, half_width=5)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, expected)
    # Window [20, 30): peak [20,25) gives 20..24, peak [28,40) 28..29.
    np.testing.assert_array_equal(
        store_peak_mask(hand_peaks, "chr1", tss=25, half_width=5), [1, 1, 1, 1, 1, 0, 0, 0, 1, 1]
    )
    np.testing.assert_array_equal(store_peak_mask(hand_peaks, "chr2", tss=26, half_width=5), np.zeros(10))


def test_mask_ratios_hand_example(hand_peaks):
    genes = pd.DataFrame({"gene_id": ["a", "b", "c"], "chrom": ["chr1", "chr1", "chr2"], "tss": [3, 26, 26]})
    sizes = {"chr1": 30, "chr2": 30}
    table = mask_ratios(hand_peaks, genes, half_width=5, chrom_sizes=sizes)
    assert list(table["peak_bases"]) == [3, 6, 0]
    np.testing.assert_allclose(table["mask_ratio"], [0.3, 0.6, 0.0])
    no_peaks = mask_ratios(hand_peaks.iloc[:0], genes, half_width=5, chrom_sizes=sizes)
    assert list(no_peaks["mask_ratio"]) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="chr3"):
        mask_ratios(hand_peaks, genes.assign(chrom="chr3"), half_width=5, chrom_sizes=sizes)


# --- signal and cutoff --------------------------------------------------------------------


def test_bigwig_to_bedgraph_covers_each_chromosome_and_sums_bins(tmp_path):
    bigwig = tmp_path / "s.bigWig"
    write_bigwig(
        bigwig,
        {"chr1": 45, "chr2": 20},
        [("chr1", 0, 10, 1.5), ("chr1", 10, 20, 0.0), ("chr1", 30, 40, 2.0), ("chr2", 5, 15, 3.0)],
    )
    out = tmp_path / "s.bdg"
    signal = bigwig_to_bedgraph(bigwig, out, bin_size=20)
    assert out.read_text() == (
        "chr1\t0\t10\t1.5\nchr1\t10\t30\t0\nchr1\t30\t40\t2\nchr1\t40\t45\t0\n"
        "chr2\t0\t5\t0\nchr2\t5\t15\t3\nchr2\t15\t20\t0\n"
    )
    assert {c: s.tolist() for c, s in signal.sums.items()} == {"chr1": [15.0, 20.0, 0.0], "chr2": [30.0]}
    assert signal.sizes == {"chr1": 45, "chr2": 20} and signal.counted_bases == 65
    bigwig_to_bedgraph(bigwig, out, chromosomes=["chr2"])
    assert out.read_text() == "chr2\t0\t5\t0\nchr2\t5\t15\t3\nchr2\t15\t20\t0\n"
    assert files_in(tmp_path) == ["s.bdg", "s.bigWig"]


def test_peak_settings_are_checked():
    with pytest.raises(ValueError, match="peaks.score"):
        PeakSettings(score="logFE")
    with pytest.raises(ValueError, match="peaks.local_windows"):
        PeakSettings(local_windows=())
    with pytest.raises(ValueError, match="peaks.mask_ratio_range"):
        PeakSettings(mask_ratio_range=(0.3, 0.05))
    assert PeakSettings(local_windows=(1000, 10000)).control_bin == 100


def test_read_narrowpeak_skips_headers_and_rejects_other_tables(tmp_path):
    path = tmp_path / "p.narrowPeak"
    path.write_text(
        "browser position chr1:1-100\ntrack type=narrowPeak\n# comment\nchr1\t10\t50\tp1\t100\t.\t3.5\t-1\t-1\t20\n"
    )
    peaks = read_narrowpeak(path)
    assert peaks.to_dict("records") == [
        dict(
            chrom="chr1",
            start=10,
            end=50,
            name="p1",
            score=100,
            strand=".",
            signal_value=3.5,
            p_value=-1.0,
            q_value=-1.0,
            summit=20,
        )
    ]
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
        peaks_and_mask_ratios(
            dnase, genes, 1000, DEMO_SETTINGS, tmp_path / "out" / "p.narrowPeak", tmp_path / "out" / "m.tsv"
        )
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
