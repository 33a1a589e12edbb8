"""Model options without torch: the configs of the backbone and of Seq2Exp, the baselines' own options,
and what each registry model fixes and defaults.

The Snakefile checks a run's model options with these before any job (its environment has no torch);
`models/registry.py` pairs each name here with the class that builds it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CHUNK = 128  # positions per chunk of the selective scan (models/scan/chunked.py)


@dataclass
class BackboneConfig:
    """Sizes and options of a Caduceus / Mamba backbone (defaults: the paper's 4 x 128)."""

    d_model: int = 128
    n_layer: int = 4
    d_state: int = 16
    expand: int = 2
    d_conv: int = 4
    dt_rank: int | None = None  # None: ceil(d_model / 16), as mamba-ssm
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    dt_init_floor: float = 1e-4
    bidirectional: bool = True  # False: plain (causal) Mamba
    rcps: bool = False  # reverse-complement parameter sharing (Caduceus-PS)
    norm_eps: float = 1e-5
    scan_impl: str = "auto"  # auto | torch | triton | mamba_ssm (models/scan/select.py SCAN_IMPLS)
    chunk_size: int = DEFAULT_CHUNK

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def rank(self) -> int:
        return self.dt_rank or math.ceil(self.d_model / 16)


BETA_FORMS = ("authors", "paper")
MASK_KINDS = ("soft", "hard")
MASK_TARGETS = ("embeddings", "inputs")


@dataclass
class Seq2ExpConfig:
    """Model options; defaults are the paper's / the authors' code (see reference notes)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    n_signals: int = 3
    n_features: int = 9
    use_features: bool = True
    mlp_hidden: int = 128
    beta_min: float = 1.0
    signal_scale: float = 10.0
    signal_b: tuple[float, ...] = (1.5, 0.2, 1.0)  # beta constants of (H3K27ac, DNase, Hi-C)
    signal_weights: tuple[float, ...] = (0.4, 0.4, 0.2)
    prior: tuple[float, float] = (10.0, 90.0)  # Beta(alpha3, beta3), mean 0.1
    kl_weight: float = 0.01
    beta_form: str = "authors"  # authors: Beta(a_seq + sum w a_i, ...); paper: the same minus 1 (Prop. 2)
    mask_applies_to: str = "embeddings"  # embeddings (authors' code) | inputs (the paper's M ⊙ X)
    mask: str = "soft"  # soft | hard
    threshold: float = 0.5
    generator_motif_bp: int = 0  # > 0: a motif-scanning convolution in front of the generator (not the paper's)
    generator_pool_bp: int = 1  # its max-pool, e.g. an element's length, so a motif marks the element around it
    centre_generator_logits: bool = False  # true: the generator ranks positions within a window, not the mask's level
    share_weights: bool = False  # hard run: generator and predictor are one backbone
    compact: bool = False  # hard run: the predictor sees only the selected positions
    central_region_bp: int = 2000  # always selected
    pooled_region_bp: int = 2000  # the head mean-pools here

    def __post_init__(self):
        if self.beta_form not in BETA_FORMS:
            raise ValueError(f"beta_form must be one of {BETA_FORMS}, got {self.beta_form!r}")
        if self.mask not in MASK_KINDS:
            raise ValueError(f"mask must be one of {MASK_KINDS}, got {self.mask!r}")
        if self.mask_applies_to not in MASK_TARGETS:
            raise ValueError(f"mask_applies_to must be one of {MASK_TARGETS}, got {self.mask_applies_to!r}")
        if self.generator_motif_bp < 0 or self.generator_pool_bp < 1:
            raise ValueError(
                "generator_motif_bp must be >= 0 and generator_pool_bp >= 1, "
                f"got {self.generator_motif_bp} and {self.generator_pool_bp}"
            )
        if self.generator_motif_bp and self.backbone.rcps:
            raise ValueError("generator_motif_bp needs rcps false: the motif stem is not RC-equivariant")
        if not len(self.signal_b) == len(self.signal_weights) == self.n_signals:
            raise ValueError("signal_b and signal_weights need one entry per signal (n_signals)")
        if not math.isclose(sum(self.signal_weights), 1.0):
            raise ValueError(f"signal_weights must sum to 1, got {self.signal_weights}")
        if len(self.prior) != 2 or min(self.prior) <= 0:
            raise ValueError(f"prior must be two positive Beta parameters (alpha, beta), got {self.prior}")
        if self.beta_min < 0 or self.signal_scale <= 0:
            raise ValueError(f"beta_min must be >= 0 and signal_scale > 0, got {self.beta_min} and {self.signal_scale}")


# --- the baselines' own options (models/baselines/) -----------------------------------------


@dataclass
class EnformerOptions:
    """Enformer's own options (models/baselines/enformer.py)."""

    bin_size: int = 128  # bp per transformer token: 2 ** (1 + conv tower blocks)
    input_length: int | None = None  # central bp fed to the model; None: the largest multiple of bin_size
    n_heads: int = 8

    def __post_init__(self):
        if self.bin_size < 2 or self.bin_size & (self.bin_size - 1):
            raise ValueError(f"bin_size must be a power of 2 >= 2, got {self.bin_size}")
        if self.input_length is not None and (self.input_length < self.bin_size or self.input_length % self.bin_size):
            raise ValueError(
                f"input_length must be a positive multiple of bin_size {self.bin_size}, got {self.input_length}"
            )


def require_positive(options, names) -> None:
    """An error naming the first of these integer options below 1."""
    for name in names:
        if getattr(options, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(options, name)}")


@dataclass
class EPInformerOptions:
    """EPInformer's own options (models/baselines/epinformer.py)."""

    max_enhancers: int = 60
    element_length: int = 256  # bp of sequence around each enhancer's centre (and the TSS) fed to the encoder
    n_heads: int = 4

    def __post_init__(self):
        require_positive(self, ("max_enhancers", "element_length", "n_heads"))


@dataclass
class HyenaOptions:
    """HyenaDNA's own options (models/baselines/hyenadna.py)."""

    filter_hidden: int = 64  # width of the implicit filter's MLP (HyenaDNA's filter_order)
    filter_bands: int = 8  # sin/cos frequency bands of the filter's positional embedding
    short_conv: int = 3  # width of the short causal depthwise convolution

    def __post_init__(self):
        require_positive(self, ("filter_hidden", "filter_bands", "short_conv"))


@dataclass
class PeakMaskOptions:
    """The MACS3 baseline's own option (models/regressors.py, PeakMaskRegressor)."""

    force_central: bool = False  # true: the central region is always selected, as in Seq2Exp's masks;
    #                              false: the raw peak mask, as the authors' use_peak_mask


# --- registry names ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """A registry model's options: those its name fixes, defaults the user may override, and the
    dataclass of its own options (a baseline's), if any."""

    fixed: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    own_options: type | None = None


ARCHITECTURES: dict[str, Architecture] = {
    "features_only": Architecture(),
    "seq2exp_soft": Architecture(fixed={"mask": "soft"}),
    "seq2exp_hard": Architecture(fixed={"mask": "hard"}, defaults={"share_weights": True, "compact": True}),
    "seq2exp_retrain": Architecture(),
    "peaks_mask": Architecture(own_options=PeakMaskOptions),
    "caduceus": Architecture(fixed={"use_signals": False}),
    "caduceus_signals": Architecture(fixed={"use_signals": True}),
    "mamba": Architecture(fixed={"use_signals": False, "bidirectional": False}),
    "hyenadna": Architecture(own_options=HyenaOptions),
    "enformer": Architecture(own_options=EnformerOptions),
    "epinformer": Architecture(own_options=EPInformerOptions),
}

_BACKBONE_KEYS = {f.name for f in dataclasses.fields(BackboneConfig)}
_MODEL_KEYS = {f.name for f in dataclasses.fields(Seq2ExpConfig)} - {"backbone"}


def model_config(options: Mapping[str, Any] | None = None) -> Seq2ExpConfig:
    """Flat dict (e.g. the `model:` section of the config) -> Seq2ExpConfig; unknown keys are an error."""
    options = dict(options or {})
    unknown = set(options) - _BACKBONE_KEYS - _MODEL_KEYS
    if unknown:
        raise KeyError(f"unknown model config keys {sorted(unknown)}; known: {sorted(_BACKBONE_KEYS | _MODEL_KEYS)}")
    backbone = BackboneConfig(**{k: v for k, v in options.items() if k in _BACKBONE_KEYS})
    model = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in _MODEL_KEYS}
    return Seq2ExpConfig(backbone=backbone, **model)


def resolve_options(name: str, options: Mapping[str, Any] | None = None) -> tuple[Seq2ExpConfig, dict]:
    """(config, further constructor arguments) of registry model `name` with `options`; unknown names
    and keys, and options that clash with what the name fixes, are errors."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown model {name!r}; known: {sorted(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    fixed = architecture.fixed
    clashes = {k: v for k, v in (options or {}).items() if k in fixed and fixed[k] != v}
    if clashes:
        raise ValueError(f"model {name!r} fixes {fixed}; config sets {clashes}")
    merged = {**architecture.defaults, **dict(options or {}), **fixed}
    own_options = architecture.own_options
    own_keys = {f.name for f in dataclasses.fields(own_options)} if own_options else set()
    unknown = set(merged) - _BACKBONE_KEYS - _MODEL_KEYS - own_keys - {"use_signals"}
    if unknown:
        raise KeyError(
            f"unknown model config keys {sorted(unknown)} for model {name!r}; "
            f"known: {sorted(_BACKBONE_KEYS | _MODEL_KEYS | own_keys)}"
        )
    kwargs = {}
    if "use_signals" in merged:
        kwargs["use_signals"] = merged.pop("use_signals")
    if own_options:
        kwargs["options"] = own_options(**{k: merged.pop(k) for k in own_keys & set(merged)})
    return model_config(merged), kwargs
