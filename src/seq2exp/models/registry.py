"""Model names -> builders from a flat config dict (backbone keys, Seq2Exp keys and, for the
baselines with options of their own, the keys of their `Options` dataclass, side by side)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable

from .baselines import EPInformer, Enformer, HyenaDNA
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
    "hyenadna": (HyenaDNA, {}, {}),
    "enformer": (Enformer, {}, {}),
    "epinformer": (EPInformer, {}, {}),
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


def own_option_keys(cls) -> set[str]:
    """The keys of a model class's own options dataclass (`cls.Options`), if it has one."""
    options = getattr(cls, "Options", None)
    return {f.name for f in dataclasses.fields(options)} if dataclasses.is_dataclass(options) else set()


def resolve(name: str, options: Mapping[str, Any] | None = None) -> tuple[Callable[..., Regressor], Seq2ExpConfig, dict]:
    """(class, config, further constructor arguments) of registry model `name` with `options`, without
    building weights; unknown names and keys, and options that clash with what the name fixes, are errors."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    cls, fixed, defaults = MODELS[name]
    clashes = {k: v for k, v in (options or {}).items() if k in fixed and fixed[k] != v}
    if clashes:
        raise ValueError(f"model {name!r} fixes {fixed}; config sets {clashes}")
    merged = {**defaults, **dict(options or {}), **fixed}
    own_keys = own_option_keys(cls)
    unknown = set(merged) - _BACKBONE_KEYS - _MODEL_KEYS - own_keys - {"use_signals"}
    if unknown:
        raise KeyError(f"unknown model config keys {sorted(unknown)} for model {name!r}; "
                       f"known: {sorted(_BACKBONE_KEYS | _MODEL_KEYS | own_keys)}")
    kwargs = {}
    if "use_signals" in merged:
        kwargs["use_signals"] = merged.pop("use_signals")
    if own_keys:
        kwargs["options"] = cls.Options(**{k: merged.pop(k) for k in own_keys & set(merged)})
    return cls, model_config(merged), kwargs


def build_model(name: str, options: Mapping[str, Any] | None = None) -> Regressor:
    """A fresh model by registry name, e.g. build_model("seq2exp_soft", {"d_model": 32, "n_layer": 2})."""
    cls, cfg, kwargs = resolve(name, options)
    return cls(cfg, **kwargs)
