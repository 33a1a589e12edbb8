"""Loading and validating the pipeline configuration (shared by the Snakefile, scripts and tests)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import yaml

from .features.genome import match_chromosomes, same_chromosome
from .training.specs import SOFT_MODEL, missing_upstream, model_options, resolved_options

# The training keys that cannot change a job's weights or predictions: how often it logs and keeps a
# resumable checkpoint, and its progress bar. (num_workers can: persistent loader workers draw the
# loader's seed once, not each epoch, so the shuffles differ from the second epoch on.)
TRAINING_KEYS_WITHOUT_EFFECT = ("log_every_steps", "checkpoint_every_steps", "progress_bar", "predict_block_size")


class ConfigError(ValueError):
    """A configuration key is missing, unknown, or has a wrong type or value."""


def load_config(path: str | Path) -> dict:
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys at the top level")
    return config


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Return a copy of `config` with schema defaults filled in, or raise ConfigError."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    config = copy.deepcopy(config)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join(_describe(e) for e in errors))
    _fill_defaults(config, schema, schema)
    _check_consistency(config)
    return config


def config_values(config: dict, keys) -> dict:
    """The values of `keys` (dotted paths into the config, such as `window.half_width` or `peaks`),
    by key and normalised (sorted mappings), for a rule's params: Snakemake reruns a job whose
    params differ from those of its last run."""
    values = {}
    for key in keys:
        value = config
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ConfigError(f"config key {key}: not in the configuration (a rule's params name it)")
            value = value[part]
        values[key] = json.loads(json.dumps(value, sort_keys=True))
    return dict(sorted(values.items()))


def training_settings(config: dict, model: str) -> dict:
    """What a training job's result depends on in the config: the model's options (with the central
    and pooled regions and the feature count) and the training recipe. The data it trains on come
    from the store and the gene table, whose checksums and split its manifest holds."""
    recipe = {k: v for k, v in config["training"].items() if k not in TRAINING_KEYS_WITHOUT_EFFECT}
    return json.loads(json.dumps({"model": model_options(config, model), "training": recipe}, sort_keys=True))


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        names = ", ".join(f"{key}.{u}" if error.absolute_path else u for u in unknown)
        expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"  unknown config key {names}{expected}"
    if error.validator == "required":
        return f"  config key {key}: {error.message}"
    expected = error.schema.get("description")
    hint = f" (expected {expected})" if expected else ""
    return f"  config key {key}: {error.message}{hint}"


def _resolve(node: dict, root: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        target = root
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fill_defaults(instance, node: dict, root: dict) -> None:
    node = _resolve(node, root)
    if not isinstance(instance, dict):
        return
    for name, sub in node.get("properties", {}).items():
        sub = _resolve(sub, root)
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if name in instance:
            _fill_defaults(instance[name], sub, root)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for name in set(instance) - set(node.get("properties", {})):
            _fill_defaults(instance[name], extra, root)


def _model_option_problems(config: dict) -> list[str]:
    """Each model's options are resolved as its job will (no weights built, no torch), so a typo or a
    clash with what the model fixes stops the run at start."""
    sections = {"model": config["model"], **{f"model_overrides.{m}": o for m, o in config["model_overrides"].items()}}
    problems = [
        f"{key}.n_features: set from the feature columns (genes.mrna_feature_columns and promoter activity); remove it"
        for key, options in sections.items()
        if "n_features" in options
    ]
    for model in config["models"]:
        key = f"model_overrides.{model}" if model in config["model_overrides"] else "model"
        try:
            resolved_options(config, model)
        except (KeyError, ValueError, TypeError) as error:
            problems.append(f"{key} ({model}): {error}")
    return problems


def _training_process_problems(config: dict) -> list[str]:
    """A training job runs one process per GPU, or `cpu_processes` on the CPU; each takes an equal
    share of `training.batch_size`."""
    resources = config["resources"]
    problems = [
        f"resources.{group}.cpu_processes: only training jobs run several processes"
        for group, entry in resources.items()
        if group != "training" and "cpu_processes" in entry
    ]
    training = resources["training"]
    if training["gpu"] and "cpu_processes" in training:
        problems.append(
            "resources.training.cpu_processes: applies only with gpu 0 (a GPU job runs one process per GPU)"
        )
    processes, batch = training["gpu"] or training.get("cpu_processes", 1), config["training"]["batch_size"]
    if batch % processes:
        problems.append(
            f"training.batch_size: {batch} genes per step do not split evenly over the training job's "
            f"{processes} processes (resources.training.gpu or cpu_processes)"
        )
    return problems


def _check_consistency(config: dict) -> None:
    problems = []
    unknown = [c for c in config["run_cell_types"] if c not in config["cell_types"]]
    if unknown:
        problems.append(f"run_cell_types: {unknown} not among cell_types ({', '.join(config['cell_types'])})")
    problems += _split_overlaps(config["split"])
    window = config["window"]
    for key in ("central_region", "pooled_region"):
        if window[key] > 2 * window["half_width"]:
            problems.append(
                f"window.{key}: {window[key]} bp exceeds the window (2 x half_width = {2 * window['half_width']} bp)"
            )
    if config["target"]["source"] == "precomputed" and not config["genes"].get("precomputed_target_column"):
        problems.append(
            "target.source: precomputed needs genes.precomputed_target_column (the table's column "
            "of CAGE sums, e.g. '{cell_type}_CAGE_128*3_sum')"
        )
    problems += _gene_problems(config["genes"])
    if config["features"]["promoter_activity"] == "gene_list":
        lacking = [c for c in config["run_cell_types"] if "gene_list" not in config["cell_types"].get(c, {})]
        if lacking:
            problems.append(
                f"features.promoter_activity: gene_list needs cell_types.<cell>.gene_list (ABC's GeneList) "
                f"for {lacking}"
            )
    hic = config["hic"]
    if hic["recipe"] == "authors" and (hic.get("gamma") is not None or hic.get("scale") is not None):
        problems.append(
            "hic.gamma / hic.scale: the authors' recipe uses hic.reference_gamma for both power "
            "laws; set them to null, or hic.recipe: abc"
        )
    problems += [
        f"models: {model} is trained on the masks of {upstream}, which is not listed"
        for model, upstream in missing_upstream(config["models"])
    ]
    if config["evaluation"]["crispri"] and SOFT_MODEL not in config["models"]:
        problems.append(
            f"evaluation.crispri: the CRISPRi table scores {SOFT_MODEL}'s masks; add {SOFT_MODEL} to "
            "models or set evaluation.crispri to null"
        )
    training = config["training"]
    if training["max_steps"] % training["val_every_steps"]:
        problems.append(
            f"training.max_steps: {training['max_steps']} is not a multiple of training.val_every_steps "
            f"({training['val_every_steps']}); the last steps would never be validated"
        )
    problems += _training_process_problems(config)
    problems += _model_option_problems(config)
    demo = config.get("demo")
    if demo:
        chromosomes = set(demo["genes_per_chromosome"])
        for part in ("valid", "test"):
            missing = [c for c in config["split"][part] if not match_chromosomes([c], chromosomes, "demo")]
            if missing:
                problems.append(f"demo.genes_per_chromosome: lacks {missing} named in split.{part}")
        lacking = [c for c in config["cell_types"] if c not in demo["cell_type_motifs"]]
        if lacking:
            problems.append(f"demo.cell_type_motifs: no motifs for cell type(s) {lacking}")
        low, high = demo["gene_spacing"]
        if low > high:
            problems.append(f"demo.gene_spacing: minimum {low} exceeds maximum {high}")
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


def _split_overlaps(split: dict) -> list[str]:
    """Each chromosome, under any of its names, may be in one split list only, once."""
    entries = [(part, name) for part in ("valid", "test") for name in split[part]]
    return [
        f"split.{part}: {name} is chromosome {other} of split.{other_part}; a chromosome may be in one list only"
        for i, (part, name) in enumerate(entries)
        for other_part, other in entries[:i]
        if same_chromosome(name, other)
    ]


def _gene_problems(genes: dict) -> list[str]:
    from .inputs.annotation import annotation_format

    problems = []
    if genes["mrna_features"] and not genes["mrna_feature_columns"]:
        problems.append(
            "genes.mrna_feature_columns: empty, but genes.mrna_features names a table; list the "
            "columns to use, or set genes.mrna_features: null"
        )
    if not genes["mrna_features"] and genes["mrna_feature_columns"]:
        problems.append(
            "genes.mrna_feature_columns: given, but genes.mrna_features is null; give the table or remove the columns"
        )
    if annotation_format(genes["table"]) and genes.get("precomputed_target_column"):
        problems.append(
            f"genes.precomputed_target_column: a GTF/GFF3 annotation ({genes['table']}) has no "
            "target columns; set it to null (and target.source: ctss)"
        )
    return problems
