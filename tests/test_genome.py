"""DNA codes, windows and chromosome names (seq2exp.features.genome)."""

import pyfaidx
import pytest

from seq2exp.features.genome import match_chromosomes, reverse_complement_codes, sequence_codes, window_codes


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "genome.fa"
    path.write_text(">chr1\nACGTNacgtA\n>chr2\nGGGG\n")
    return pyfaidx.Fasta(str(path), as_raw=True)


def test_window_near_chromosome_ends_is_padded_with_n(fasta):
    assert list(window_codes(fasta, "chr1", 1, 3)) == [4, 4, 0, 1, 2, 3]  # [-2, 4)
    assert list(window_codes(fasta, "chr1", 8, 3)) == [0, 1, 2, 3, 0, 4]  # [5, 11): "acgtA" + pad
    assert list(window_codes(fasta, "chr2", 2, 4)) == [4, 4, 2, 2, 2, 2, 4, 4]  # both ends


def test_codes_and_reverse_complement():
    codes = sequence_codes("ACGTNx")
    assert list(codes) == [0, 1, 2, 3, 4, 4]
    assert list(reverse_complement_codes(sequence_codes("AACGN"))) == list(sequence_codes("NCGTT"))


def test_chromosome_names_are_matched_across_conventions():
    assert match_chromosomes(["chr1", "chrX", "chrM", "chr9"], ["1", "X", "MT"], "f.hic") == {
        "chr1": "1",
        "chrX": "X",
        "chrM": "MT",
    }
    assert match_chromosomes(["22"], ["chr22"], "a.bw") == {"22": "chr22"}
    with pytest.raises(ValueError, match=r"x.bw: chromosome M is ambiguous: it holds \['chrM', 'MT'\]"):
        match_chromosomes(["M"], ["chrM", "MT"], "x.bw")
