"""DNA as the models take it (one-hot codes) and a sample on the other strand: the reverse-complement
augmentation and test-time averaging of the Caduceus-Ph baseline."""

from __future__ import annotations

import torch
import torch.nn as nn

# Per-position inputs of a sample and whether their channel axis is complemented under reverse complement.
POSITIONAL_KEYS = {"dna": True, "signals": False, "blacklist": False, "mask": False}


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    """uint8 codes 0..4 = A, C, G, T, N (..., L) -> float one-hot (..., L, 4) in ACGT order, N all zeros."""
    return torch.eye(5, dtype=torch.float32, device=codes.device)[codes.long()][..., :4]


def reverse_complement(dna: torch.Tensor) -> torch.Tensor:
    """One-hot (B, L, 4) in ACGT order: complement reverses the channels, reverse flips the length."""
    return dna.flip(-2, -1)


def reverse_complement_sample(batch: dict) -> dict:
    """The whole sample on the other strand: DNA reverse-complemented, signals and masks flipped along L."""
    out = dict(batch)
    for key, complement in POSITIONAL_KEYS.items():
        if key in batch and batch[key] is not None:
            out[key] = batch[key].flip(-2, -1) if complement else batch[key].flip(1)
    return out


def rc_averaged_predict(model: nn.Module, batch: dict, forward=None) -> torch.Tensor:
    """Caduceus-Ph test-time prediction: mean of the forward and reverse-complement predictions;
    `forward`, the model's output on `batch` where the caller has it already."""
    forward = model(batch) if forward is None else forward
    return (forward.prediction + model(reverse_complement_sample(batch)).prediction) / 2
