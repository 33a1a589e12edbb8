"""From the per-gene store to model batches: splits, feature scaling, channel layout, external masks.

The store holds DNA as uint8 codes (L,), signals as (3, L) float16 in `SIGNAL_CHANNELS` order, and
bit-packed masks; a model batch (see `models/regressors.py`) holds one-hot DNA (B, L, 4), signals
(B, L, 3) in the order that the model's `signal_b` / `signal_weights` expect, blacklist (B, L) bool,
standardised features (B, F), target (B,), for the fixed-mask models a mask (B, L), and for models
that pick elements from the peaks (EPInformer) the MACS3 peak mask as peaks (B, L) bool.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd
import torch

from ..features.genome import central_slice
from ..models import one_hot
from .dataset import GeneWindows
from .masks import open_masks

# The order of the signal channels that the model's signal Beta constants refer to:
# Seq2ExpConfig.signal_b = (H3K27ac, DNase, Hi-C).
MODEL_SIGNAL_ORDER = ("h3k27ac", "dnase", "hic")
SPLITS = ("train", "valid", "test")


@dataclass
class FeatureScaling:
    """Standardisation of the extra features with training-gene statistics (stored with the model)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> "FeatureScaling":
        std = features.std(0)
        return cls(features.mean(0), np.where(std > 0, std, 1.0))

    def apply(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> "FeatureScaling":
        return cls(np.asarray(values["mean"]), np.asarray(values["std"]))


def split_indices(dataset: GeneWindows, genes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Store rows of each split, by the gene table's `split` column. Every store gene must be in the
    table and every split non-empty: nothing moves between train, valid and test silently."""
    split_of = genes.set_index("gene_id")["split"]
    missing = [g for g in dataset.gene_ids if g not in split_of.index]
    if missing:
        raise ValueError(
            f"{dataset.cell_path}: {len(missing)} store genes are not in the gene table, "
            f"e.g. {missing[0]}; rebuild the store"
        )
    splits = split_of.reindex(dataset.gene_ids).to_numpy()
    indices = {part: np.flatnonzero(splits == part) for part in SPLITS}
    empty = [part for part, idx in indices.items() if len(idx) == 0]
    if empty:
        raise ValueError(f"{dataset.cell_path}: no gene in split(s) {empty}; check split.valid / split.test")
    return indices


def check_channel_order(dataset: GeneWindows) -> None:
    with h5py.File(dataset.cell_path, "r") as handle:
        channels = tuple(handle.attrs["channels"])
    if channels != MODEL_SIGNAL_ORDER:
        raise ValueError(f"{dataset.cell_path}: signal channels {channels}; the model expects {MODEL_SIGNAL_ORDER}")


def retrain_mask(soft: torch.Tensor, fraction: float, central_bp: int, blacklist: torch.Tensor | None) -> torch.Tensor:
    """Seq2Exp-retrain's mask: exactly round(fraction x L) positions per window, the forced central
    region counted inside them, then the highest soft-mask values outside the blacklist. Equal
    values (the stored 8-bit soft mask has many) go to the position nearer the centre (the TSS),
    then to the lower index: stable sorts, not topk's unspecified order among ties."""
    scores = soft.float().clone()
    if blacklist is not None:
        scores = scores.masked_fill(blacklist.bool(), float("-inf"))
    length = scores.shape[-1]
    scores[..., central_slice(length, central_bp)] = float("inf")
    positions = torch.arange(length, device=scores.device)
    centre_out = torch.argsort((positions - length // 2).abs(), stable=True)
    ranked = torch.sort(scores[..., centre_out], dim=-1, descending=True, stable=True).indices
    chosen = centre_out[ranked[..., : round(fraction * length)]]
    return torch.zeros_like(scores).scatter_(-1, chosen, 1.0)


class MaskSource:
    """Per-gene external masks for the fixed-mask models: the store's MACS3 peak mask, or the top
    fraction of a trained soft mask (`masks.h5` of the soft model, in store row order)."""

    def __init__(self, kind: str, masks_path: str | None = None, fraction: float = 0.1, central_bp: int = 0):
        if kind not in ("peaks", "retrain"):
            raise ValueError(f"unknown mask source {kind!r}")
        self.kind, self.masks_path, self.fraction, self.central_bp = kind, masks_path, fraction, central_bp

    def soft(self, rows: list[int]) -> np.ndarray:
        with open_masks(self.masks_path) as masks:
            soft = masks["mask"][rows]
        missing = np.flatnonzero(np.isnan(soft).any(-1))
        if len(missing):
            raise ValueError(f"{self.masks_path}: no mask for store row(s) {[rows[i] for i in missing]}")
        return soft


class BatchMaker:
    """collate_fn: store items -> the model's batch (`peaks`: add the store's peak mask as batch["peaks"])."""

    def __init__(self, scaling: FeatureScaling, mask_source: MaskSource | None = None, peaks: bool = False):
        self.scaling, self.mask_source, self.peaks = scaling, mask_source, peaks

    def __call__(self, items: list[dict]) -> dict:
        batch = {
            "gene_id": [item["gene_id"] for item in items],
            "row": torch.tensor([item["row"] for item in items]),
            "dna": one_hot(torch.from_numpy(np.stack([item["dna"] for item in items]))),
            "signals": torch.from_numpy(np.stack([item["signals"] for item in items])).float().transpose(1, 2),
            "blacklist": torch.from_numpy(np.stack([item["blacklist"] for item in items])),
            "features": torch.from_numpy(self.scaling.apply(np.stack([item["features"] for item in items]))),
            "target": torch.tensor(np.array([item["target"] for item in items], dtype=np.float32)),
        }
        if self.mask_source is not None:
            batch["mask"] = self._mask(items, batch)
        if self.peaks:
            batch["peaks"] = torch.from_numpy(np.stack([item["peaks"] for item in items]))
        return batch

    def _mask(self, items: list[dict], batch: dict) -> torch.Tensor:
        source = self.mask_source
        if source.kind == "peaks":
            return torch.from_numpy(np.stack([item["peaks"] for item in items])).float()
        soft = torch.from_numpy(source.soft([item["row"] for item in items]))
        return retrain_mask(soft, source.fraction, source.central_bp, batch["blacklist"])


class IndexedWindows(torch.utils.data.Dataset):
    """GeneWindows restricted to `rows`, each item carrying its store row (to join masks and tables)."""

    def __init__(self, windows: GeneWindows, rows: np.ndarray):
        self.windows, self.rows = windows, np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        return {**self.windows[row], "row": row}
