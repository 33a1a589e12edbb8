"""bigWig tracks read with padding, missing data and NaN counted (seq2exp.features.bigwig)."""

import numpy as np
import pyBigWig
import pytest

from seq2exp.features.bigwig import Track


def write_bigwig(path, chrom_sizes, entries):
    """entries: (chrom, start, end, value) rows, sorted."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chrom_sizes.items()))
    chroms, starts, ends, values = zip(*entries)
    bw.addEntries(list(chroms), list(starts), ends=list(ends), values=[float(v) for v in values])
    bw.close()
    return str(path)


def test_track_window_pads_and_turns_missing_data_to_zero(tmp_path):
    path = write_bigwig(tmp_path / "s.bw", {"1": 20}, [("1", 2, 4, 1.5), ("1", 10, 12, float("nan"))])
    with Track(path, ["chr1"]) as track:
        values, no_data, nan = track.window("chr1", 3, 5)  # [-2, 8)
        assert values.dtype == np.float32
        assert list(values) == [0, 0, 0, 0, 1.5, 1.5, 0, 0, 0, 0] and (no_data, nan) == (6, 0)
        values, no_data, nan = track.window("chr1", 11, 2)  # [9, 13): NaN over 10-12
        assert list(values) == [0, 0, 0, 0] and (no_data, nan) == (2, 2)
        assert track.region_sum("chr1", 0, 20) == pytest.approx(3.0)
        with pytest.raises(KeyError, match=f"{path}: no chromosome chr2"):
            track.window("chr2", 5, 2)


def test_not_a_bigwig_is_named(tmp_path):
    path = tmp_path / "x.bw"
    path.write_text("chr1\t0\t1\t2\n")
    with pytest.raises((ValueError, RuntimeError), match="x.bw"):
        Track(str(path))
