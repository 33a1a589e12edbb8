"""Writing outputs atomically: through a temporary file beside the target, renamed on success."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str):
    """Yield a temporary path (not yet existing) beside `path`; on success it replaces `path`.

    On any error the temporary file is removed, so a failed step leaves no partial output.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix="".join(target.suffixes), dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as pyBigWig, hictkpy and h5py refuse or truncate an existing file
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_tsv(table, path: str) -> None:
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_maybe_gzip(path: str, mode: str = "rt"):
    """Open a file that may or may not be gzipped (judged by its magic bytes, not its name)."""
    return gzip.open(path, mode) if is_gzip(path) else open(path, mode)


def sha256sum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_sidecar(path: str) -> str:
    return f"{path}.sha256"


def write_checksum(path: str) -> str:
    """`<path>.sha256` in sha256sum's format, so that later jobs can identify the file without rereading it."""
    digest = sha256sum(path)
    with atomic_output(checksum_sidecar(path)) as tmp:
        Path(tmp).write_text(f"{digest}  {Path(path).name}\n")
    return digest


def read_checksum(path: str) -> str:
    sidecar = Path(checksum_sidecar(path))
    if not sidecar.exists():
        raise FileNotFoundError(f"{sidecar}: checksum of {path} missing; rerun the rule that writes {path}")
    return sidecar.read_text().split()[0]
