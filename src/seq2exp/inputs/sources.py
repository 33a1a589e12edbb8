"""Input sources: a URL or local path (optionally a member of a zip) -> a local file.

Every configured source gets a key (`genome.fasta`, `K562.dnase`, ...). A URL is downloaded to
`<resources_dir>/downloads/<key>/<file name>`; a zip member is extracted to
`<resources_dir>/extracted/<key>/<member name>`; a local path is read where it is. The Snakefile
reads this module (in the pipeline env): it imports only the standard library.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

URL_SCHEMES = ("http", "https", "ftp")


@dataclass(frozen=True)
class Source:
    """One configured input: where it comes from and where the pipeline reads it."""

    key: str
    kind: str  # fasta | blacklist | gene_table | mrna_features | gene_list | bigwig | hic | ctss | crispri
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
    if config["genes"].get("tss_gene_list"):
        entries.append(("genes.tss_gene_list", "gene_list", config["genes"]["tss_gene_list"]))
    kinds = {"dnase": "bigwig", "h3k27ac": "bigwig", "hic": "hic", "cage": "ctss"}
    if config["features"].get("promoter_activity") == "gene_list":
        kinds["gene_list"] = "gene_list"
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


@dataclass(frozen=True)
class DownloadJob:
    key: str  # the source key (`K562.dnase`)
    url: str
    path: str
    md5: str | None  # published md5 from the config's `downloads.md5`
    kind: str  # the format the file must have: the source's kind, or "zip" for an archive of members


def download_jobs(config: dict) -> list[DownloadJob]:
    """One job per URL among the run's sources (archives of zip members included)."""
    published = config["downloads"]["md5"]
    all_keys = {s.key for s in configured_sources(dict(config, run_cell_types=list(config["cell_types"])))}
    unknown = sorted(set(published) - all_keys)
    if unknown:
        raise ValueError(f"downloads.md5: {unknown} are not source keys; expected some of {sorted(all_keys)}")
    res = config["resources_dir"]
    return [
        DownloadJob(
            s.key,
            s.location,
            archive_path(s, res) if s.member else s.path,
            published.get(s.key),
            "zip" if s.member else s.kind,
        )
        for s in configured_sources(config)
        if s.is_url
    ]
