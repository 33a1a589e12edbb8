"""Input sources: a URL or local path (optionally a member of a zip) -> a local file.

Every configured source gets a key (`genome.fasta`, `K562.dnase`, ...). A URL is downloaded to
`<resources_dir>/downloads/<key>/<file name>`; a zip member is extracted to
`<resources_dir>/extracted/<key>/<member name>`; a local path is read where it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass

from .files import GZIP_ERRORS, atomic_output, open_maybe_gzip

URL_SCHEMES = ("http", "https", "ftp")


@dataclass(frozen=True)
class Source:
    """One configured input: where it comes from and where the pipeline reads it."""

    key: str
    kind: str  # fasta | blacklist | gene_table | mrna_features | bigwig | hic | ctss
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
        ("genes.mrna_features", "mrna_features", config["genes"]["mrna_features"]),
    ]
    kinds = {"dnase": "bigwig", "h3k27ac": "bigwig", "hic": "hic", "cage": "ctss"}
    for cell in config["run_cell_types"]:
        for name, kind in kinds.items():
            entries.append((f"{cell}.{name}", kind, config["cell_types"][cell][name]))
    return [make_source(key, kind, value, res) for key, kind, value in entries]


def downloads(config: dict) -> dict[str, str]:
    """Local download path -> URL, for every URL among the sources (archives included)."""
    res = config["resources_dir"]
    table = {}
    for source in configured_sources(config):
        if not source.is_url:
            continue
        path = archive_path(source, res) if source.member else source.path
        table[path] = source.location
    return table


def extractions(config: dict) -> dict[str, tuple[str, str]]:
    """Local extracted path -> (archive path, member), for every zip member source."""
    res = config["resources_dir"]
    return {s.path: (archive_path(s, res), s.member) for s in configured_sources(config) if s.member}


def download(url: str, destination: str, chunk_size: int = 1 << 20) -> None:
    """Stream `url` into a temporary file beside `destination`, then move it into place."""
    request = urllib.request.Request(url, headers={"User-Agent": "seq2exp-pipeline"})
    with atomic_output(destination) as tmp:
        with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, chunk_size)


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


def sha256sum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
