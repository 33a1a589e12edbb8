"""The training side's reader of the per-gene store (`features.store` builds it and documents its layout)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..files import PerProcess


def _rows_of(gene_ids: np.ndarray, shared_ids: np.ndarray, cell_path: str, sequence_path: str) -> np.ndarray:
    """The row of each of a cell type's genes in the shared sequence store."""
    row_of = pd.Index(shared_ids).get_indexer(gene_ids)
    if (row_of < 0).any():
        raise ValueError(
            f"{cell_path}: {int((row_of < 0).sum())} genes (e.g. {gene_ids[row_of < 0][0]}) are not "
            f"in {sequence_path}; rebuild the store"
        )
    return row_of


class GeneWindows:
    """A torch-style Dataset over one cell type's store, joined to the shared sequence store on
    gene_id (a cell type holds the genes its inputs cover); HDF5 files open lazily in each worker.

    Each item: dna (L,) uint8 codes, signals (3, L) float16 (cast on the device), blacklist (L,)
    bool, peaks (L,) bool, features (F,) float32, target float32, gene_id str.
    """

    def __init__(self, store_dir: str, cell_type: str, indices=None):
        self.sequence_path = str(Path(store_dir) / "sequence.h5")
        self.cell_path = str(Path(store_dir) / f"{cell_type}.h5")
        with h5py.File(self.sequence_path, "r") as seq, h5py.File(self.cell_path, "r") as cell:
            self.gene_ids = cell["gene_id"][:].astype(str)
            self._sequence_rows = _rows_of(
                self.gene_ids, seq["gene_id"][:].astype(str), self.cell_path, self.sequence_path
            )
            self.length = 2 * int(seq.attrs["half_width"])
            self.reverse_complement_minus_strand = bool(seq.attrs["reverse_complement_minus_strand"])
            self.features = cell["features"][:]
            self.targets = cell["target"][:]
        self.indices = np.arange(len(self.gene_ids)) if indices is None else np.asarray(indices)
        self._datasets = PerProcess(self._open_datasets)

    def __len__(self) -> int:
        return len(self.indices)

    def _open_datasets(self):
        seq, cell = h5py.File(self.sequence_path, "r"), h5py.File(self.cell_path, "r")
        return {
            name: (handle[name], handle[name].dtype, handle[name].chunks)
            for handle, names in ((seq, ("dna", "blacklist")), (cell, ("signals", "peaks")))
            for name in names
        }

    def _chunk(self, name: str, i: int) -> np.ndarray:
        """One gene's chunk as stored: a raw read into a fresh array, without HDF5's selection
        machinery (several times faster than dataset[i] for chunks of a megabyte)."""
        dataset, dtype, chunks = self._datasets.get()[name]
        out = np.empty(chunks[1:], dtype=dtype)
        dataset.id.read_direct_chunk((i,) + (0,) * (len(chunks) - 1), out=out.reshape(-1).view(np.uint8))
        return out

    def _mask(self, name: str, i: int) -> np.ndarray:
        return np.unpackbits(self._chunk(name, i), count=self.length).astype(bool)

    def __getitem__(self, item: int) -> dict:
        i = int(self.indices[item])
        shared = int(self._sequence_rows[i])
        return {
            "gene_id": self.gene_ids[i],
            "dna": self._chunk("dna", shared),
            "blacklist": self._mask("blacklist", shared),
            "signals": self._chunk("signals", i),
            "peaks": self._mask("peaks", i),
            "features": self.features[i],
            "target": self.targets[i],
        }

    def close(self) -> None:
        """Close the files this process opened (a later item opens them again)."""
        handles = self._datasets.release()
        for dataset, _, _ in (handles or {}).values():
            if dataset.id.valid:  # the first of a file's datasets closes the file and its other datasets
                dataset.file.close()

    def __enter__(self) -> "GeneWindows":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
