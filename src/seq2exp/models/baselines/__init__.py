"""Table 1's other baselines, written from their papers: HyenaDNA, Enformer, EPInformer.

Each takes the batch of `models/regressors.py` and predicts through the shared `RegressionHead`
(pool the central region's states, concatenate the nine features, MLP). Width and depth come from
the shared `d_model` / `n_layer`; each model's own options are its `Options` dataclass, which
`registry.resolve` validates.
"""

from .enformer import Enformer, EnformerOptions
from .epinformer import EPInformer, EPInformerOptions, select_enhancers
from .hyenadna import HyenaDNA, HyenaOptions

__all__ = [
    "EPInformer",
    "EPInformerOptions",
    "Enformer",
    "EnformerOptions",
    "HyenaDNA",
    "HyenaOptions",
    "select_enhancers",
]
