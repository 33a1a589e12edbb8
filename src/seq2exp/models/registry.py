"""Model names -> builders from a flat config dict (backbone keys and Seq2Exp keys side by side)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable

from .mamba import BackboneConfig
from .seq2exp import FeaturesOnly, FixedMaskRegressor, Regressor, Seq2Exp, Seq2ExpConfig, SequenceRegressor

# Each entry: (class, options fixed by the model name, defaults the user may override).
MODELS: dict[str, tuple[Callable[..., Regressor], dict, dict]] = {
    "features_only": (FeaturesOnly, {}, {}),
    "seq2exp_soft": (Seq2Exp, {"mask": "soft"}, {}),
    "seq2exp_hard": (Seq2Exp, {"mask": "hard"}, {"share_weights": True, "compact": True}),
    "seq2exp_retrain": (FixedMaskRegressor, {}, {}),
    "peaks_mask": (FixedMaskRegressor, {}, {}),
    "caduceus": (SequenceRegressor, {"use_signals": False}, {}),
    "caduceus_signals": (SequenceRegressor, {"use_signals": True}, {}),
    "mamba": (SequenceRegressor, {"use_signals": False, "bidirectional": False}, {}),
}

_BACKBONE_KEYS = {f.name for f in dataclasses.fields(BackboneConfig)}
_MODEL_KEYS = {f.name for f in dataclasses.fields(Seq2ExpConfig)} - {"backbone"}


def model_config(options: Mapping[str, Any] | None = None) -> Seq2ExpConfig:
    """Flat dict (e.g. the `model:` section of the config) -> Seq2ExpConfig; unknown keys are an error."""
    options = dict(options or {})
    unknown = set(options) - _BACKBONE_KEYS - _MODEL_KEYS
    if unknown:
        raise KeyError(f"unknown model config keys {sorted(unknown)}; "
                       f"known: {sorted(_BACKBONE_KEYS | _MODEL_KEYS)}")
    backbone = BackboneConfig(**{k: v for k, v in options.items() if k in _BACKBONE_KEYS})
    model = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in _MODEL_KEYS}
    return Seq2ExpConfig(backbone=backbone, **model)


def resolve(name: str, options: Mapping[str, Any] | None = None) -> tuple[Callable[..., Regressor], Seq2ExpConfig, bool | None]:
    """(class, config, use_signals) of registry model `name` with `options`, without building weights;
    unknown names and keys, and options that clash with what the name fixes, are errors."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    cls, fixed, defaults = MODELS[name]
    clashes = {k: v for k, v in (options or {}).items() if k in fixed and fixed[k] != v}
    if clashes:
        raise ValueError(f"model {name!r} fixes {fixed}; config sets {clashes}")
    merged = {**defaults, **dict(options or {}), **fixed}
    use_signals = merged.pop("use_signals", None)
    return cls, model_config(merged), use_signals


def build_model(name: str, options: Mapping[str, Any] | None = None) -> Regressor:
    """A fresh model by registry name, e.g. build_model("seq2exp_soft", {"d_model": 32, "n_layer": 2})."""
    cls, cfg, use_signals = resolve(name, options)
    return cls(cfg, use_signals) if use_signals is not None else cls(cfg)
