"""Input sources: a URL or local path (optionally a member of a zip) -> a local file.

Every configured source gets a key (`genome.fasta`, `K562.dnase`, ...). A URL is downloaded to
`<resources_dir>/downloads/<key>/<file name>`; a zip member is extracted to
`<resources_dir>/extracted/<key>/<member name>`; a local path is read where it is.
"""

from __future__ import annotations

import base64
import fcntl
import http.client
import json
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .files import GZIP_ERRORS, atomic_output, md5sum, open_maybe_gzip

log = logging.getLogger(__name__)

URL_SCHEMES = ("http", "https", "ftp")


@dataclass(frozen=True)
class Source:
    """One configured input: where it comes from and where the pipeline reads it."""

    key: str
    kind: str  # fasta | blacklist | gene_table | mrna_features | bigwig | hic | ctss | crispri
    location: str  # URL or local path (of the archive when `member` is set)
    member: str | None
    path: str  # the local file that rules read

    @property
    def is_url(self) -> bool:
        return is_url(self.location)


def is_url(location: str) -> bool:
    return urllib.parse.urlparse(location).scheme in URL_SCHEMES


def file_name(location: str) -> str:
    """A safe local file name from a URL or path: percent-decoded, odd characters replaced."""
    name = urllib.parse.urlparse(location).path.rsplit("/", 1)[-1]
    for _ in range(2):  # FANTOM5 names are percent-encoded twice
        name = urllib.parse.unquote(name)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")
    return name or "download"


def make_source(key: str, kind: str, value: str, resources_dir: str) -> Source:
    location, _, member = value.partition("#")
    if member:
        path = f"{resources_dir}/extracted/{key}/{file_name(member)}"
    elif is_url(location):
        path = f"{resources_dir}/downloads/{key}/{file_name(location)}"
    else:
        path = location
    return Source(key, kind, location, member or None, path)


def archive_path(source: Source, resources_dir: str) -> str:
    """The local archive a member source is extracted from."""
    if source.is_url:
        return f"{resources_dir}/downloads/{source.key}/{file_name(source.location)}"
    return source.location


def configured_sources(config: dict) -> list[Source]:
    """All sources that the run needs, in a stable order."""
    res = config["resources_dir"]
    entries = [
        ("genome.fasta", "fasta", config["genome"]["fasta"]),
        ("genome.blacklist", "blacklist", config["genome"]["blacklist"]),
        ("genes.table", "gene_table", config["genes"]["table"]),
    ]
    if config["genes"]["mrna_features"]:
        entries.append(("genes.mrna_features", "mrna_features", config["genes"]["mrna_features"]))
    kinds = {"dnase": "bigwig", "h3k27ac": "bigwig", "hic": "hic", "cage": "ctss"}
    for cell in config["run_cell_types"]:
        for name, kind in kinds.items():
            entries.append((f"{cell}.{name}", kind, config["cell_types"][cell][name]))
    if config["evaluation"]["crispri"]:
        entries.append(("evaluation.crispri", "crispri", config["evaluation"]["crispri"]))
    return [make_source(key, kind, value, res) for key, kind, value in entries]


EVALUATION_SCOPE = "evaluation"


def source_scope(key: str, cells) -> str | None:
    """Which stage checks the source `key`: its cell type (`<cell>.<kind>`), the evaluation
    (`evaluation.<kind>`: read by evaluation rules only), or None for the inputs every job shares."""
    prefix = key.split(".", 1)[0]
    return prefix if prefix in cells or prefix == EVALUATION_SCOPE else None


def extractions(config: dict) -> dict[str, tuple[str, str]]:
    """Local extracted path -> (archive path, member), for every zip member source."""
    res = config["resources_dir"]
    return {s.path: (archive_path(s, res), s.member) for s in configured_sources(config) if s.member}


# --- downloads ------------------------------------------------------------------------------

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
HTML_STARTS = (b"<!doctype html", b"<html")
FOURDN_KEY_VARIABLES = ("FOURDN_ACCESS_KEY_ID", "FOURDN_SECRET_ACCESS_KEY")
LOCK_COLUMNS = ("url", "bytes", "md5")
MD5_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class DownloadError(RuntimeError):
    """A download failed or its file did not check out; the message names the URL."""


class _TransientError(Exception):
    """A failure worth another try: a 5xx, a dropped connection, a body cut short."""


@dataclass(frozen=True)
class DownloadSettings:
    """The config's `downloads.*` keys (see config/README.md)."""

    lock_file: str | None = None  # where measured sizes and md5s are recorded; None: nowhere
    published_checksums: bool = True  # look up the md5 a portal publishes in its metadata
    retries: int = 4
    backoff_seconds: float = 5.0  # the wait before retry k is backoff_seconds x 2^k
    timeout_seconds: float = 120.0
    chunk_size: int = 1 << 20

    @classmethod
    def from_config(cls, config: dict) -> "DownloadSettings":
        section = config["downloads"]
        return cls(section["lock_file"], section["published_checksums"], section["retries"],
                   section["backoff_seconds"], section["timeout_seconds"])


@dataclass(frozen=True)
class Fingerprint:
    """What a file should be (or is): md5, size in bytes if known, and where that came from."""

    md5: str
    size: int | None
    origin: str


@dataclass(frozen=True)
class DownloadJob:
    key: str  # the source key (`K562.dnase`)
    url: str
    path: str
    md5: str | None  # published md5 from the config's `downloads.md5`


def download_jobs(config: dict) -> list[DownloadJob]:
    """One job per URL among the run's sources (archives of zip members included)."""
    published = config["downloads"]["md5"]
    all_keys = {s.key for s in configured_sources(dict(config, run_cell_types=list(config["cell_types"])))}
    unknown = sorted(set(published) - all_keys)
    if unknown:
        raise ValueError(f"downloads.md5: {unknown} are not source keys; expected some of {sorted(all_keys)}")
    res = config["resources_dir"]
    return [DownloadJob(s.key, s.location, archive_path(s, res) if s.member else s.path, published.get(s.key))
            for s in configured_sources(config) if s.is_url]


def download(url: str, destination: str, settings: DownloadSettings = DownloadSettings(),
             md5: str | None = None) -> Fingerprint:
    """Download `url` to `destination`, checked, or raise DownloadError and leave nothing there.

    The body streams into a temporary file beside `destination`; transient failures are retried
    with back-off, resuming with a Range request where the server allows. The file must match,
    first found: `md5` (from the config), the md5 and size the portal publishes in its metadata
    (`published_fingerprint`), the size and md5 recorded for this URL in `settings.lock_file`.
    Its size and md5 are recorded there at its first download.
    """
    expected = Fingerprint(md5.lower(), None, "the config's downloads.md5") if md5 else None
    if expected is None and settings.published_checksums:
        expected = published_fingerprint(url, settings)
    if expected is None:
        expected = read_lock(settings.lock_file).get(url)
    with atomic_output(destination) as tmp:
        _fetch(url, tmp, settings)
        actual = Fingerprint(md5sum(tmp), os.path.getsize(tmp), "downloaded")
        _check(url, destination, expected, actual)
    if settings.lock_file and url not in read_lock(settings.lock_file):
        record_lock(settings.lock_file, url, actual)
        log.info("%s: recorded %d bytes, md5 %s in %s", url, actual.size, actual.md5, settings.lock_file)
    return actual


def _check(url: str, destination: str, expected: Fingerprint | None, actual: Fingerprint) -> None:
    if expected is None:
        return
    problems = []
    if expected.size is not None and expected.size != actual.size:
        problems.append(f"size {actual.size} bytes, expected {expected.size}")
    if expected.md5 != actual.md5:
        problems.append(f"md5 {actual.md5}, expected {expected.md5}")
    if problems:
        raise DownloadError(f"{url} (for {destination}): {'; '.join(problems)} (expected values from "
                            f"{expected.origin}). Nothing was written to {destination}. If the file was "
                            "replaced upstream on purpose, update or remove its expected values.")


def _fetch(url: str, tmp: str, settings: DownloadSettings) -> None:
    """Stream `url` into `tmp`, retrying transient failures and resuming what `tmp` already holds."""
    for attempt in range(settings.retries + 1):
        try:
            _transfer(url, tmp, settings)
            return
        except _TransientError as error:
            if attempt == settings.retries:
                raise DownloadError(f"{url}: {error}; gave up after {attempt + 1} attempts") from None
            delay = settings.backoff_seconds * 2**attempt
            log.warning("%s: %s; attempt %d of %d in %.1f s", url, error, attempt + 2, settings.retries + 1, delay)
            time.sleep(delay)


def _transfer(url: str, tmp: str, settings: DownloadSettings) -> None:
    """One request: append to `tmp` from where it ends if the server honours Range, else restart."""
    offset = os.path.getsize(tmp) if os.path.exists(tmp) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "seq2exp-pipeline"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    _add_credentials(request, url)
    try:
        response = urllib.request.urlopen(request, timeout=settings.timeout_seconds)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in TRANSIENT_STATUS:
            raise _TransientError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(_refusal(url, error.code, error.reason)) from None
    except (urllib.error.URLError, OSError) as error:
        raise _TransientError(f"no response ({getattr(error, 'reason', error)})") from None
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            os.unlink(tmp)
            raise _TransientError(f"asked to resume at byte {offset}, the server sent "
                                  f"{response.headers.get('Content-Range')!r}; starting again")
        if not resumed:
            offset = 0
            _reject_html_type(url, response.headers.get("Content-Type", ""))
        length = response.headers.get("Content-Length")
        written = _stream(url, response, tmp, "ab" if resumed else "wb", check_start=not resumed,
                          chunk_size=settings.chunk_size)
    if length is not None and written != int(length):
        raise _TransientError(f"body ended after {offset + written} of {offset + int(length)} bytes "
                              "(Content-Length)")


def _stream(url: str, response, tmp: str, mode: str, check_start: bool, chunk_size: int) -> int:
    written = 0
    with open(tmp, mode) as out:
        while True:
            try:
                block = response.read(chunk_size)
            except (http.client.HTTPException, OSError) as error:
                raise _TransientError(f"connection lost after {written} bytes of this request "
                                      f"({type(error).__name__})") from None
            if not block:
                return written
            if check_start and written == 0 and block.lstrip()[:16].lower().startswith(HTML_STARTS):
                raise DownloadError(f"{url}: the server sent an HTML page instead of the file "
                                    f"(it starts with {block.lstrip()[:40]!r}): an error or login page")
            out.write(block)
            written += len(block)


def _reject_html_type(url: str, content_type: str) -> None:
    if content_type.split(";")[0].strip().lower() == "text/html":
        raise DownloadError(f"{url}: the server sent an HTML page (Content-Type {content_type}) instead of "
                            "the file: an error or login page")


def is_4dn(url: str) -> bool:
    """A 4DN file: served by data.4dnucleome.org, or named by a 4DN file accession."""
    parsed = urllib.parse.urlparse(url)
    return parsed.hostname == "data.4dnucleome.org" or re.search(r"/4DNFI[0-9A-Z]{7}\b", parsed.path) is not None


def _add_credentials(request: urllib.request.Request, url: str) -> None:
    """4DN access keys go as HTTP basic auth, and not on to the storage its downloads redirect to."""
    key, secret = (os.environ.get(name) for name in FOURDN_KEY_VARIABLES)
    if is_4dn(url) and key and secret:
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")


def _refusal(url: str, status: int, reason: str) -> str:
    message = f"{url}: HTTP {status} {reason}"
    if status == 404:
        return message + ": the server has no file at this URL; check the source in the config"
    if status in (401, 403) and is_4dn(url):
        if all(os.environ.get(name) for name in FOURDN_KEY_VARIABLES):
            return message + f": 4DN refused the access key in {FOURDN_KEY_VARIABLES[0]}; check it and its secret"
        return message + (": 4DN serves this file only with an access key. Create one in your 4DN profile "
                          f"and export {FOURDN_KEY_VARIABLES[0]} and {FOURDN_KEY_VARIABLES[1]}, or download "
                          "the file yourself and point its source at the local copy (config/README.md)")
    return message


# --- checksums the portals publish -------------------------------------------------------------


def published_fingerprint(url: str, settings: DownloadSettings = DownloadSettings()) -> Fingerprint | None:
    """The md5 (and size) that the portal serving `url` publishes: ENCODE and 4DN file metadata,
    Zenodo's record, UCSC's md5sum.txt. None for other servers (FANTOM5, GitHub publish none) or
    when the metadata cannot be read (a warning: the lock file is checked instead)."""
    lookup = _metadata_lookup(url)
    if lookup is None:
        return None
    portal, metadata_url, parse = lookup
    request = urllib.request.Request(metadata_url, headers={"User-Agent": "seq2exp-pipeline",
                                                            "Accept": "application/json"})
    _add_credentials(request, metadata_url)
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
            md5, size = parse(response.read().decode(), _name_in_url(url))
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as error:
        log.warning("%s: no checksum from %s metadata %s (%s: %s); checking against the lock file instead",
                    url, portal, metadata_url, type(error).__name__, error)
        return None
    if not MD5_PATTERN.match(md5.lower()):
        log.warning("%s: %s metadata %s gives %r, not an md5; checking against the lock file instead",
                    url, portal, metadata_url, md5)
        return None
    return Fingerprint(md5.lower(), size, f"{portal} metadata {metadata_url}")


def _metadata_lookup(url: str):
    """(portal, metadata URL, parser) for the portals that publish checksums, else None."""
    parsed = urllib.parse.urlparse(url)
    base = f"{parsed.scheme}://{parsed.netloc}"
    portal_file = re.match(r"^/(files[A-Za-z-]*)/((ENCFF|4DNFI)[0-9A-Z]+)/@@download/", parsed.path)
    if portal_file:
        portal = "4DN" if portal_file.group(3) == "4DNFI" else "ENCODE"
        return portal, f"{base}/{portal_file.group(1)}/{portal_file.group(2)}/?format=json", _file_metadata
    zenodo = re.match(r"^(?:/api)?/records/(\d+)/files/", parsed.path)
    if zenodo:
        return "Zenodo", f"{base}/api/records/{zenodo.group(1)}", _zenodo_record
    if "/goldenPath/" in parsed.path and "/bigZips/" in parsed.path:
        return "UCSC", f"{base}{parsed.path.rsplit('/', 1)[0]}/md5sum.txt", _md5sum_txt
    return None


def _name_in_url(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])


def _file_metadata(text: str, name: str) -> tuple[str, int | None]:
    """ENCODE and 4DN file objects carry `md5sum` and `file_size`."""
    record = json.loads(text)
    return record["md5sum"], int(record["file_size"]) if record.get("file_size") is not None else None


def _zenodo_record(text: str, name: str) -> tuple[str, int | None]:
    for entry in json.loads(text)["files"]:
        if entry["key"] == name:
            algorithm, _, value = entry["checksum"].partition(":")
            if algorithm != "md5":
                raise ValueError(f"checksum {entry['checksum']!r} is not an md5")
            return value, int(entry["size"])
    raise KeyError(f"the record lists no file {name!r}")


def _md5sum_txt(text: str, name: str) -> tuple[str, int | None]:
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == name:
            return fields[0], None
    raise KeyError(f"md5sum.txt lists no {name!r}")


# --- the lock file of measured sizes and md5s ------------------------------------------------


def read_lock(path: str | None) -> dict[str, Fingerprint]:
    """URL -> recorded size and md5, from a lock file (absent file: empty)."""
    if not path or not os.path.exists(path):
        return {}
    table = {}
    with open(path) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip() and not line.startswith("#")]
    if rows and tuple(rows[0]) != LOCK_COLUMNS:
        raise ValueError(f"{path}: expected the header columns {LOCK_COLUMNS}, found {tuple(rows[0])}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 3 or not row[1].isdigit() or not MD5_PATTERN.match(row[2]):
            raise ValueError(f"{path}: row {number} is not 'url<TAB>bytes<TAB>md5': {row}")
        table.setdefault(row[0], Fingerprint(row[2], int(row[1]), f"{path} (recorded at its first download)"))
    return table


def record_lock(path: str, url: str, fingerprint: Fingerprint) -> None:
    """Append a URL's size and md5 to the lock file, unless a concurrent job did already."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        present = handle.read()
        if any(line.split("\t", 1)[0] == url for line in present.splitlines()):
            return
        if not present:
            handle.write("# Sizes and md5s measured at each URL's first download; later downloads must match.\n"
                         + "\t".join(LOCK_COLUMNS) + "\n")
        handle.write(f"{url}\t{fingerprint.size}\t{fingerprint.md5}\n")


def extract_member(archive: str, member: str, destination: str) -> None:
    """Copy one member of a zip archive to `destination`, atomically."""
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
        if member not in names:
            raise FileNotFoundError(f"{archive} has no member {member!r}; it holds: {', '.join(names[:20])}")
        with atomic_output(destination) as tmp, handle.open(member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)


def prepare_fasta(source: str, fasta: str) -> None:
    """Decompress (if gzipped) or copy `source` to `fasta` and index it (.fai)."""
    import pyfaidx

    with atomic_output(fasta) as tmp:
        with open_maybe_gzip(source, "rb") as src, open(tmp, "wb") as out:
            try:
                if src.read(1) != b">":
                    raise ValueError(f"{source}: not a FASTA file (expected '>' as the first character)")
                out.write(b">")
                shutil.copyfileobj(src, out, 1 << 20)
            except GZIP_ERRORS as error:
                raise ValueError(f"{source}: truncated or corrupt gzip file ({error})") from None
        try:
            pyfaidx.Faidx(tmp, rebuild=True).close()
            os.replace(tmp + ".fai", fasta + ".fai")
        finally:
            if os.path.exists(tmp + ".fai"):
                os.unlink(tmp + ".fai")

