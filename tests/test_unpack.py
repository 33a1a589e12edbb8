"""Zip members and the genome FASTA -> the files the rules read, atomically."""

import gzip
import zipfile

import pytest

from seq2exp.inputs.unpack import extract_member, prepare_genome


def test_extract_member(tmp_path):
    archive = tmp_path / "expression_data.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("genes.csv", "ENSID,chrom\nENSG1,chr1\n")
    extract_member(str(archive), "genes.csv", str(tmp_path / "out" / "genes.csv"))
    assert (tmp_path / "out" / "genes.csv").read_text() == "ENSID,chrom\nENSG1,chr1\n"
    with pytest.raises(FileNotFoundError, match=r"expression_data.zip has no member 'other.csv'; it holds: genes.csv"):
        extract_member(str(archive), "other.csv", str(tmp_path / "out" / "other.csv"))
    assert not (tmp_path / "out" / "other.csv").exists()


@pytest.mark.parametrize("compressed", [True, False])
def test_prepare_genome_decompresses_and_indexes(tmp_path, compressed):
    text = ">chr1\nACGTN\nAC\n>chr2\nGG\n"
    source = tmp_path / ("in.fa.gz" if compressed else "in.fa")
    source.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    out = tmp_path / "genome" / "genome.fa"
    prepare_genome(str(source), str(out))
    assert out.read_text() == text
    fai = (tmp_path / "genome" / "genome.fa.fai").read_text().splitlines()
    assert [line.split("\t")[:2] for line in fai] == [["chr1", "7"], ["chr2", "2"]]


def test_prepare_genome_rejects_non_fasta(tmp_path):
    source = tmp_path / "in.fa"
    source.write_text("chr1\t0\t10\n")
    with pytest.raises(ValueError, match=f"{source}: not a FASTA file"):
        prepare_genome(str(source), str(tmp_path / "genome" / "genome.fa"))
    assert list((tmp_path / "genome").iterdir()) == []
