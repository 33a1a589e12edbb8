"""Downloads: a URL -> a checked local file, with retries, resumption, the md5 and size a portal
publishes (ENCODE, 4DN, Zenodo, UCSC) and the lock file of what each URL's first download measured.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..files import md5sum
from .formats import format_problem
from .sources import Source, download_jobs

log = logging.getLogger(__name__)

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
FOURDN_KEY_VARIABLES = ("FOURDN_ACCESS_KEY_ID", "FOURDN_SECRET_ACCESS_KEY")
LOCK_COLUMNS = ("url", "bytes", "md5", "verified_by")
UNVERIFIED = "unverified"
MD5_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class DownloadError(RuntimeError):
    """A download failed or its file did not check out; the message names the URL."""


class DownloadInterrupted(DownloadError):
    """Transient failures outlasted the retries; what arrived is kept for the next run to resume."""


class _TransientError(Exception):
    """A failure worth another try: a 5xx, a dropped connection, a body cut short."""


@dataclass(frozen=True)
class DownloadSettings:
    """The config's `downloads.*` keys (see config/README.md)."""

    lock_file: str | None = None  # where measured sizes and md5s are recorded; None: nowhere
    published_checksums: bool = True  # look up the md5 a portal publishes in its metadata
    retries: int = 4  # further tries after one that made no progress
    backoff_seconds: float = 5.0  # the wait before retry k is backoff_seconds x 2^k
    timeout_seconds: float = 120.0
    chunk_size: int = 1 << 20

    @classmethod
    def from_config(cls, config: dict) -> "DownloadSettings":
        section = config["downloads"]
        return cls(
            section["lock_file"],
            section["published_checksums"],
            section["retries"],
            section["backoff_seconds"],
            section["timeout_seconds"],
        )


@dataclass(frozen=True)
class Fingerprint:
    """What a file should be (or is): md5, size in bytes if known, and where that came from."""

    md5: str
    size: int | None
    origin: str


class _Partial:
    """The bytes of `url` received so far, `.<name>.part` beside the destination, with a note of
    the URL and the server's validator (ETag or Last-Modified) so that a resume asks for the same
    file. It survives transient failures (the next run resumes it); anything else discards it."""

    def __init__(self, destination: str, url: str):
        target = Path(destination)
        self.path = target.parent / f".{target.name}.part"
        self.note = target.parent / f".{target.name}.part.json"
        self.url = url
        if self.size() and self._read_note().get("url") != url:
            self.discard()  # left by another URL, or by a run killed before it noted one

    def _read_note(self) -> dict:
        try:
            return json.loads(self.note.read_text())
        except (OSError, ValueError):
            return {}

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def validator(self) -> str | None:
        return self._read_note().get("validator")

    def start(self, headers) -> None:
        """A fresh body begins: note the URL and the file's validator (a weak ETag cannot be one)."""
        etag = headers.get("ETag")
        validator = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
        self.note.write_text(json.dumps({"url": self.url, "validator": validator}))

    def discard(self) -> None:
        for path in (self.path, self.note):
            path.unlink(missing_ok=True)


def download(config: dict, url: str, md5: str | None, destination: str) -> Fingerprint:
    """The rules download_<key>: the source at `url` to `destination`, one of the config's download
    jobs, checked for its source's format (`download_file`). The format comes from the config, not
    from a param of the rule: adding one would rerun every download."""
    jobs = {job.path: job for job in download_jobs(config)}
    if destination not in jobs:
        raise ValueError(f"{destination}: no source of this config downloads there; expected one of {sorted(jobs)}")
    return download_file(url, destination, DownloadSettings.from_config(config), md5=md5, kind=jobs[destination].kind)


def download_file(
    url: str,
    destination: str,
    settings: DownloadSettings = DownloadSettings(),
    md5: str | None = None,
    kind: str | None = None,
) -> Fingerprint:
    """Download `url` to `destination`, checked, or raise DownloadError and leave nothing there.

    The body streams into a partial file beside `destination`; transient failures are retried
    with back-off (a try that received bytes does not count), resuming with a Range request where
    the server allows. If they outlast the retries, the partial file stays and the next call
    resumes it. The file must have the format of `kind` (`format_problem`) and match, first
    found: `md5` (from the config), the md5 and size the portal publishes in its metadata
    (`published_fingerprint`), the size and md5 recorded for this URL in `settings.lock_file`.
    Only then is it moved into place and, at its first download, recorded in the lock file,
    marked unverified (with a warning) if neither a Content-Length nor an md5 vouched that it
    arrived whole.
    """
    expected = Fingerprint(md5.lower(), None, "the config's downloads.md5") if md5 else None
    if expected is None and settings.published_checksums:
        expected = published_fingerprint(url, settings)
    locked = read_lock(settings.lock_file).get(url)
    with _sole_download_in(Path(destination).parent, url):
        partial = _Partial(destination, url)
        try:
            length_declared = _fetch(url, partial, settings)
            problem = format_problem(str(partial.path), kind)
            if problem:
                lock_note = (
                    f"; {locked.origin} records this URL: delete that line if it was recorded from a bad download"
                    if locked
                    else ""
                )
                raise DownloadError(f"{url}: {problem}. Nothing was written to {destination}{lock_note}")
            actual = Fingerprint(md5sum(str(partial.path)), partial.size(), "downloaded")
            _check(url, destination, expected or locked, actual)
        except DownloadInterrupted:
            raise
        except Exception:
            partial.discard()
            raise
        os.replace(partial.path, destination)
        partial.discard()
    if settings.lock_file and locked is None:
        verified_by = "md5" if expected else "content-length" if length_declared else UNVERIFIED
        record_lock(settings.lock_file, url, actual, verified_by)
        log.info("%s: recorded %d bytes, md5 %s in %s", url, actual.size, actual.md5, settings.lock_file)
        if verified_by == UNVERIFIED:
            log.warning(
                "%s: the server declared no length and publishes no md5, so nothing shows that the %d "
                "bytes received are the whole file; %s marks it %s. Compare its size with the source's, "
                "or delete its line and the file to download it again",
                url,
                actual.size,
                settings.lock_file,
                UNVERIFIED,
            )
    return actual


@contextlib.contextmanager
def _sole_download_in(folder: Path, url: str):
    """Hold an exclusive lock on the download's folder (one per source key), so that two runs
    sharing resources_dir never write the same partial file at once."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                f"{url}: another job is downloading into {folder} (a run in another working "
                "directory sharing resources_dir?); rerun when it has finished"
            ) from None
        yield
    finally:
        os.close(handle)


def _check(url: str, destination: str, expected: Fingerprint | None, actual: Fingerprint) -> None:
    if expected is None:
        return
    problems = []
    if expected.size is not None and expected.size != actual.size:
        problems.append(f"size {actual.size} bytes, expected {expected.size}")
    if expected.md5 != actual.md5:
        problems.append(f"md5 {actual.md5}, expected {expected.md5}")
    if problems:
        raise DownloadError(
            f"{url} (for {destination}): {'; '.join(problems)} (expected values from "
            f"{expected.origin}). Nothing was written to {destination}. If the file was "
            "replaced upstream on purpose, update or remove its expected values."
        )


def _fetch(url: str, partial: _Partial, settings: DownloadSettings) -> bool:
    """Complete `partial`, retrying transient failures; whether the last response declared its length.
    A try that added bytes is followed by the next at once and does not count against the retries."""
    failures = 0
    while True:
        before = partial.size()
        try:
            return _transfer(url, partial, settings)
        except _TransientError as error:
            if partial.size() > before:
                log.warning("%s: %s; resuming at byte %d", url, error, partial.size())
                continue
            if failures == settings.retries:
                raise DownloadInterrupted(
                    f"{url}: {error}; gave up after {failures + 1} tries without progress. The "
                    f"{partial.size()} bytes received are kept in {partial.path}; the next run resumes "
                    "from there"
                ) from None
            delay = settings.backoff_seconds * 2**failures
            failures += 1
            log.warning("%s: %s; retry %d of %d in %.1f s", url, error, failures, settings.retries, delay)
            time.sleep(delay)


def _transfer(url: str, partial: _Partial, settings: DownloadSettings) -> bool:
    """One request: append to the partial file from where it ends if the server honours Range
    (and the file is unchanged, by If-Range), else start again. Whether the length was declared."""
    offset = partial.size()
    request = urllib.request.Request(url, headers={"User-Agent": "seq2exp-pipeline"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if partial.validator():
            request.add_header("If-Range", partial.validator())
    _add_credentials(request, url)
    try:
        response = urllib.request.urlopen(request, timeout=settings.timeout_seconds)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            partial.discard()
            raise _TransientError(f"the server has no bytes after byte {offset}; starting again") from None
        if error.code in TRANSIENT_STATUS:
            raise _TransientError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(_refusal(url, error.code, error.reason)) from None
    except (urllib.error.URLError, OSError) as error:
        raise _TransientError(f"no response ({getattr(error, 'reason', error)})") from None
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            partial.discard()
            raise _TransientError(
                f"asked to resume at byte {offset}, the server sent "
                f"{response.headers.get('Content-Range')!r}; starting again"
            )
        if not resumed:
            offset = 0
            _reject_html_type(url, response.headers.get("Content-Type", ""))
            partial.start(response.headers)
        length = response.headers.get("Content-Length")
        written = _stream(response, partial.path, "ab" if resumed else "wb", settings.chunk_size)
    if length is not None and written != int(length):
        raise _TransientError(f"body ended after {offset + written} of {offset + int(length)} bytes (Content-Length)")
    return length is not None


def _stream(response, path: Path, mode: str, chunk_size: int) -> int:
    written = 0
    with open(path, mode) as out:
        while True:
            try:
                block = response.read(chunk_size)
            except (http.client.HTTPException, OSError) as error:
                raise _TransientError(
                    f"connection lost after {written} bytes of this request ({type(error).__name__})"
                ) from None
            if not block:
                return written
            out.write(block)
            written += len(block)


def _reject_html_type(url: str, content_type: str) -> None:
    if content_type.split(";")[0].strip().lower() == "text/html":
        raise DownloadError(
            f"{url}: the server sent an HTML page (Content-Type {content_type}) instead of "
            "the file: an error or login page"
        )


def discard_bad_download(source: Source, lock_file: str | None) -> str | None:
    """If the downloaded file of a URL source fails its format check (it was fetched before the
    check existed, or replaced by hand): remove it, so that the next run downloads it again, and
    say so, naming the lock file's line that recorded it. None where the format is fine."""
    if not source.is_url or source.member or not os.path.exists(source.path):
        return None
    problem = format_problem(source.path, source.kind)
    if problem is None:
        return None
    os.unlink(source.path)
    locked = read_lock(lock_file).get(source.location)
    lock_note = (
        f"; {locked.origin} records this URL: delete that line before the next run, which downloads it again"
        if locked
        else "; the next run downloads it again"
    )
    return f"the downloaded {source.path} is no {source.kind} file ({problem}): removed it{lock_note}"


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
        return message + (
            ": 4DN serves this file only with an access key. Create one in your 4DN profile "
            f"and export {FOURDN_KEY_VARIABLES[0]} and {FOURDN_KEY_VARIABLES[1]}, or download "
            "the file yourself and point its source at the local copy (config/README.md)"
        )
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
    request = urllib.request.Request(
        metadata_url, headers={"User-Agent": "seq2exp-pipeline", "Accept": "application/json"}
    )
    _add_credentials(request, metadata_url)
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
            md5, size = parse(response.read().decode(), _name_in_url(url))
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as error:
        log.warning(
            "%s: no checksum from %s metadata %s (%s: %s); checking against the lock file instead",
            url,
            portal,
            metadata_url,
            type(error).__name__,
            error,
        )
        return None
    if not MD5_PATTERN.match(md5.lower()):
        log.warning(
            "%s: %s metadata %s gives %r, not an md5; checking against the lock file instead",
            url,
            portal,
            metadata_url,
            md5,
        )
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
    """URL -> recorded size and md5, from a lock file (absent file: empty); each origin names its line."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as handle:
        rows = [
            (number, line.rstrip("\n").split("\t"))
            for number, line in enumerate(handle, 1)
            if line.strip() and not line.startswith("#")
        ]
    if rows and tuple(rows[0][1]) != LOCK_COLUMNS:
        raise ValueError(f"{path}: expected the header columns {LOCK_COLUMNS}, found {tuple(rows[0][1])}")
    table = {}
    for number, row in rows[1:]:
        if len(row) != len(LOCK_COLUMNS) or not row[1].isdigit() or not MD5_PATTERN.match(row[2]):
            raise ValueError(f"{path}: line {number} is not 'url<TAB>bytes<TAB>md5<TAB>verified_by': {row}")
        table.setdefault(
            row[0], Fingerprint(row[2], int(row[1]), f"{path} line {number} (recorded at its first download, {row[3]})")
        )
    return table


def record_lock(path: str, url: str, fingerprint: Fingerprint, verified_by: str) -> None:
    """Append a URL's size and md5, and what vouched that it arrived whole (content-length, md5 or
    unverified), to the lock file, unless a concurrent job did already."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        present = handle.read()
        if any(line.split("\t", 1)[0] == url for line in present.splitlines()):
            return
        if not present:
            handle.write(
                "# Sizes and md5s measured at each URL's first download; later downloads must match.\n"
                + "\t".join(LOCK_COLUMNS)
                + "\n"
            )
        handle.write(f"{url}\t{fingerprint.size}\t{fingerprint.md5}\t{verified_by}\n")
