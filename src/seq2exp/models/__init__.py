"""Sequence models: the selective scan, Mamba / Caduceus backbones, Seq2Exp and baselines from its parts."""

from ..architectures import Seq2ExpConfig, model_config
from .beta_mask import top_fraction_mask
from .caduceus import Caduceus
from .dna import one_hot, rc_averaged_predict, reverse_complement, reverse_complement_sample
from .head import ModelOutput
from .mamba import BackboneConfig
from .registry import MODELS, build_model
from .runtime import tune_allocator
from .scan.chunked import selective_scan, selective_scan_reference
from .scan.select import resolve_scan

# scan.triton is imported on demand (resolve_scan): importing triton fixes whether its kernels are
# compiled or interpreted (TRITON_INTERPRET), which tests and benchmarks must choose first.
from .seq2exp import Seq2Exp

__all__ = [
    "BackboneConfig",
    "Caduceus",
    "MODELS",
    "ModelOutput",
    "Seq2Exp",
    "Seq2ExpConfig",
    "build_model",
    "model_config",
    "one_hot",
    "rc_averaged_predict",
    "resolve_scan",
    "reverse_complement",
    "reverse_complement_sample",
    "selective_scan",
    "selective_scan_reference",
    "top_fraction_mask",
    "tune_allocator",
]
