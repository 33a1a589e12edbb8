"""Archives and compressed files -> the files the rules read: a zip member, the genome FASTA
decompressed and indexed."""

from __future__ import annotations

import os
import shutil
import zipfile

from ..files import GZIP_ERRORS, atomic_output, open_maybe_gzip


def extract_member(archive: str, member: str, destination: str) -> None:
    """Copy one member of a zip archive to `destination`, atomically."""
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
        if member not in names:
            raise FileNotFoundError(f"{archive} has no member {member!r}; it holds: {', '.join(names[:20])}")
        with atomic_output(destination) as tmp, handle.open(member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)


def prepare_genome(source: str, fasta: str) -> None:
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
