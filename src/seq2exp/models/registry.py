"""Registry names -> builders from a flat config dict (backbone keys, Seq2Exp keys and, for the
baselines with options of their own, the keys of their `Options` dataclass, side by side).
What each name fixes and defaults is in `seq2exp.architectures`, which needs no torch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from ..architectures import Seq2ExpConfig, resolve_options
from ..training.specs import MODEL_SPECS
from .baselines import Enformer, EPInformer, HyenaDNA
from .regressors import FeaturesOnly, FixedMaskRegressor, PeakMaskRegressor, Regressor, SequenceRegressor
from .seq2exp import Seq2Exp

_CLASSES = {
    cls.__name__: cls
    for cls in (
        EPInformer,
        Enformer,
        FeaturesOnly,
        FixedMaskRegressor,
        HyenaDNA,
        PeakMaskRegressor,
        Seq2Exp,
        SequenceRegressor,
    )
}
# Registry name -> class, as the spec table (`training.specs.MODEL_SPECS`) pairs them.
MODELS: dict[str, Callable[..., Regressor]] = {
    spec.registry_name: _CLASSES[spec.model_class] for spec in MODEL_SPECS.values()
}


def resolve(
    name: str, options: Mapping[str, Any] | None = None
) -> tuple[Callable[..., Regressor], Seq2ExpConfig, dict]:
    """(class, config, further constructor arguments) of registry model `name` with `options`, without
    building weights; unknown names and keys, and options that clash with what the name fixes, are errors."""
    config, kwargs = resolve_options(name, options)
    return MODELS[name], config, kwargs


def build_model(name: str, options: Mapping[str, Any] | None = None) -> Regressor:
    """A fresh model by registry name, e.g. build_model("seq2exp_soft", {"d_model": 32, "n_layer": 2})."""
    cls, cfg, kwargs = resolve(name, options)
    return cls(cfg, **kwargs)
