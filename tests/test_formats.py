"""Format checks of downloaded files: each format passes whole and fails cut short."""

import gzip
import io
import re
import zipfile

import pytest

from seq2exp.inputs.formats import format_problem


def write_bigwig(path):
    import pyBigWig

    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([("chr1", 100_000)])
    handle.addEntries("chr1", 0, values=[float(i) for i in range(500)], span=100, step=200)
    handle.close()
    return path.read_bytes()


def zipped(**members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HIC_HEADER = b"HIC\x00" + (8).to_bytes(4, "little") + (40).to_bytes(8, "little") + b"hg38\x00"
FORMATS = {  # kind -> (file name, a file of that kind, truncation that the check must catch)
    "bigwig": ("x.bigWig", write_bigwig, 0.8),
    "hic": ("x.hic", lambda path: HIC_HEADER + bytes(64), 0.3),
    "zip": ("expression_data.zip", lambda path: zipped(**{"genes.csv": "ENSID,chrom\n" * 500}), 0.7),
    "ctss": ("x.ctss.bed.gz", lambda path: gzip.compress(b"chr1\t10\t11\t.\t3\t+\n" * 5000), 0.5),
    "fasta": ("hg38.fa.gz", lambda path: gzip.compress(b">chr1\n" + b"ACGT" * 20000), 0.5),
    "gene_table": ("genes.csv", lambda path: b"ENSID,chrom\nENSG1,chr1\n", None),
}
MARKUP_PAGE = b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n<html><body>Not found</body></html>\n'


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_passes_whole_and_fails_cut_short(tmp_path, kind):
    name, make, kept = FORMATS[kind]
    path = tmp_path / name
    data = make(path)
    path.write_bytes(data)
    assert format_problem(str(path), kind) is None
    if kept is not None:
        path.write_bytes(data[: int(len(data) * kept)])
        assert re.search("cut short|truncated", format_problem(str(path), kind))
    path.write_bytes(b"\x00\x01binary" * 10)
    assert format_problem(str(path), kind) is not None
