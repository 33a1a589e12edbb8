"""The models a run trains (the rows of Table 1 and Table 2) and how each is trained.

Kept free of torch so that the Snakefile can plan jobs without importing the models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """A table row: its registry model, its external mask, Caduceus-Ph's reverse-complement
    augmentation in training and averaging at test time, and whether its batches carry the MACS3
    peak mask as batch["peaks"] (EPInformer's candidate enhancers)."""

    registry_name: str
    mask_source: str | None = None   # None | "peaks" (MACS3 mask) | "retrain" (top fraction of seq2exp-soft's mask)
    reverse_complement: bool = False
    peaks: bool = False

    @property
    def has_generator(self) -> bool:
        return self.registry_name in ("seq2exp_soft", "seq2exp_hard")

    @property
    def has_mask(self) -> bool:
        return self.has_generator or self.mask_source is not None


MODEL_SPECS = {
    "features-only": ModelSpec("features_only"),
    "seq2exp-soft": ModelSpec("seq2exp_soft"),
    "seq2exp-hard": ModelSpec("seq2exp_hard"),
    "caduceus": ModelSpec("caduceus", reverse_complement=True),
    "caduceus-signals": ModelSpec("caduceus_signals"),
    "mamba": ModelSpec("mamba"),
    "hyenadna": ModelSpec("hyenadna"),
    "enformer": ModelSpec("enformer"),
    "epinformer": ModelSpec("epinformer", peaks=True),
    "seq2exp-retrain": ModelSpec("seq2exp_retrain", mask_source="retrain"),
    "macs3": ModelSpec("peaks_mask", mask_source="peaks"),
}
RETRAIN_SOURCE = "seq2exp-soft"   # the model whose masks seq2exp-retrain keeps the top fraction of


def mask_models(models: list[str]) -> list[str]:
    return [m for m in models if MODEL_SPECS[m].has_mask]


def plain_models(models: list[str]) -> list[str]:
    return [m for m in models if not MODEL_SPECS[m].has_mask]


def feature_columns(config: dict) -> list[str]:
    """The extra features, in model order: the mRNA features (none without `genes.mrna_features`),
    then promoter activity."""
    mrna = config["genes"]["mrna_feature_columns"] if config["genes"]["mrna_features"] else []
    return [*mrna, "promoter_activity"]


def model_options(config: dict, model: str) -> dict:
    """The registry options of `model`: the shared `model` section, the window's central and pooled
    regions, the number of extra features, then the model's own overrides under `model_overrides`."""
    options = dict(config["model"])
    options.update(central_region_bp=config["window"]["central_region"],
                   pooled_region_bp=config["window"]["pooled_region"], n_features=len(feature_columns(config)))
    options.update(config.get("model_overrides", {}).get(model, {}))
    return options
