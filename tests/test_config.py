"""Configuration: the shipped configs validate; wrong keys, types and values name the key."""

import copy
import subprocess
import sys

import pytest
import yaml

from seq2exp.config import ConfigError, load_config, validate_config


@pytest.fixture(scope="module")
def schema(repo):
    return repo / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def demo_config(repo):
    return load_config(repo / "config/demo.yaml")


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_validate(repo, schema, name):
    config = validate_config(load_config(repo / "config" / name), schema)
    assert set(config["run_cell_types"]) == {"K562", "GM12878"}


def test_paper_config_has_the_papers_lengths(repo, schema):
    config = validate_config(load_config(repo / "config/config.yaml"), schema)
    assert 2 * config["window"]["half_width"] == 200_000
    assert config["window"]["central_region"] == config["window"]["pooled_region"] == 2000
    assert config["features"]["promoter_half_width"] == 500
    hic = config["hic"]
    assert (hic["resolution"], hic["normalization"], hic["reference_gamma"]) == (5000, "VC", 0.87)
    assert (hic["pseudocount_distance"], hic["tss_hic_contribution"]) == (5000, 100)
    assert hic["recipe"] == "authors"
    from seq2exp.architectures import resolve_options
    from seq2exp.training.specs import model_options

    hard, _ = resolve_options("seq2exp_hard", model_options(config, "seq2exp-hard"))
    alpha, beta = hard.prior  # the authors' marginal_mean 0.45, marginal_scale 0.1
    assert alpha == 0.1 and alpha / (alpha + beta) == pytest.approx(0.45, abs=1e-12)
    assert (hard.signal_scale, hard.beta_min, hard.mask, hard.share_weights) == (1.0, 0.0, "hard", True)
    soft, _ = resolve_options("seq2exp_soft", model_options(config, "seq2exp-soft"))
    assert (soft.prior, soft.signal_scale, soft.beta_min) == ((10.0, 90.0), 10.0, 1.0)
    assert config["split"] == {"valid": ["chr3", "chr21"], "test": ["chr22", "chrX"], "allow_missing_heldout": False}


def test_defaults_are_filled(demo_config, schema):
    config = copy.deepcopy(demo_config)
    del config["window"]["reverse_complement_minus_strand"]
    del config["demo"]["enhancers_per_gene"]
    config = validate_config(config, schema)
    assert config["window"]["reverse_complement_minus_strand"] is False
    assert config["demo"]["enhancers_per_gene"] == [1, 4]


def _broken(config, path, value):
    config = copy.deepcopy(config)
    node = config
    for part in path[:-1]:
        node = node[part]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["window", "halfwidth"], 5, "unknown config key window.halfwidth; expected one of: central_region"),
        (["window", "half_width"], "big", "config key window.half_width: 'big' is not of type 'integer'"),
        (["window", "half_width"], 0, "config key window.half_width: 0 is less than the minimum of 1"),
        (["hic", "normalization"], "ICE", "config key hic.normalization: 'ICE' is not one of"),
        (["hic", "recipe"], "ours", "config key hic.recipe: 'ours' is not one of ['authors', 'abc']"),
        (["hic", "recipe"], KeyError, "config key hic: 'recipe' is a required property"),
        (["cell_types", "K562", "dnase"], KeyError, "config key cell_types.K562: 'dnase' is a required property"),
        (["cell_types", "K562", "atac"], "x.bw", "unknown config key cell_types.K562.atac"),
        (["genes", "table"], "a b.csv", "config key genes.table"),
        (["run_cell_types"], ["HepG2"], "run_cell_types: ['HepG2'] not among cell_types"),
        (["split", "test"], ["chr3"], "split.test: chr3 is chromosome chr3 of split.valid"),
        (["split", "test"], ["chr22", "3"], "split.test: 3 is chromosome chr3 of split.valid"),
        (["split", "valid"], ["chr3", "3", "chr21"], "split.valid: 3 is chromosome chr3 of split.valid"),
        (["split", "test"], ["chr22", "chrx"], "demo.genes_per_chromosome: lacks ['chrx'] named in split.test"),
        (["window", "central_region"], 5000, "window.central_region: 5000 bp exceeds the window"),
        (["demo", "genes_per_chromosome"], {"chr1": 3}, "demo.genes_per_chromosome: lacks ['chr3', 'chr21']"),
        (["target", "source"], "cage", "config key target.source: 'cage' is not one of ['ctss', 'precomputed']"),
        (["models"], ["seq2exp-soft", "enformr"], "config key models.1: 'enformr' is not one of"),
        (["models"], ["seq2exp-retrain"], "models: seq2exp-retrain is trained on the masks of seq2exp-soft"),
        (["model", "d_modl"], 8, "model (features-only): \"unknown model config keys ['d_modl']"),
        (
            ["model_overrides"],
            {"seq2exp-hard": {"mask": "soft"}},
            "model_overrides.seq2exp-hard (seq2exp-hard): model 'seq2exp_hard' fixes {'mask': 'hard'}",
        ),
        (
            ["model_overrides"],
            {"seq2exp-hard": {"prior": [0.0, 0.1]}},
            "model_overrides.seq2exp-hard (seq2exp-hard): prior must be two positive Beta parameters",
        ),
        (["model", "beta_min"], -0.5, "model (features-only): beta_min must be >= 0 and signal_scale > 0"),
        (
            ["model_overrides", "epinformer", "n_heads"],
            0,
            "model_overrides.epinformer (epinformer): n_heads must be >= 1, got 0",
        ),
        (
            ["model_overrides", "hyenadna", "short_conv"],
            0,
            "model_overrides.hyenadna (hyenadna): short_conv must be >= 1, got 0",
        ),
        (
            ["model_overrides"],
            {"seq2exp-hard": {"treshold": 0.4}},
            "model_overrides.seq2exp-hard (seq2exp-hard): \"unknown model config keys ['treshold']",
        ),
        (["training", "max_steps"], 310, "training.max_steps: 310 is not a multiple of training.val_every_steps (25)"),
        (["training", "lr"], KeyError, "config key training: 'lr' is a required property"),
        (["genes", "mrna_features"], None, "genes.mrna_feature_columns: given, but genes.mrna_features is null"),
        (["genes", "mrna_feature_columns"], [], "genes.mrna_feature_columns: empty, but genes.mrna_features names"),
        (["genes", "table"], "gencode.v44.annotation.gtf.gz", "genes.precomputed_target_column: a GTF/GFF3 annotation"),
        (["model", "n_features"], 9, "model.n_features: set from the feature columns"),
        (["training", "gpus"], 1, "unknown config key training.gpus; expected one of: "),
        (["resources", "training", "gpu"], KeyError, "config key resources.training: 'gpu' is a required property"),
        (["resources", "gpu"], {"threads": 1}, "unknown config key resources.gpu; expected one of: data, evaluation"),
    ],
)
def test_bad_config_names_the_key(demo_config, schema, path, value, message):
    with pytest.raises(ConfigError) as error:
        validate_config(_broken(demo_config, path, value), schema)
    assert message in str(error.value)


def test_without_mrna_features_the_model_gets_promoter_activity_only(demo_config, schema):
    from seq2exp.features.columns import feature_columns
    from seq2exp.inputs.demo.spec import paths_from_config, world_files
    from seq2exp.inputs.sources import configured_sources
    from seq2exp.training.specs import model_options

    config = _broken(
        _broken(demo_config, ["genes", "mrna_features"], None), ["genes", "mrna_feature_columns"], KeyError
    )
    config = validate_config(config, schema)
    assert feature_columns(config) == ["promoter_activity"]
    assert all(model_options(config, m)["n_features"] == 1 for m in config["models"])
    assert "genes.mrna_features" not in {s.key for s in configured_sources(config)}
    assert "mrna_features" not in world_files(paths_from_config(config), config["cell_types"])
    assert model_options(validate_config(demo_config, schema), "seq2exp-soft")["n_features"] == 9


def test_resource_groups_default_when_left_out(demo_config, schema):
    config = copy.deepcopy(demo_config)
    del config["resources"]
    config = validate_config(config, schema)
    assert config["resources"]["training"] == {"threads": 1, "mem_mb": 8000, "runtime": 240, "gpu": 0}
    assert config["resources"]["data"]["gpu"] == 0


def test_crispri_table_needs_the_soft_model(demo_config, schema):
    config = _broken(_broken(demo_config, ["evaluation", "crispri"], "pairs.tsv"), ["models"], ["features-only"])
    with pytest.raises(ConfigError, match="evaluation.crispri: the CRISPRi table scores seq2exp-soft's masks"):
        validate_config(config, schema)


@pytest.mark.parametrize(
    "resources, message",
    [
        ({"gpu": 3}, "training.batch_size: 8 genes per step do not split evenly over the training job's 3 processes"),
        ({"gpu": 0, "cpu_processes": 3}, "do not split evenly over the training job's 3 processes"),
        ({"gpu": 2, "cpu_processes": 2}, "resources.training.cpu_processes: applies only with gpu 0"),
    ],
)
def test_training_processes_must_share_the_batch(demo_config, schema, resources, message):
    config = copy.deepcopy(demo_config)
    config["resources"]["training"].update(resources)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, schema)
    config["resources"]["training"].update(gpu=0, cpu_processes=2)
    assert validate_config(config, schema)["resources"]["training"]["cpu_processes"] == 2


def test_authors_hic_recipe_refuses_a_given_power_law(demo_config, schema):
    config = _broken(_broken(demo_config, ["hic", "recipe"], "authors"), ["hic", "gamma"], 1.0)
    with pytest.raises(ConfigError, match="hic.gamma / hic.scale: the authors' recipe uses hic.reference_gamma"):
        validate_config(config, schema)
    validate_config(_broken(config, ["hic", "gamma"], None), schema)


def test_gene_list_promoter_activity_needs_each_cell_types_gene_list(demo_config, schema):
    config = _broken(demo_config, ["features", "promoter_activity"], "gene_list")
    with pytest.raises(
        ConfigError,
        match=r"features.promoter_activity: gene_list needs cell_types.<cell>.gene_list "
        r"\(ABC's GeneList\) for \['K562', 'GM12878'\]",
    ):
        validate_config(config, schema)
    for cell in ("K562", "GM12878"):
        config = _broken(config, ["cell_types", cell, "gene_list"], f"{cell}_GeneList.txt")
    assert validate_config(config, schema)["genes"]["gene_list_id_column"] == "name"


def test_precomputed_target_needs_its_column(demo_config, schema):
    config = _broken(
        _broken(demo_config, ["target", "source"], "precomputed"), ["genes", "precomputed_target_column"], None
    )
    with pytest.raises(ConfigError, match="target.source: precomputed needs genes.precomputed_target_column"):
        validate_config(config, schema)


def test_unreadable_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("window: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{bad} is not valid YAML"):
        load_config(bad)


def _dry_run(repo, workdir, config) -> subprocess.CompletedProcess:
    path = workdir / "config_under_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "-s",
            str(repo / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


def test_snakemake_stops_at_start_naming_the_wrong_key(repo, demo_config, tmp_path):
    result = _dry_run(repo, tmp_path, _broken(demo_config, ["window", "halfwidth"], 5))
    assert result.returncode != 0
    assert "unknown config key window.halfwidth" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_split_names_follow_the_alias_rule(demo_config, schema):
    config = validate_config(_broken(demo_config, ["split", "test"], ["22", "X"]), schema)
    assert config["split"]["test"] == ["22", "X"]


def test_snakemake_checks_split_chromosomes_against_the_genome_index(repo, demo_config, tmp_path):
    config = _broken(demo_config, ["split", "test"], ["chr22", "chrx"])
    del config["demo"]
    config["results_dir"] = "results/x"
    fai = tmp_path / "results/x/genome/genome.fa.fai"
    fai.parent.mkdir(parents=True)
    fai.write_text("".join(f"{c}\t1000\t6\t60\t61\n" for c in ("chr1", "chr3", "chr21", "chr22", "chrX")))
    result = _dry_run(repo, tmp_path, config)
    assert result.returncode != 0
    assert "split.test: ['chrx'] not in results/x/genome/genome.fa.fai" in result.stdout + result.stderr
