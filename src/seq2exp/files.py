"""Writing outputs atomically and reproducibly; reading text inputs with errors that name the file.

Temporary names are derived from the output's path (never random), so a rerun after a killed job
(SIGKILL, or a scheduler's SIGTERM) removes what that job left behind; scratch folders, which can
live for long, have unique names and a lock instead (`scratch_dir`).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import glob
import gzip
import hashlib
import io
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import pandas as pd

GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_output(path: str):
    """Yield a temporary path (not yet existing) beside `path`; on success it replaces `path`.

    On any error the temporary file is removed, so a failed step leaves no partial output. The
    temporary name keeps the target's suffixes, as writers pick the format from them.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.partial{''.join(target.suffixes)}"
    _remove(tmp)  # left by a killed run; writers such as pyBigWig, hictkpy and h5py refuse or truncate it
    try:
        yield str(tmp)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def write_atomically(path: str, write) -> None:
    """`write(tmp)` writes the file at a temporary path, which replaces `path` once it succeeds."""
    with atomic_output(path) as tmp:
        write(tmp)


@contextlib.contextmanager
def scratch_dir(path: str, purpose: str):
    """A fresh folder of its own beside output `path` for intermediate files, removed afterwards.

    Its name is unique and it holds a lock (flock on `.lock` inside) while in use, so two runs
    writing `path` (two working directories sharing a results folder) keep apart; folders whose
    lock no process holds were left by killed jobs and are removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{target.name}.{purpose}."
    for folder in target.parent.glob(glob.escape(stem) + "*.tmp"):
        _remove_if_abandoned(folder)
    # Locked before it takes the name that others clean up.
    opening = Path(tempfile.mkdtemp(prefix=stem, suffix=".new", dir=target.parent))
    with open(opening / SCRATCH_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        scratch = opening.with_suffix(".tmp")
        os.rename(opening, scratch)
        try:
            yield str(scratch)
        finally:
            _remove(scratch)


SCRATCH_LOCK = ".lock"


def _remove_if_abandoned(folder: Path) -> None:
    try:
        with open(folder / SCRATCH_LOCK) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _remove(folder)
    except (BlockingIOError, FileNotFoundError):
        pass  # in use by a live job, or removed by another job just now


@contextlib.contextmanager
def gzip_text_writer(path: str, level: int = 6):
    """A text handle writing gzip with no file name or time in its header (byte-reproducible)."""
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="") as text,
    ):
        yield text


def write_tsv(table, path: str) -> None:
    with atomic_output(path) as tmp:
        if str(path).endswith(".gz"):
            with gzip_text_writer(tmp) as out:
                table.to_csv(out, sep="\t", index=False)
        else:
            table.to_csv(tmp, sep="\t", index=False)


def write_text(text: str, path: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_maybe_gzip(path: str, mode: str = "rt"):
    """Open a file that may or may not be gzipped (judged by its magic bytes, not its name)."""
    return gzip.open(path, mode) if is_gzip(path) else open(path, mode)


def sha256sum(path: str) -> str:
    return _digest(path, hashlib.sha256())


def md5sum(path: str) -> str:
    return _digest(path, hashlib.md5())


def _digest(path: str, digest) -> str:
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


class PerProcess:
    """Handles opened on first use in each process (forked workers must not share file offsets);
    a pickled copy opens its own."""

    def __init__(self, open_handles):
        self._open, self.handles, self._pid = open_handles, None, None

    def get(self):
        if self._pid != os.getpid():
            self.handles, self._pid = self._open(), os.getpid()
        return self.handles

    def release(self):
        """This process's handles, forgotten here (None when it opened none), for the caller to close."""
        handles = self.handles if self._pid == os.getpid() else None
        self.handles, self._pid = None, None
        return handles

    def __getstate__(self):
        return {**self.__dict__, "handles": None, "_pid": None}


def read_text_table(path: str, **kwargs) -> pd.DataFrame:
    """pd.read_csv of a plain or gzipped file; an empty or broken file is a ValueError naming it."""
    try:
        with open_maybe_gzip(path) as handle:
            if not handle.read(1):
                raise pd.errors.EmptyDataError
            handle.seek(0)
            return pd.read_csv(handle, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except GZIP_ERRORS as error:
        raise ValueError(f"{path}: truncated or corrupt gzip file ({error})") from None


DELIMITER_NAMES = {",": "comma", "\t": "tab"}
SNIFF_BYTES = 1 << 16


def table_delimiter(path: str) -> str:
    """ "," or tab: by the name (.csv, .tsv, .tab, also gzipped), otherwise sniffed from the first lines."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".tab")):
        return "\t"
    try:
        with open_maybe_gzip(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except GZIP_ERRORS as error:
        raise ValueError(f"{path}: truncated or corrupt gzip file ({error})") from None
    try:
        return csv.Sniffer().sniff(head, delimiters=",\t").delimiter
    except csv.Error:
        raise ValueError(f"{path}: cannot tell whether it is comma- or tab-separated; name it .csv or .tsv") from None


def read_table(path: str, **kwargs) -> pd.DataFrame:
    """A CSV or TSV table with a header (plain or gzipped); `attrs["delimiter"]` says how it was read."""
    delimiter = table_delimiter(path)
    table = read_text_table(path, sep=delimiter, **kwargs)
    table.attrs["delimiter"] = delimiter
    return table


def require_columns(table: pd.DataFrame, columns, path: str) -> None:
    """An error naming the file, the missing columns, what it has and how it was split into columns."""
    missing = [c for c in columns if c not in table.columns]
    if not missing:
        return
    read_as = DELIMITER_NAMES.get(table.attrs.get("delimiter"))
    how = f" (read as {read_as}-separated)" if read_as else ""
    hint = ""
    if table.shape[1] == 1 and read_as:
        other = next((name for d, name in DELIMITER_NAMES.items() if d in str(table.columns[0])), None)
        if other:
            hint = f"; its header is {other}-separated: name the file .{'tsv' if other == 'tab' else 'csv'}"
    raise ValueError(f"{path}: missing column(s) {missing}; it has {list(table.columns)}{how}{hint}")


def nonnegative_integers(values: pd.Series, path: str, column: str) -> pd.Series:
    """A column of coordinates as int64, or an error naming the file, the column and the first bad row."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round()) | (numbers < 0)
    if bad.any():
        raise ValueError(
            f"{path}: column {column} must hold non-negative integers; "
            f"row {int(bad.to_numpy().nonzero()[0][0]) + 1} has {values[bad].iloc[0]!r}"
        )
    return numbers.astype("int64")


def check_intervals(table: pd.DataFrame, path: str, start: str = "start", end: str = "end") -> None:
    """An error naming the file and the first interval whose end is not after its start."""
    bad = table[end] <= table[start]
    if bad.any():
        row = table[bad].iloc[0]
        raise ValueError(f"{path}: interval {row['chrom']}:{row[start]}-{row[end]} has end <= start")
