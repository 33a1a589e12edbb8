"""What a downloaded file must look like: its format's signature, complete to the end its header
names, and no HTML or XML page (what portals send for errors and logins)."""

from __future__ import annotations

import gzip
import os
import struct
import zipfile

from ..files import GZIP_ERRORS

MARKUP_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
TEXT_KINDS = {"fasta", "blacklist", "gene_table", "mrna_features", "gene_list", "ctss", "crispri"}
BIGWIG_MAGICS = {b"\x26\xfc\x8f\x88": "<", b"\x88\x8f\xfc\x26": ">"}  # little-, big-endian
RTREE_MAGIC = 0x2468ACE0
HIC_MAGIC = b"HIC\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
HEAD_BYTES = 1 << 16


def format_problem(path: str, kind: str | None) -> str | None:
    """Why the file at `path` is not a file of `kind` (a source kind, or "zip"), or None.

    Every kind: not an HTML or XML page (what portals send for errors and logins). bigWig, .hic,
    .mcool/.cool and zip: their signature, and an end where their header says it is (a transfer
    cut short fails). Text kinds (FASTA, BED, tables; plain or gzipped): no NUL bytes, a gzip
    stream complete to its checksum, FASTA starting with '>'. None for kind None: only the markup.
    """
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if _markup(head):
        return _markup(head)
    if kind is None:
        return None
    if kind == "bigwig":
        return _bigwig_problem(path, head)
    if kind == "hic":
        return _hic_problem(path, head)
    if kind == "zip":
        return _zip_problem(path, head)
    if kind not in TEXT_KINDS:
        raise ValueError(
            f"no format check for sources of kind {kind!r}; expected one of "
            f"{sorted(TEXT_KINDS | {'bigwig', 'hic', 'zip'})}"
        )
    if head[:2] == b"\x1f\x8b":
        try:
            head = _gunzip_whole(path)
        except GZIP_ERRORS as error:
            return f"the gzip stream is truncated or corrupt ({error}): the transfer was probably cut short"
        if _markup(head):
            return _markup(head) + " (gzipped)"
    if b"\x00" in head:
        return f"binary data where {kind} text was expected (it starts with {head[:16]!r})"
    if kind == "fasta" and not head.lstrip().startswith(b">"):
        return f"not a FASTA file (expected '>' first, it starts with {head.lstrip()[:40]!r})"
    return None


def _markup(head: bytes) -> str | None:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:40]
    if start.lower().startswith(MARKUP_STARTS):
        return f"the server sent an HTML page instead of the file (it starts with {start!r}): an error or login page"
    return None


def _gunzip_whole(path: str) -> bytes:
    """The first HEAD_BYTES decompressed, after decompressing every member to its checksum."""
    with gzip.open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        while handle.read(1 << 22):
            pass
    return head


def _bigwig_problem(path: str, head: bytes) -> str | None:
    order = BIGWIG_MAGICS.get(head[:4])
    if order is None:
        return f"not a bigWig file (it starts with {head[:16]!r}, not the bigWig signature)"
    size = os.path.getsize(path)
    zoom_levels = struct.unpack_from(order + "H", head, 6)[0]
    indexes = [struct.unpack_from(order + "Q", head, 24)[0]]
    indexes += [struct.unpack_from(order + "Q", head, 64 + 24 * level + 16)[0] for level in range(zoom_levels)]
    with open(path, "rb") as handle:
        for offset in indexes:
            handle.seek(offset)
            block = handle.read(4)
            if len(block) < 4 or struct.unpack(order + "I", block)[0] != RTREE_MAGIC:
                return (
                    f"a bigWig cut short: its header places an index at byte {offset}, the file has {size} "
                    "bytes there without it"
                )
    return None


def _hic_problem(path: str, head: bytes) -> str | None:
    if head.startswith(HDF5_MAGIC):
        import h5py

        try:
            h5py.File(path, "r").close()
        except OSError as error:
            return f"an HDF5 (.mcool/.cool) file that cannot be opened ({error}): probably cut short"
        return None
    if not head.startswith(HIC_MAGIC):
        return f"neither a .hic nor an HDF5 (.mcool/.cool) file (it starts with {head[:16]!r})"
    footer = struct.unpack_from("<q", head, 8)[0]
    size = os.path.getsize(path)
    if not 0 < footer < size:
        return f"a .hic cut short: its header places the master index at byte {footer}, the file has {size} bytes"
    return None


def _zip_problem(path: str, head: bytes) -> str | None:
    if not head.startswith(ZIP_MAGIC):
        return f"not a zip archive (it starts with {head[:16]!r})"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as error:
        return f"a zip archive cut short or corrupt ({error})"
    return f"a corrupt zip archive (member {bad} fails its CRC)" if bad else None
