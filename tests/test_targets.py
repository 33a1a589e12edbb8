"""CAGE targets from CTSS files (seq2exp.features.targets; hand-computed)."""

import gzip

import numpy as np
import pandas as pd
import pytest

from seq2exp.features.targets import ctss_targets, read_ctss


def write_ctss(path, rows):
    with gzip.open(path, "wt") as handle:
        for chrom, start, count, strand in rows:
            handle.write(f"{chrom}\t{start}\t{start + 1}\t{chrom}:{start}..{start + 1},{strand}\t{count}\t{strand}\n")
    return str(path)


def test_cage_target_sums_both_strands_within_half_width(tmp_path):
    path = write_ctss(
        tmp_path / "c.ctss.bed.gz",
        [
            ("1", 808, 5, "+"),  # TSS - 192: inside
            ("1", 1000, 3, "-"),  # at the TSS, other strand: inside
            ("1", 1191, 2, "+"),  # TSS + 191: inside
            ("1", 1192, 100, "+"),  # TSS + 192: outside (half-open window)
            ("1", 807, 100, "-"),  # TSS - 193: outside
            ("2", 1000, 7, "+"),  # another chromosome
        ],
    )
    genes = pd.DataFrame({"gene_id": ["g1", "g2", "g3"], "chrom": ["chr1", "chr2", "chr1"], "tss": [1000, 1000, 5000]})
    targets = ctss_targets(read_ctss(path), genes, half_width=192, per_million=False, source=path)
    assert list(targets["cage_tags"]) == [10, 7, 0]
    np.testing.assert_allclose(targets["target"], np.log10([11, 8, 1]))
    per_million = ctss_targets(read_ctss(path), genes, 192, True, path)
    np.testing.assert_allclose(per_million["target"], np.log10(np.array([10, 7, 0]) / (217 / 1e6) + 1))


def test_empty_or_malformed_ctss_is_named(tmp_path):
    empty = tmp_path / "empty.ctss.bed"
    empty.write_text("")
    with pytest.raises(ValueError, match=f"{empty}: the file is empty"):
        read_ctss(str(empty))
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t1\t2\tx\t5\t.\n")
    with pytest.raises(ValueError, match=f"{bad}: not CTSS BED6"):
        read_ctss(str(bad))
