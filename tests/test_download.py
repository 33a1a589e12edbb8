"""Downloads: streamed, checked (length, format, md5), resumed, recorded; atomic."""

import base64
import dataclasses
import fcntl
import gzip
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from test_formats import FORMATS, MARKUP_PAGE

from seq2exp.config import load_config, validate_config
from seq2exp.inputs.download import (
    DownloadError,
    DownloadInterrupted,
    DownloadSettings,
    download,
    download_file,
    read_lock,
)


class PortalServer(http.server.ThreadingHTTPServer):
    """A file server on 127.0.0.1 whose paths misbehave as real portals sometimes do."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), PortalHandler)
        self.files: dict[str, bytes] = {}  # path -> body
        self.behaviour: dict[str, str] = {}  # path -> how it is served (PortalHandler.do_GET)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.key: str | None = None  # base64 "id:secret" a 4DN path requires

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class PortalHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        behaviour, data = server.behaviour.get(self.path, "file"), server.files.get(self.path)
        attempt = sum(path == self.path for path, _ in server.requests)
        if data is None:
            self.send_error(404)
        elif behaviour == "503 once" and attempt == 1:
            self.send_error(503)
        elif behaviour == "4dn" and self.headers.get("Authorization") != f"Basic {server.key}":
            self.send_error(403)
        elif behaviour == "html":
            self.send_body(b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html; charset=utf-8")
        elif behaviour == "always short":  # ignores Range and closes halfway every time
            self.send_body(data, cut=len(data) // 2, honour_range=False)
        elif behaviour in ("cut once", "cut, then resumed at 0") and attempt == 1:
            self.send_body(data, cut=len(data) // 3)
        elif behaviour == "cut, then resumed at 0" and attempt == 2:  # a 206 from the wrong byte
            self.send_body(data, honour_range=False, status=206)
        elif behaviour == "cut, then 503":  # a link that fails for longer than the retries
            self.send_body(data, cut=len(data) // 3) if attempt == 1 else self.send_error(503)
        elif behaviour == "drops every 20 kB":
            self.send_body(data, cut=20_000)
        elif behaviour == "no length, cut":  # HTTP/1.0 style: the body ends where the connection closes
            self.send_body(data, cut=len(data) // 2, declare_length=False)
        elif behaviour == "no length":
            self.send_body(data, declare_length=False)
        else:
            self.send_body(data)

    def send_body(
        self,
        data,
        content_type="application/octet-stream",
        cut=None,
        honour_range=True,
        status=None,
        declare_length=True,
    ):
        """`data` from the Range's start unless the file changed since the If-Range ETag; `cut`:
        bytes of this response after which the connection drops."""
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        requested = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        unchanged = self.headers.get("If-Range") in (None, etag)
        start = int(requested.group(1)) if requested and honour_range and unchanged else 0
        self.send_response(status or (206 if start else 200))
        if start or status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Type", content_type)
        self.send_header("ETag", etag)
        if declare_length:
            self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start : None if cut is None else start + cut])


@pytest.fixture
def portal():
    server = PortalServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path):
    return DownloadSettings(
        lock_file=str(tmp_path / "config" / "sources.lock.tsv"),
        published_checksums=False,
        retries=2,
        backoff_seconds=0.01,
        timeout_seconds=10,
        chunk_size=4096,
    )


PAYLOAD = bytes(range(256)) * 1000  # 256 kB, binary
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def serve(portal, path, behaviour="file", data=PAYLOAD):
    portal.files[path] = data
    portal.behaviour[path] = behaviour
    return portal.url(path)


def left_in(directory):
    """What a download left in its folder (the output and any temporary file beside it)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_streams_the_file_into_place_and_records_it(portal, settings, tmp_path):
    url = serve(portal, "/files/ENCFF1/@@download/ENCFF1.bigWig")
    target = tmp_path / "res" / "ENCFF1.bigWig"
    fingerprint = download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD and left_in(target.parent) == ["ENCFF1.bigWig"]
    assert (fingerprint.md5, fingerprint.size) == (PAYLOAD_MD5, len(PAYLOAD))
    recorded = read_lock(settings.lock_file)[url]
    assert (recorded.md5, recorded.size) == (PAYLOAD_MD5, len(PAYLOAD))
    assert len(portal.requests) == 1


def test_later_download_must_match_the_recorded_file(portal, settings, tmp_path):
    url = serve(portal, "/genes.csv", data=b"ENSID,chrom\nENSG1,chr1\n")
    download_file(url, str(tmp_path / "first" / "genes.csv"), settings)
    serve(portal, "/genes.csv", data=b"ENSID,chrom\nENSG1,chr2\n")  # changed upstream, same length
    target = tmp_path / "again" / "genes.csv"
    with pytest.raises(DownloadError) as error:
        download_file(url, str(target), settings)
    assert url in str(error.value) and str(target) in str(error.value)
    assert hashlib.md5(b"ENSID,chrom\nENSG1,chr2\n").hexdigest() in str(error.value)
    assert read_lock(settings.lock_file)[url].md5 in str(error.value) and settings.lock_file in str(error.value)
    assert left_in(target.parent) == []
    assert len(read_lock(settings.lock_file)) == 1


def test_published_md5_is_checked_before_the_file_is_moved_into_place(portal, settings, tmp_path):
    url = serve(portal, "/files/ENCFF2/@@download/ENCFF2.bigWig")
    target = tmp_path / "res" / "ENCFF2.bigWig"
    wrong = "0" * 32
    with pytest.raises(DownloadError, match=rf"{re.escape(url)} .*md5 {PAYLOAD_MD5}, expected {wrong}"):
        download_file(url, str(target), settings, md5=wrong)
    assert left_in(target.parent) == [] and read_lock(settings.lock_file) == {}
    download_file(url, str(target), settings, md5=PAYLOAD_MD5.upper())
    assert target.read_bytes() == PAYLOAD


def encode_metadata(md5):
    return json.dumps({"accession": "ENCFF414OGC", "md5sum": md5, "file_size": len(PAYLOAD)})


PORTALS = {  # file path, metadata path, metadata text for an md5, as each portal serves them
    "ENCODE": ("/files/ENCFF414OGC/@@download/ENCFF414OGC.bigWig", "/files/ENCFF414OGC/?format=json", encode_metadata),
    "4DN": (
        "/files-processed/4DNFITUOMFUQ/@@download/4DNFITUOMFUQ.hic",
        "/files-processed/4DNFITUOMFUQ/?format=json",
        encode_metadata,
    ),
    "Zenodo": (
        "/records/13232430/files/expression_data.zip",
        "/api/records/13232430",
        lambda md5: json.dumps(
            {
                "files": [
                    {"key": "other.zip", "size": 3, "checksum": "md5:" + "1" * 32},
                    {"key": "expression_data.zip", "size": len(PAYLOAD), "checksum": f"md5:{md5}"},
                ]
            }
        ),
    ),
    "UCSC": (
        "/goldenPath/hg38/bigZips/hg38.fa.gz",
        "/goldenPath/hg38/bigZips/md5sum.txt",
        lambda md5: f"{'2' * 32}  hg38.2bit\n{md5}  hg38.fa.gz\n",
    ),
}


@pytest.mark.parametrize("portal_name", PORTALS)
def test_checksum_the_portal_publishes_is_checked(portal, settings, tmp_path, portal_name):
    file_path, metadata_path, metadata = PORTALS[portal_name]
    settings = dataclasses.replace(settings, published_checksums=True)
    url = serve(portal, file_path)
    serve(portal, metadata_path, data=metadata("0" * 32).encode())
    target = tmp_path / "res" / "file"
    with pytest.raises(
        DownloadError,
        match=rf"{re.escape(url)} .*md5 {PAYLOAD_MD5}, expected {'0' * 32} \(expected "
        rf"values from {portal_name} metadata {re.escape(portal.url(metadata_path))}",
    ):
        download_file(url, str(target), settings)
    assert left_in(target.parent) == []
    serve(portal, metadata_path, data=metadata(PAYLOAD_MD5).encode())
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD


def test_unreadable_metadata_falls_back_to_the_lock_file(portal, settings, tmp_path, caplog):
    settings = dataclasses.replace(settings, published_checksums=True)
    url = serve(portal, "/files/ENCFF5/@@download/ENCFF5.bigWig")  # no metadata: 404
    download_file(url, str(tmp_path / "a" / "ENCFF5.bigWig"), settings)
    assert f"{url}: no checksum from ENCODE metadata" in caplog.text and url in read_lock(settings.lock_file)
    plain = serve(portal, "/data/mRNA_halflife_features.csv")  # GitHub, FANTOM5: nothing to look up
    download_file(plain, str(tmp_path / "a" / "features.csv"), settings)
    assert [path for path, _ in portal.requests[-1:]] == ["/data/mRNA_halflife_features.csv"]
    assert len(portal.requests) == 3


def download_gives_up(url, target, settings, error, cause, then=""):
    """Downloading `url` to `target` raises `error` for `cause` after three tries without progress."""
    with pytest.raises(error, match=rf"{cause}.*gave up after 3 tries without progress{then}"):
        download_file(url, str(target), settings)


def test_body_shorter_than_content_length_is_an_error(portal, settings, tmp_path):
    url = serve(portal, "/expression_data.zip", "always short")
    target = tmp_path / "res" / "expression_data.zip"
    cause = rf"{re.escape(url)}: body ended after {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes"
    download_gives_up(url, target, settings, DownloadError, cause)
    assert not target.exists() and read_lock(settings.lock_file) == {}
    # The first try made progress and does not count; each restart from byte 0 makes none.
    assert [rng for _, rng in portal.requests] == [None] + [f"bytes={len(PAYLOAD) // 2}-"] * 3


def test_cut_transfer_resumes_with_a_range_request(portal, settings, tmp_path):
    url = serve(portal, "/4DNFIAAAAAAA.hic", "cut once")
    target = tmp_path / "res" / "x.hic"
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD and left_in(target.parent) == ["x.hic"]
    assert [rng for _, rng in portal.requests] == [None, f"bytes={len(PAYLOAD) // 3}-"]


def test_resume_from_the_wrong_byte_starts_again(portal, settings, tmp_path):
    url = serve(portal, "/x.bigWig", "cut, then resumed at 0")
    target = tmp_path / "res" / "x.bigWig"
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD
    assert [rng for _, rng in portal.requests] == [None, f"bytes={len(PAYLOAD) // 3}-", None]


def test_transient_503_is_retried(portal, settings, tmp_path, caplog):
    url = serve(portal, "/hg38.fa.gz", "503 once")
    target = tmp_path / "res" / "hg38.fa.gz"
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD and len(portal.requests) == 2
    assert f"{url}: HTTP 503" in caplog.text


def test_404_names_the_url_and_is_not_retried(portal, settings, tmp_path):
    url = portal.url("/files/ENCFF404/@@download/ENCFF404.bigWig")
    target = tmp_path / "res" / "ENCFF404.bigWig"
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: HTTP 404 .*no file at this URL"):
        download_file(url, str(target), settings)
    assert left_in(target.parent) == [] and len(portal.requests) == 1


def test_html_page_instead_of_data_is_an_error(portal, settings, tmp_path):
    url = serve(portal, "/ENCFF3.bigWig", "html")
    target = tmp_path / "res" / "ENCFF3.bigWig"
    with pytest.raises(
        DownloadError, match=rf"^{re.escape(url)}: the server sent an HTML page \(Content-Type text/html"
    ):
        download_file(url, str(target), settings)
    assert left_in(target.parent) == []
    # The same page labelled as binary is recognised by how it starts.
    url = serve(portal, "/ENCFF4.bigWig", data=b"\n  <!doctype HTML>\n<html><body>Error</body></html>")
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: the server sent an HTML page instead"):
        download_file(url, str(target), settings)
    assert left_in(target.parent) == []


@pytest.mark.parametrize("kind", FORMATS)
def test_html_or_xml_page_posing_as_any_format_is_rejected(portal, settings, tmp_path, kind):
    name = FORMATS[kind][0]
    page = gzip.compress(MARKUP_PAGE) if name.endswith(".gz") else MARKUP_PAGE
    url = serve(portal, f"/files/{name}", data=page)  # served as application/octet-stream
    target = tmp_path / "res" / name
    with pytest.raises(
        DownloadError,
        match=rf"^{re.escape(url)}: the server sent an HTML page instead of the "
        r"file \(it starts with b'<\?xml",
    ):
        download_file(url, str(target), settings, kind=kind)
    assert left_in(target.parent) == [] and read_lock(settings.lock_file) == {}


def test_format_failure_names_the_lock_line_that_recorded_the_bad_file(portal, settings, tmp_path):
    url = serve(portal, "/ENCFF6.bigWig", data=MARKUP_PAGE)
    Path(settings.lock_file).parent.mkdir(parents=True)
    Path(settings.lock_file).write_text(  # recorded by a download that did not check the format
        f"# comment\nurl\tbytes\tmd5\tverified_by\n{url}\t{len(MARKUP_PAGE)}\t"
        f"{hashlib.md5(MARKUP_PAGE).hexdigest()}\tcontent-length\n"
    )
    target = tmp_path / "res" / "ENCFF6.bigWig"
    with pytest.raises(
        DownloadError,
        match=rf"HTML page.*{re.escape(settings.lock_file)} line 3 .*records this "
        "URL: delete that line",
    ):
        download_file(url, str(target), settings, kind="bigwig")
    assert left_in(target.parent) == []


def test_body_cut_short_without_a_length_fails_its_format_or_is_locked_as_unverified(
    portal, settings, tmp_path, caplog
):
    ctss = gzip.compress(b"chr1\t10\t11\t.\t3\t+\n" * 20000)
    url = serve(portal, "/x.ctss.bed.gz", "no length, cut", data=ctss)
    target = tmp_path / "res" / "x.ctss.bed.gz"
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: the gzip stream is truncated"):
        download_file(url, str(target), settings, kind="ctss")
    assert left_in(target.parent) == [] and read_lock(settings.lock_file) == {}
    table = serve(portal, "/features.csv", "no length", data=b"ENSID,halflife\nENSG1,0.5\n")
    download_file(table, str(tmp_path / "res" / "features.csv"), settings, kind="mrna_features")
    whole = serve(portal, "/genes.csv", data=b"ENSID,chrom\nENSG1,chr1\n")
    download_file(whole, str(tmp_path / "res" / "genes.csv"), settings, kind="gene_table")
    rows = [line.split("\t") for line in Path(settings.lock_file).read_text().splitlines()[1:]]
    assert [(row[0], row[3]) for row in rows[1:]] == [(table, "unverified"), (whole, "content-length")]
    assert f"{table}: the server declared no length and publishes no md5" in caplog.text
    assert "unverified" in read_lock(settings.lock_file)[table].origin


def test_link_that_drops_every_20_kB_completes_as_every_try_progresses(portal, settings, tmp_path):
    url = serve(portal, "/hg38.fa.gz", "drops every 20 kB")
    target = tmp_path / "res" / "hg38.fa.gz"
    download_file(url, str(target), dataclasses.replace(settings, retries=0))
    assert target.read_bytes() == PAYLOAD and left_in(target.parent) == ["hg38.fa.gz"]
    assert [rng for _, rng in portal.requests] == [None] + [f"bytes={n}-" for n in range(20_000, len(PAYLOAD), 20_000)]


def test_interrupted_download_is_resumed_by_the_next_run(portal, settings, tmp_path):
    url = serve(portal, "/x.bigWig", "cut, then 503")
    target = tmp_path / "res" / "x.bigWig"
    download_gives_up(
        url, target, settings, DownloadInterrupted, "HTTP 503", rf". The {len(PAYLOAD) // 3} bytes received are kept"
    )
    assert not target.exists() and (target.parent / ".x.bigWig.part").stat().st_size == len(PAYLOAD) // 3
    portal.behaviour["/x.bigWig"] = "file"  # the next run
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD and left_in(target.parent) == ["x.bigWig"]
    assert [rng for _, rng in portal.requests][-1] == f"bytes={len(PAYLOAD) // 3}-"
    assert read_lock(settings.lock_file)[url].md5 == PAYLOAD_MD5


def test_partial_file_of_a_file_changed_upstream_starts_again(portal, settings, tmp_path):
    url = serve(portal, "/x.bigWig", "cut, then 503")
    target = tmp_path / "res" / "x.bigWig"
    with pytest.raises(DownloadInterrupted):
        download_file(url, str(target), settings)
    changed = PAYLOAD[::-1]
    serve(portal, "/x.bigWig", data=changed)  # its ETag changes: If-Range gets the whole new file
    download_file(url, str(target), settings)
    assert target.read_bytes() == changed


def test_a_download_into_a_folder_another_job_is_downloading_into_is_refused(portal, settings, tmp_path):
    url = serve(portal, "/x.bigWig")
    target = tmp_path / "res" / "x.bigWig"
    target.parent.mkdir()
    other_job = os.open(target.parent, os.O_RDONLY)  # a run in another working directory, sharing resources/
    fcntl.flock(other_job, fcntl.LOCK_EX)
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: another job is downloading into {target.parent}"):
        download_file(url, str(target), settings)
    os.close(other_job)
    assert portal.requests == [] and left_in(target.parent) == []
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD


def test_4dn_refusal_asks_for_an_access_key_and_the_key_is_sent(portal, settings, tmp_path, monkeypatch):
    monkeypatch.delenv("FOURDN_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("FOURDN_SECRET_ACCESS_KEY", raising=False)
    portal.key = base64.b64encode(b"KEYID:s3cret").decode()
    url = serve(portal, "/files-processed/4DNFITUOMFUQ/@@download/4DNFITUOMFUQ.hic", "4dn")
    target = tmp_path / "res" / "4DNFITUOMFUQ.hic"
    with pytest.raises(
        DownloadError,
        match=rf"^{re.escape(url)}: HTTP 403 .*access key.*FOURDN_ACCESS_KEY_ID "
        "and FOURDN_SECRET_ACCESS_KEY",
    ):
        download_file(url, str(target), settings)
    assert left_in(target.parent) == []
    monkeypatch.setenv("FOURDN_ACCESS_KEY_ID", "KEYID")
    monkeypatch.setenv("FOURDN_SECRET_ACCESS_KEY", "s3cret")
    download_file(url, str(target), settings)
    assert target.read_bytes() == PAYLOAD


def test_the_download_rule_checks_the_format_of_its_sources_kind(repo, portal, tmp_path):
    """The rules' entry point takes the format to check from the config's source, and refuses a
    destination that no source of the config downloads to."""
    config = validate_config(load_config(repo / "config/config.yaml"), repo / "workflow/schemas/config.schema.yaml")
    url = serve(portal, "/ENCFF9.bed.gz")  # binary, not the blacklist's BED text
    config = {
        **config,
        "resources_dir": str(tmp_path / "res"),
        "genome": {**config["genome"], "blacklist": url},
        "downloads": {**config["downloads"], "lock_file": str(tmp_path / "sources.lock.tsv")},
    }
    target = tmp_path / "res/downloads/genome.blacklist/ENCFF9.bed.gz"
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: binary data where blacklist text was expected"):
        download(config, url, None, str(target))
    assert left_in(target.parent) == []
    elsewhere = tmp_path / "elsewhere.bed.gz"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(elsewhere))}: no source of this config downloads there"):
        download(config, url, None, str(elsewhere))


def test_pipeline_downloads_once_and_records_the_file(repo, portal, tmp_path):
    blacklist = gzip.compress(b"chr1\t0\t10\n")
    url = serve(portal, "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz", data=blacklist)
    serve(
        portal,
        "/files/ENCFF356LFX/?format=json",
        data=json.dumps({"md5sum": hashlib.md5(blacklist).hexdigest(), "file_size": len(blacklist)}).encode(),
    )
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    config["genome"]["blacklist"] = url
    config["downloads"]["backoff_seconds"] = 0.01
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    target = "resources/paper/downloads/genome.blacklist/ENCFF356LFX.bed.gz"

    def snakemake(*args):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                *args,
                "--cores",
                "1",
                "-s",
                str(repo / "Snakefile"),
                "--directory",
                str(tmp_path),
                "--configfile",
                str(tmp_path / "run.yaml"),
            ],
            capture_output=True,
            text=True,
        )
        return result.returncode, result.stdout + result.stderr

    code, output = snakemake(target)
    assert code == 0, output
    assert gzip.decompress((tmp_path / target).read_bytes()) == b"chr1\t0\t10\n"
    assert url in (tmp_path / "config" / "sources.lock.tsv").read_text()
    code, output = snakemake("-n", target)
    assert code == 0 and "Nothing to be done" in output, output
    assert [path for path, _ in portal.requests] == [
        "/files/ENCFF356LFX/?format=json",
        "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz",
    ]


def test_lock_file_rows_are_checked(tmp_path):
    lock = tmp_path / "sources.lock.tsv"
    lock.write_text("# comment\nurl\tbytes\tmd5\tverified_by\nhttp://h/a\t12\tnot-an-md5\tunverified\n")
    with pytest.raises(ValueError, match=rf"{lock}: line 3 is not"):
        read_lock(str(lock))
