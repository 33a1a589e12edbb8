"""Sources: local paths, URLs and zip members map to local files; downloads are atomic."""

import functools
import gzip
import http.server
import threading
import zipfile

import pytest

from seq2exp.config import load_config, validate_config
from seq2exp.sources import (
    configured_sources,
    download,
    downloads,
    extract_member,
    extractions,
    file_name,
    make_source,
    prepare_fasta,
)


@pytest.fixture(scope="module")
def paper_config(repo):
    return validate_config(load_config(repo / "config/config.yaml"), repo / "workflow/schemas/config.schema.yaml")


def test_fantom_names_are_decoded_twice_and_made_safe():
    url = ("https://fantom.gsc.riken.jp/5/datafiles/x/chronic%2520myelogenous%2520leukemia%2520cell"
           "%2520line%253aK562.CNhs11250.10454-106G4.hg38.nobarcode.ctss.bed.gz")
    assert file_name(url) == "chronic_myelogenous_leukemia_cell_line_K562.CNhs11250.10454-106G4.hg38.nobarcode.ctss.bed.gz"
    assert file_name("https://www.encodeproject.org/files/ENCFF414OGC/@@download/ENCFF414OGC.bigWig") == "ENCFF414OGC.bigWig"
    assert file_name("https://zenodo.org/records/1/files/expression_data.zip?download=1") == "expression_data.zip"


def test_source_kinds_map_to_local_paths():
    local = make_source("K562.hic", "hic", "data/k562.mcool", "res")
    assert local.path == "data/k562.mcool" and not local.is_url
    url = make_source("K562.dnase", "bigwig", "https://h/ENCFF1.bigWig", "res")
    assert url.path == "res/downloads/K562.dnase/ENCFF1.bigWig" and url.is_url
    member = make_source("genes.table", "gene_table", "https://h/a.zip#dir/genes.csv", "res")
    assert (member.location, member.member, member.path) == ("https://h/a.zip", "dir/genes.csv",
                                                            "res/extracted/genes.table/genes.csv")


def test_paper_config_downloads_every_source_of_both_cell_types(paper_config):
    keys = {s.key for s in configured_sources(paper_config)}
    for cell in ("K562", "GM12878"):
        assert {f"{cell}.dnase", f"{cell}.h3k27ac", f"{cell}.hic", f"{cell}.cage"} <= keys
    urls = set(downloads(paper_config).values())
    assert "https://www.encodeproject.org/files/ENCFF414OGC/@@download/ENCFF414OGC.bigWig" in urls
    assert "https://data.4dnucleome.org/files-processed/4DNFI1UEG1HD/@@download/4DNFI1UEG1HD.hic" in urls
    assert len(downloads(paper_config)) == 12
    [(archive, member)] = extractions(paper_config).values()
    assert archive.endswith("expression_data.zip") and member.endswith("_with_sequence_strand.csv")


def test_one_cell_type_run_needs_only_its_sources(paper_config):
    config = dict(paper_config, run_cell_types=["K562"])
    assert not any(s.key.startswith("GM12878") for s in configured_sources(config))


@pytest.fixture
def http_root(tmp_path):
    """A static HTTP server on 127.0.0.1 serving `tmp_path/www`."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_streams_the_file_into_place(http_root, tmp_path):
    root, base = http_root
    payload = bytes(range(256)) * 10_000
    (root / "track.bigWig").write_bytes(payload)
    target = tmp_path / "res" / "downloads" / "K562.dnase" / "track.bigWig"
    download(f"{base}/track.bigWig", str(target), chunk_size=4096)
    assert target.read_bytes() == payload
    assert [p.name for p in target.parent.iterdir()] == ["track.bigWig"]


def test_failed_download_leaves_nothing_behind(http_root, tmp_path):
    _, base = http_root
    target = tmp_path / "res" / "missing.bigWig"
    with pytest.raises(Exception, match="404"):
        download(f"{base}/missing.bigWig", str(target))
    assert list(target.parent.iterdir()) == []


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
def test_prepare_fasta_decompresses_and_indexes(tmp_path, compressed):
    text = ">chr1\nACGTN\nAC\n>chr2\nGG\n"
    source = tmp_path / ("in.fa.gz" if compressed else "in.fa")
    source.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    out = tmp_path / "genome" / "genome.fa"
    prepare_fasta(str(source), str(out))
    assert out.read_text() == text
    fai = (tmp_path / "genome" / "genome.fa.fai").read_text().splitlines()
    assert [line.split("\t")[:2] for line in fai] == [["chr1", "7"], ["chr2", "2"]]


def test_prepare_fasta_rejects_non_fasta(tmp_path):
    source = tmp_path / "in.fa"
    source.write_text("chr1\t0\t10\n")
    with pytest.raises(ValueError, match=f"{source}: not a FASTA file"):
        prepare_fasta(str(source), str(tmp_path / "genome" / "genome.fa"))
    assert list((tmp_path / "genome").iterdir()) == []
