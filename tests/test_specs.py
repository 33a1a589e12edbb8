"""The model spec table: what each table row is, and what rules, registry, config checks and tables read from it."""

import copy

import pytest

from seq2exp.architectures import ARCHITECTURES
from seq2exp.config import ConfigError, load_config, validate_config
from seq2exp.evaluation.metrics import PAPER_RESULTS
from seq2exp.training.specs import (
    MODEL_SPECS,
    SOFT_MODEL,
    TABLE1,
    TABLE2,
    cell_input,
    mask_models,
    mask_threshold,
    masks_path,
    missing_upstream,
    table_models,
    upstream_models,
)


@pytest.fixture
def demo_config(repo):
    return validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")


def test_each_row_has_its_own_registry_name_with_options():
    names = [spec.registry_name for spec in MODEL_SPECS.values()]
    assert len(set(names)) == len(names)  # the authors' weights map a registry name back to its row
    assert set(names) == set(ARCHITECTURES)


def test_the_registry_builds_each_row_with_the_class_of_its_spec():
    from seq2exp.models.registry import MODELS

    assert {name: cls.__name__ for name, cls in MODELS.items()} == {
        spec.registry_name: spec.model_class for spec in MODEL_SPECS.values()
    }


def test_tables_list_the_papers_rows_in_its_order():
    assert table_models(TABLE1) == [
        "enformer",
        "hyenadna",
        "mamba",
        "caduceus",
        "caduceus-signals",
        "epinformer",
        "features-only",
        "seq2exp-hard",
        "seq2exp-soft",
    ]
    assert table_models(TABLE2) == ["seq2exp-hard", "seq2exp-retrain", "macs3"]
    paper = PAPER_RESULTS.set_index(["model", "cell_type"])
    assert paper.loc[("seq2exp-retrain", "GM12878"), "pearson"] == 0.8960
    assert paper.loc[("macs3", "K562"), "mask_ratio"] == 0.1361


def test_a_model_trained_on_another_models_masks_is_planned_after_it():
    assert all(MODEL_SPECS[spec.trained_on].has_generator for spec in MODEL_SPECS.values() if spec.trained_on)
    assert upstream_models(["macs3", SOFT_MODEL, "seq2exp-retrain"]) == [SOFT_MODEL]
    assert upstream_models(["macs3", "seq2exp-retrain"]) == []
    assert missing_upstream(["seq2exp-retrain", "macs3"]) == [("seq2exp-retrain", SOFT_MODEL)]
    assert mask_models(["caduceus", "seq2exp-retrain", "macs3", "seq2exp-hard"]) == [
        "seq2exp-retrain",
        "macs3",
        "seq2exp-hard",
    ]


def test_mask_threshold_comes_from_the_models_resolved_options(demo_config, repo):
    config = copy.deepcopy(demo_config)
    config["model_overrides"]["seq2exp-hard"] = {"threshold": 0.3}
    config["model"]["threshold"] = 0.6
    assert mask_threshold(config, "seq2exp-hard") == 0.3
    assert mask_threshold(config, SOFT_MODEL) == 0.6
    config["model_overrides"]["seq2exp-hard"] = {"treshold": 0.3}
    with pytest.raises(ConfigError, match=r"model_overrides.seq2exp-hard \(seq2exp-hard\): .*treshold"):
        validate_config(config, repo / "workflow/schemas/config.schema.yaml")


def test_masks_path_pattern_and_cell_input_names():
    assert masks_path("results/x") == "results/x/models/{cell}/{model}/masks.h5"
    assert masks_path("results/x").format(cell="K562", model=SOFT_MODEL) == masks_path("results/x", "K562", SOFT_MODEL)
    assert cell_input("K562", "soft") == "K562_soft" != cell_input("GM12878", "soft")
