"""masks.h5: a job's per-gene masks in store row order, the only code that reads or writes it.

Layout (attribute `format` = FORMAT): attributes `model`, `central_region_bp`, `length`;
`gene_id` (genes,) bytes; one group per mask (`mask`: what the predictor saw; `soft`: the hard
model's Beta mean; `mask_untrained`: the generator's mask at step 0, test genes only), each with `written`
(genes,) bool and, by its attribute `encoding`, either
- "uint8-delta": continuous masks as q = round(mask x 255), read back as q / 255 (error at most
  1/510), stored as `values` (genes, length) uint8 = q's differences from the previous base
  modulo 256 (q[0] first), one gzip chunk per gene: the differences compress better than q
  (`benchmarks/bench_masks.py`), or
- "intervals": the runs of 1 of a 0/1 mask, half-open window positions `starts`, `ends` (int32),
  gene i's runs being `first[i]` to `first[i] + count[i]`; decoded exactly.
A row not (yet) written reads as NaN.
"""

from __future__ import annotations

import h5py
import numpy as np
import torch

from ..features.genome import true_runs
from ..files import atomic_output
from .specs import MODEL_SPECS

FORMAT = "seq2exp-masks/2"
LEVELS = 255
GZIP = dict(compression="gzip", compression_opts=4, track_times=False)
INTERVAL_CHUNK = 1 << 16


def binary_masks(model: str, mask_kind: str) -> frozenset[str]:
    """The masks of `model` that are 0/1 by construction: an external mask (MACS3 peaks, the top
    fraction of a soft mask) and, for a generator with a hard mask (`mask_kind` "hard"), the
    thresholded masks; the Beta mean `soft` stays continuous."""
    spec = MODEL_SPECS[model]
    if spec.mask_source is not None:
        return frozenset({"mask"})
    if spec.has_generator and mask_kind == "hard":
        return frozenset({"mask", "mask_untrained"})
    return frozenset()


def quantise(mask: np.ndarray) -> np.ndarray:
    """round(mask x 255) as uint8."""
    return np.rint(np.asarray(mask, dtype=np.float32) * LEVELS).astype(np.uint8)


def dequantise(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32) / LEVELS


class MaskWriter:
    """Context manager writing masks.h5 atomically: `add(rows, name=tensor (B, length) in [0, 1], ...)`,
    masks created on first use; None values are skipped. `binary`: names written as intervals,
    whose values must be exactly 0 or 1."""

    def __init__(self, path: str, gene_ids, length: int, binary=frozenset(), attrs: dict | None = None):
        self.path, self.gene_ids, self.length = path, np.asarray(gene_ids), length
        self.binary, self.attrs = frozenset(binary), dict(attrs or {})

    @classmethod
    def for_module(cls, path: str, windows, module) -> "MaskWriter":
        """The writer of an `ExpressionModule`'s masks over the store `windows`."""
        cfg = module.model.cfg
        return cls(
            path,
            windows.gene_ids,
            windows.length,
            binary_masks(module.hparams.model, cfg.mask),
            {"model": module.hparams.model, "central_region_bp": cfg.central_region_bp},
        )

    def __enter__(self) -> "MaskWriter":
        self._atomic = atomic_output(self.path)
        self.handle = h5py.File(self._atomic.__enter__(), "w")
        self.handle.attrs.update(self.attrs, format=FORMAT, length=self.length)
        self.handle["gene_id"] = self.gene_ids.astype("S")
        return self

    def add(self, rows, **masks) -> None:
        rows = np.asarray(rows.tolist() if isinstance(rows, torch.Tensor) else rows, dtype=np.int64)
        for name, values in masks.items():
            if values is None:
                continue
            values = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
            self._check(name, rows, values)
            group = self.handle[name] if name in self.handle else self._create(name)
            if name in self.binary:
                self._add_intervals(group, rows, values)
            else:
                for row, value in zip(rows, quantise(values)):
                    group["values"][row] = np.diff(value, prepend=np.uint8(0))
            group["written"][np.sort(rows)] = True

    def _check(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        if values.shape != (len(rows), self.length):
            raise ValueError(
                f"{self.path}: mask {name!r} of shape {values.shape}; expected ({len(rows)}, {self.length})"
            )
        if name in self.binary:
            if not np.isin(values, (0.0, 1.0)).all():
                raise ValueError(f"{self.path}: mask {name!r} is stored as 0/1 intervals but holds other values")
        elif not ((values >= 0) & (values <= 1)).all():
            raise ValueError(f"{self.path}: mask {name!r} holds values outside [0, 1] (or NaN)")

    def _create(self, name: str) -> h5py.Group:
        n = len(self.gene_ids)
        group = self.handle.create_group(name)
        group.create_dataset("written", shape=(n,), dtype=bool, fillvalue=False, track_times=False)
        if name in self.binary:
            group.attrs["encoding"] = "intervals"
            for key in ("first", "count"):
                group.create_dataset(key, shape=(n,), dtype=np.int64, fillvalue=0, track_times=False)
            for key in ("starts", "ends"):
                group.create_dataset(
                    key, shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(INTERVAL_CHUNK,), shuffle=True, **GZIP
                )
        else:
            group.attrs["encoding"] = "uint8-delta"
            group.create_dataset("values", shape=(n, self.length), dtype=np.uint8, chunks=(1, self.length), **GZIP)
        return group

    def _add_intervals(self, group: h5py.Group, rows: np.ndarray, values: np.ndarray) -> None:
        per_row = [true_runs(value) for value in values]
        counts = np.array([len(s) for s, _ in per_row], dtype=np.int64)
        offset = group["starts"].shape[0]
        for key, column in (("starts", 0), ("ends", 1)):
            data = group[key]
            data.resize((offset + counts.sum(),))
            if counts.sum():
                data[offset:] = np.concatenate([r[column] for r in per_row])
        order = np.argsort(rows)
        group["first"][rows[order]] = (offset + np.cumsum(counts) - counts)[order]
        group["count"][rows[order]] = counts[order]

    def __exit__(self, *exc):
        self.handle.close()
        return self._atomic.__exit__(*exc)


class MaskFile:
    """A masks.h5 open for reading, as a context manager: `gene_ids`, `names`, `attrs`, and per
    mask (`masks["mask"]`) rows as float32: `[row]` (length,), `[rows]` or `[a:b]` (k, length)."""

    def __init__(self, path: str):
        self.path = path
        self.handle = h5py.File(path, "r")
        if self.handle.attrs.get("format") != FORMAT:
            self.handle.close()
            raise ValueError(
                f"{path}: not a masks file of format {FORMAT} (written by an older seq2exp?); "
                "rerun the job that writes it"
            )
        self.gene_ids = self.handle["gene_id"][:].astype(str)
        self.attrs = dict(self.handle.attrs)
        self.names = tuple(key for key in self.handle if isinstance(self.handle[key], h5py.Group))

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> "StoredMask":
        if name not in self.names:
            raise KeyError(f"{self.path}: no mask {name!r}; it has {list(self.names)}")
        return StoredMask(self.handle[name], len(self.gene_ids), int(self.attrs["length"]))

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "MaskFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_masks(path: str) -> MaskFile:
    return MaskFile(path)


class StoredMask:
    """One mask of a MaskFile, decoded row by row (only while its file is open)."""

    def __init__(self, group: h5py.Group, n_genes: int, length: int):
        self.group, self.shape = group, (n_genes, length)
        self.encoding = group.attrs["encoding"]
        self.written = group["written"][:]
        if self.encoding == "intervals":
            self.first, self.count = group["first"][:], group["count"][:]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            return self._row(int(rows))
        return np.stack([self._row(int(r)) for r in np.arange(self.shape[0])[rows]]).reshape(-1, self.shape[1])

    def _row(self, row: int) -> np.ndarray:
        if not self.written[row]:
            return np.full(self.shape[1], np.nan, dtype=np.float32)
        if self.encoding == "uint8-delta":
            return dequantise(np.cumsum(self.group["values"][row], dtype=np.uint8))
        lo, hi = self.first[row], self.first[row] + self.count[row]
        edges = np.zeros(self.shape[1] + 1, dtype=np.int8)
        edges[self.group["starts"][lo:hi]] = 1  # runs are maximal: no start is another run's end
        edges[self.group["ends"][lo:hi]] = -1
        return np.cumsum(edges[:-1], dtype=np.int8).astype(np.float32)
