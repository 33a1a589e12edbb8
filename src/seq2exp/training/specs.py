"""The models a run trains: one spec per row of the paper's Table 1 and Table 2, which every other
place reads (the rules' job lists, the registry's classes, training, masks, config checks and the
tables), and the paths and input names by which rules and scripts pass models' files.

Kept free of torch so that the Snakefile can plan jobs without importing the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..architectures import Seq2ExpConfig, resolve_options
from ..features.columns import feature_columns

TABLE1, TABLE2 = "table1", "table2"


@dataclass(frozen=True)
class ModelSpec:
    """A table row. `registry_name`: its options in `architectures.ARCHITECTURES`; `model_class`: the
    class in `seq2exp.models` that `models.registry` builds for it. Its masks: `has_generator`, a learned
    Beta mask (masks.h5 holds the Beta mean `soft` beside the `mask` its predictor saw); `mask_source`,
    an external mask (None | "peaks": MACS3's | "retrain": the top fraction of `trained_on`'s soft
    mask, so its job waits for that job's masks); `untrained_mask`, its generator's mask at step 0 is
    stored too (test genes), for discovery. Training: Caduceus-Ph's reverse-complement augmentation
    and test-time averaging (`reverse_complement`); `peaks`, its batches carry the MACS3 peak mask as
    batch["peaks"] (EPInformer's candidate enhancers). `tables`: the paper's tables it is a row of;
    `paper`: the paper's test-set (K562 MSE, MAE, Pearson, GM12878 MSE, MAE, Pearson) and
    `paper_mask_ratio`: Table 2's (K562, GM12878) mask ratios, forced central region included."""

    registry_name: str
    model_class: str
    tables: tuple[str, ...]
    paper: tuple[float, ...] | None = None
    paper_mask_ratio: tuple[float, float] | None = None
    has_generator: bool = False
    mask_source: str | None = None
    trained_on: str | None = None
    untrained_mask: bool = False
    reverse_complement: bool = False
    peaks: bool = False

    @property
    def has_mask(self) -> bool:
        return self.has_generator or self.mask_source is not None


# In the order of the tables' rows.
MODEL_SPECS = {
    "enformer": ModelSpec("enformer", "Enformer", (TABLE1,), (0.3629, 0.4714, 0.7940, 0.3668, 0.4721, 0.7991)),
    "hyenadna": ModelSpec("hyenadna", "HyenaDNA", (TABLE1,), (0.2230, 0.3475, 0.8428, 0.2249, 0.3582, 0.8700)),
    "mamba": ModelSpec("mamba", "SequenceRegressor", (TABLE1,), (0.2301, 0.3494, 0.8392, 0.2191, 0.3516, 0.8751)),
    "caduceus": ModelSpec(
        "caduceus",
        "SequenceRegressor",
        (TABLE1,),
        (0.2217, 0.3385, 0.8454, 0.2143, 0.3442, 0.8775),
        reverse_complement=True,
    ),
    "caduceus-signals": ModelSpec(
        "caduceus_signals", "SequenceRegressor", (TABLE1,), (0.2411, 0.3747, 0.8297, 0.2080, 0.3441, 0.8816)
    ),
    "epinformer": ModelSpec(
        "epinformer", "EPInformer", (TABLE1,), (0.2140, 0.3291, 0.8473, 0.1975, 0.3246, 0.8907), peaks=True
    ),
    "features-only": ModelSpec("features_only", "FeaturesOnly", (TABLE1,)),
    "seq2exp-hard": ModelSpec(
        "seq2exp_hard",
        "Seq2Exp",
        (TABLE1, TABLE2),
        (0.1951, 0.3150, 0.8623, 0.1900, 0.3221, 0.8942),
        (0.0686, 0.0625),
        has_generator=True,
    ),
    "seq2exp-soft": ModelSpec(
        "seq2exp_soft",
        "Seq2Exp",
        (TABLE1,),
        (0.1856, 0.3054, 0.8723, 0.1873, 0.3137, 0.8951),
        has_generator=True,
        untrained_mask=True,
    ),
    "seq2exp-retrain": ModelSpec(
        "seq2exp_retrain",
        "FixedMaskRegressor",
        (TABLE2,),
        (0.2001, 0.3181, 0.8612, 0.1880, 0.3172, 0.8960),
        (0.1000, 0.1000),
        mask_source="retrain",
        trained_on="seq2exp-soft",
    ),
    "macs3": ModelSpec(
        "peaks_mask",
        "PeakMaskRegressor",
        (TABLE2,),
        (0.2195, 0.3455, 0.8435, 0.2340, 0.3654, 0.8634),
        (0.1361, 0.1595),
        mask_source="peaks",
    ),
}
# The soft and hard Seq2Exp rows: the soft one is the reference of the paired comparisons, and its
# masks are scored against known elements and CRISPRi pairs (the hard one's too, against elements).
SOFT_MODEL, HARD_MODEL = "seq2exp-soft", "seq2exp-hard"


def table_models(table: str) -> list[str]:
    """The rows of `table` (TABLE1 or TABLE2), in order."""
    return [name for name, spec in MODEL_SPECS.items() if table in spec.tables]


def mask_models(models: list[str]) -> list[str]:
    return [m for m in models if MODEL_SPECS[m].has_mask]


def plain_models(models: list[str]) -> list[str]:
    return [m for m in models if not MODEL_SPECS[m].has_mask]


def upstream_models(models: list[str]) -> list[str]:
    """The models among `models` whose masks another model is trained on."""
    upstream = {spec.trained_on for spec in MODEL_SPECS.values()}
    return [m for m in models if m in upstream]


def missing_upstream(models: list[str]) -> list[tuple[str, str]]:
    """(model, the model it is trained on) for each of `models` whose upstream model is not listed."""
    return [
        (m, MODEL_SPECS[m].trained_on)
        for m in models
        if MODEL_SPECS[m].trained_on and MODEL_SPECS[m].trained_on not in models
    ]


def model_options(config: dict, model: str) -> dict:
    """The registry options of `model`: the shared `model` section, the window's central and pooled
    regions, the number of extra features, then the model's own overrides under `model_overrides`."""
    options = dict(config["model"])
    options.update(
        central_region_bp=config["window"]["central_region"],
        pooled_region_bp=config["window"]["pooled_region"],
        n_features=len(feature_columns(config)),
    )
    options.update(config.get("model_overrides", {}).get(model, {}))
    return options


def resolved_options(config: dict, model: str) -> tuple[Seq2ExpConfig, dict]:
    """`model`'s options resolved as its job builds it (see `architectures.resolve_options`), without torch."""
    return resolve_options(MODEL_SPECS[model].registry_name, model_options(config, model))


def mask_threshold(config: dict, model: str) -> float:
    """The threshold at which `model`'s mask selects a base."""
    return resolved_options(config, model)[0].threshold


# --- files of a model's job, as rules name them and scripts read them -------------------------


def model_dir(results: str, cell: str = "{cell}", model: str = "{model}") -> str:
    """The folder of a training job's outputs (a wildcard pattern with the defaults)."""
    return f"{results}/models/{cell}/{model}"


def masks_path(results: str, cell: str = "{cell}", model: str = "{model}") -> str:
    return f"{model_dir(results, cell, model)}/masks.h5"


def cell_input(cell: str, what: str) -> str:
    """The name of a cell type's file among the inputs of a rule over every cell type, e.g.
    `cell_input("K562", "soft")`: the rule's input function and its script both name it so."""
    return f"{cell}_{what}"
