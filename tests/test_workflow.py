"""The Snakemake workflow: the paper run's plan, and a tiny demo run end to end (tests/lint.sh runs
`snakemake --lint`)."""

import gzip
import hashlib
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from seq2exp.inputs.checks import RunInputs, describe
from seq2exp.inputs.sources import Source

TINY_GENES = {"chr1": 4, "chr2": 3, "chr3": 2, "chr21": 2, "chr22": 2, "chrX": 2}


def snakemake(repo, workdir, *args):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "-s",
            str(repo / "Snakefile"),
            "--directory",
            str(workdir),
            *args,
        ],
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout + result.stderr


def test_paper_run_plans_downloads_for_both_cell_types(repo, tmp_path):
    code, output = snakemake(repo, tmp_path, "-n", "--configfile", str(repo / "config/config.yaml"))
    assert code == 0, output
    downloads = [
        line.split("output: ")[1] for line in output.splitlines() if "output: resources/paper/downloads/" in line
    ]
    for cell in ("K562", "GM12878"):
        for kind in ("dnase", "h3k27ac", "hic", "cage", "gene_list"):
            assert any(path.startswith(f"resources/paper/downloads/{cell}.{kind}/") for path in downloads), (cell, kind)
    assert any(path.startswith("resources/paper/downloads/evaluation.crispri/") for path in downloads)
    assert len(downloads) == 16  # 5 shared (the TSS GeneList), 5 per cell type, the CRISPRi table


def benchmarks_of_planned_jobs(output):
    """(rule, its benchmark file or None) of every job a dry run prints."""
    blocks = re.split(r"^(?=(?:local)?rule \w+:$)", output, flags=re.M)
    headers = [(re.match(r"(?:local)?rule (\w+):", b), re.search(r"^    benchmark: (.+)$", b, re.M)) for b in blocks]
    return [(rule[1], benchmark and benchmark[1]) for rule, benchmark in headers if rule]


def benchmark_folder(rule: str) -> str:
    """The folder of a rule's benchmark files: the rules made in a loop, one per download or demo
    cell type, share one."""
    if rule.startswith("download_"):
        return "download"
    return "demo_cell" if rule.startswith("demo_") and rule != "demo_world" else rule


def test_every_job_writes_its_own_benchmark_file(repo, tmp_path):
    """benchmarks/scale_table.py builds the README's scale table from one benchmark file per job,
    `<results>/benchmarks/<rule>/...`: a rule without `benchmark:` would be missing from it. Every
    rule is planned by the paper's run or the demo's (with authors' weights to score)."""
    checkpoint = tmp_path / "authors.ckpt"
    checkpoint.touch()
    listed, planned = set(), set()
    for name in ("config.yaml", "demo.yaml"):
        config = yaml.safe_load((repo / "config" / name).read_text())
        config["evaluation"]["authors_weights"] = {"K562": str(checkpoint)}
        configfile = tmp_path / name
        configfile.write_text(yaml.safe_dump(config))
        code, output = snakemake(repo, tmp_path, "--list-rules", "--configfile", str(configfile))
        assert code == 0, output
        listed |= set(output.split())
        code, output = snakemake(repo, tmp_path, "-n", "--configfile", str(configfile))
        assert code == 0, output
        jobs = [(rule, benchmark) for rule, benchmark in benchmarks_of_planned_jobs(output) if rule != "all"]
        for rule, benchmark in jobs:
            folder = benchmark_folder(rule)
            assert benchmark and benchmark.startswith(f"{config['results_dir']}/benchmarks/{folder}/"), (
                rule,
                benchmark,
            )
        assert len({benchmark for _, benchmark in jobs}) == len(jobs)
        planned |= {rule for rule, _ in jobs}
    assert listed - {"all"} <= planned


def tiny_config(repo, half_width=600):
    config = yaml.safe_load((repo / "config/demo.yaml").read_text())
    config["demo"]["genes_per_chromosome"] = TINY_GENES
    config["window"]["half_width"] = half_width
    config["model"].update(d_model=4, d_state=2, mlp_hidden=4)
    config["training"].update(
        max_steps=6, val_every_steps=3, checkpoint_every_steps=3, warmup_steps=2, batch_size=4, log_every_steps=1
    )
    config["evaluation"]["bootstrap"] = 50
    # The paper's Hi-C recipe (the demo's abc is unit-tested in test_hic): the authors' weights
    # read only a store built with it.
    config["hic"]["recipe"] = "authors"
    # The DNA-only baselines take the same path as caduceus (their models have unit tests); leaving
    # them out keeps the end-to-end run within CI's time. EPInformer stays: it reads the peaks.
    config["models"] = [m for m in config["models"] if m not in ("mamba", "hyenadna", "enformer")]
    return config


@pytest.fixture(scope="module")
def tiny_run(repo, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny_run")
    configfile = workdir / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(tiny_config(repo), sort_keys=False))
    code, output = snakemake(repo, workdir, "--configfile", str(configfile))
    assert code == 0, output
    return workdir, configfile


def test_demo_run_writes_the_inputs_report(tiny_run):
    workdir, _ = tiny_run
    shared = pd.read_csv(workdir / "results/demo/inputs.tsv", sep="\t")
    assert list(shared["key"]) == ["genome.fasta", "genome.blacklist", "genes.table", "genes.mrna_features"]
    per_cell = [pd.read_csv(workdir / f"results/demo/{cell}/inputs.tsv", sep="\t") for cell in ("K562", "GM12878")]
    assert [list(t["key"]) for t in per_cell] == [
        [f"{c}.{k}" for k in ("dnase", "h3k27ac", "hic", "cage")] for c in ("K562", "GM12878")
    ]
    report = pd.concat([shared, *per_cell]).set_index("key")
    assert report.loc["genome.fasta", "summary"].startswith("6 sequences")
    assert report.loc["genes.table", "summary"] == (
        f"{sum(TINY_GENES.values())} genes on 6 chromosomes, chr-prefixed (comma-separated)"
    )
    assert report.loc["K562.hic", "summary"] == (
        "resolutions 50 bp; 6 chromosomes, chr-prefixed; VC at 50 bp checked on 6, VC to compute on 6 chromosomes"
    )
    for row in report.itertuples():
        data = (workdir / row.path).read_bytes()
        assert row.bytes == len(data) and row.sha256 == hashlib.sha256(data).hexdigest()


def test_demo_run_prepares_the_genome(tiny_run):
    workdir, _ = tiny_run
    with gzip.open(workdir / "resources/demo/genome.fa.gz", "rt") as handle:
        assert (workdir / "results/demo/genome/genome.fa").read_text() == handle.read()
    fai = pd.read_csv(workdir / "results/demo/genome/genome.fa.fai", sep="\t", header=None)
    assert list(fai[0]) == list(TINY_GENES)


def test_demo_run_writes_truth_for_evaluation(tiny_run):
    workdir, _ = tiny_run
    genes = pd.read_csv(workdir / "resources/demo/gene_expression.csv")
    for cell in ("K562", "GM12878"):
        bed = pd.read_csv(
            workdir / f"resources/demo/truth/{cell}.causal_elements.bed", sep="\t", comment="#", header=None
        )
        assert set(bed[6]) <= set(genes["ENSID"]) and len(bed) >= len(genes) // 2


def test_demo_run_builds_the_store(tiny_run):
    workdir, _ = tiny_run
    from seq2exp.training.dataset import GeneWindows

    table = pd.read_csv(workdir / "results/demo/store/genes.tsv", sep="\t")
    source = pd.read_csv(workdir / "resources/demo/gene_expression.csv").set_index("ENSID")
    assert len(table) == sum(TINY_GENES.values())
    for cell in ("K562", "GM12878"):
        expected = np.log10(source.loc[table["gene_id"], f"{cell}_CAGE_128*3_sum"].to_numpy() + 1)
        np.testing.assert_allclose(table[f"target_{cell}"], expected)
        assert table[f"promoter_activity_{cell}"].gt(0).mean() > 0.5
        assert 0.02 < table[f"peak_mask_ratio_{cell}"].mean() < 0.5
        data = GeneWindows(str(workdir / "results/demo/store"), cell)
        assert len(data) == len(table)
        item = data[0]
        assert item["dna"].shape == (1200,) and item["signals"].shape == (3, 1200)
        assert item["target"] == pytest.approx(table[f"target_{cell}"].iloc[0], rel=1e-6)
        assert item["signals"][2].min() >= 0 and item["signals"][2].max() > 0  # log10(contact + 1)
    assert set(table["split"]) == {"train", "valid", "test"}


def test_demo_run_writes_both_tables_with_finite_numbers(tiny_run):
    from seq2exp.evaluation.metrics import TABLE1_MODELS, TABLE2_MODELS

    workdir, configfile = tiny_run
    models = yaml.safe_load(configfile.read_text())["models"]
    tables = workdir / "results/demo/tables"
    for name, rows in (("table1", TABLE1_MODELS), ("table2", TABLE2_MODELS)):
        table = pd.read_csv(tables / f"{name}.tsv", sep="\t")
        ours = table[table["source"] == "ours"].set_index(["model", "cell_type"])
        assert set(ours.index) == {(m, c) for m in rows for c in ("K562", "GM12878")}
        trained = ours.loc[[(m, c) for m in rows if m in models for c in ("K562", "GM12878")]]
        assert np.isfinite(trained[["mse", "mae", "pearson"]].to_numpy()).all(), trained
        assert (trained["n_genes"] == TINY_GENES["chr22"] + TINY_GENES["chrX"]).all()
        assert table["source"].eq("paper").any()
        assert "## Ours" in (tables / f"{name}.md").read_text()
    active = pd.read_csv(tables / "table1_promoter_active.tsv", sep="\t").query("source == 'ours'")
    assert active["n_genes"].dropna().le(TINY_GENES["chr22"] + TINY_GENES["chrX"]).all()
    assert "## Paired differences to seq2exp-soft" in (tables / "table1.md").read_text()
    table2 = pd.read_csv(tables / "table2.tsv", sep="\t").query("source == 'ours'").set_index(["model", "cell_type"])
    assert (table2.loc["seq2exp-retrain", "mask_ratio"].round(6) == 0.1).all()  # exactly 10.00%
    discovery = pd.read_csv(tables / "discovery.tsv", sep="\t")
    assert {"seq2exp-soft", "seq2exp-soft (untrained)", "macs3", "dnase", "dnase x contact"} <= set(discovery["method"])
    assert discovery.loc[discovery["level"] == "base", "auprc"].dropna().between(0, 1).all()


def test_demo_run_writes_mask_tracks_and_figures(tiny_run):
    import pyBigWig

    workdir, _ = tiny_run
    results = workdir / "results/demo"
    predictions = pd.read_csv(results / "models/K562/seq2exp-hard/predictions.tsv", sep="\t")
    bed = pd.read_csv(results / "tracks/K562/seq2exp-hard.mask.bed", sep="\t")
    genes = pd.read_csv(results / "genes/genes.tsv", sep="\t").set_index("gene_id")
    for gene in predictions.itertuples():  # the hard mask's ratio is the bases of the gene's records
        records = bed[bed["gene_id"] == gene.gene_id]
        start = genes.loc[gene.gene_id, "tss"] - 600
        inside = (records["end"].clip(upper=start + 1200) - records["start"].clip(lower=start)).clip(lower=0).sum()
        assert inside / 1200 == pytest.approx(gene.mask_ratio, abs=1e-6), gene.gene_id
    with pyBigWig.open(str(results / "tracks/K562/seq2exp-soft.mask.bw")) as bw:
        assert list(bw.chroms()) == list(TINY_GENES)
    assert len(list((results / "figures/K562/genes").glob("*.png"))) == 3
    for name in ("seq2exp-soft.predictions.png", "seq2exp-soft.training.png"):
        assert (results / "figures/K562" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_has_nothing_to_do(repo, tiny_run):
    workdir, configfile = tiny_run
    code, output = snakemake(repo, workdir, "-n", "--configfile", str(configfile))
    assert code == 0 and "Nothing to be done" in output, output


DATA = {
    "gene_table",
    "cell_genes",
    "cage_targets",
    "promoter_activity",
    "hic_contacts",
    "dnase_peaks",
    "store_sequence",
    "store_cell",
    "store_gene_table",
}
TRAINING = {
    "train_model",
    "train_masked_model",
    "train_soft_model",
    "result_tables",
    "discovery",
    "mask_tracks",
    "model_figures",
    "gene_track_figures",
    "all",
}
EVERY_RULE = {
    "demo_world",
    "demo_K562",
    "demo_GM12878",
    "prepare_genome",
    "inputs_report",
    "cell_inputs_report",
    *DATA,
    *TRAINING,
}


def planned_rules(output):
    """The rules of the jobs a dry run would run (its job stats table)."""
    return (
        set()
        if "Nothing to be done" in output
        else set(re.findall(r"^(\w+)\s+\d+$", output.split("Job stats:")[1].split("\ntotal")[0], flags=re.M))
    )


@pytest.mark.parametrize(
    "key, value, rules",
    [
        ("training.lr", 1e-3, TRAINING),
        ("model.d_model", 8, TRAINING),
        ("split.test", ["chr22"], {"cell_inputs_report", *DATA, *TRAINING}),
        ("window.half_width", 500, EVERY_RULE),
        ("peaks.cutoff", 2.0, {"dnase_peaks", "store_cell", "store_gene_table", *TRAINING}),
        ("genes.max_n_fraction", 0.4, DATA | TRAINING),
        ("target.source", "precomputed", {"cage_targets", "store_cell", "store_gene_table", *TRAINING}),
        ("training.progress_bar", True, set()),
    ],
)
def test_a_changed_config_key_reruns_what_depends_on_it(repo, tiny_run, key, value, rules):
    workdir, configfile = tiny_run
    config = yaml.safe_load(configfile.read_text())
    section, name = key.split(".")
    config[section][name] = value
    changed = workdir / "changed.yaml"
    changed.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(repo, workdir, "-n", "--configfile", str(changed))
    assert code == 0, output
    assert planned_rules(output) == rules, output


def test_a_deleted_model_folder_is_retrained(repo, tiny_run, tmp_path):
    workdir, configfile = tiny_run
    folder = workdir / "results/demo/models/K562/features-only"
    folder.rename(tmp_path / "features-only")
    try:
        code, output = snakemake(repo, workdir, "-n", "--configfile", str(configfile))
    finally:
        (tmp_path / "features-only").rename(folder)
    assert code == 0, output
    assert planned_rules(output) == {"train_model", "result_tables", "model_figures", "all"}, output


def _fingerprints(root, paths):
    """mtime (ns) and sha256 of every file under the given paths."""
    files = sorted(
        f for p in paths for f in ([root / p] if (root / p).is_file() else (root / p).rglob("*")) if f.is_file()
    )
    return {str(f.relative_to(root)): (f.stat().st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files}


def test_adding_cell_types_rebuilds_nothing_of_the_others(repo, tmp_path):
    """Run K562 alone, then add GM12878 and a third demo cell type by config: K562's files and the
    shared ones are untouched (mtime and content), no K562 job runs, the combined gene table has
    every cell type's columns, and each cell type's store holds the genes its inputs cover."""
    config = tiny_config(repo)
    config["demo"]["cell_type_motifs"]["HepG2"] = ["HNF4A", "FOXA2"]
    config["cell_types"]["HepG2"] = {
        kind: f"resources/demo/HepG2.{name}"
        for kind, name in (
            ("dnase", "dnase.bigWig"),
            ("h3k27ac", "h3k27ac.bigWig"),
            ("hic", "hic"),
            ("cage", "ctss.bed.gz"),
        )
    }
    target = "results/demo/store/genes.tsv"
    targets = (target, "results/demo/store/sequence.h5")
    runs = {}
    for name, cells in (("k562", ["K562"]), ("all", ["K562", "GM12878", "HepG2"])):
        config["run_cell_types"] = cells
        runs[name] = tmp_path / f"{name}.yaml"
        runs[name].write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(repo, tmp_path, *targets, "--configfile", str(runs["k562"]))
    assert code == 0, output
    kept = [
        "resources/demo",
        "results/demo/genome",
        "results/demo/genes",
        "results/demo/K562",
        "results/demo/store/sequence.h5",
        "results/demo/store/K562.h5",
        "results/demo/store/K562.genes.tsv",
        "results/demo/inputs.tsv",
    ]
    before = _fingerprints(tmp_path, kept)
    assert {"resources/demo/K562.hic", "results/demo/store/K562.h5", "results/demo/store/sequence.h5"} <= set(before)
    code, output = snakemake(repo, tmp_path, *targets, "--configfile", str(runs["all"]))
    assert code == 0, output
    after = _fingerprints(tmp_path, kept)
    assert {f: after[f] for f in before} == before
    assert "wildcards: cell=K562" not in output and "rule demo_K562" not in output, output
    table = pd.read_csv(tmp_path / target, sep="\t")
    from seq2exp.training.dataset import GeneWindows

    for cell in ("K562", "GM12878", "HepG2"):
        assert table[f"target_{cell}"].notna().all() and table[f"promoter_activity_{cell}"].notna().all()
        assert list(GeneWindows(str(tmp_path / "results/demo/store"), cell).gene_ids) == list(table["gene_id"])


def test_missing_local_source_is_named(repo, tmp_path):
    config = tiny_config(repo)
    del config["demo"]
    config["genome"]["fasta"] = "data/nowhere.fa.gz"
    configfile = tmp_path / "c.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(repo, tmp_path, "-n", "--configfile", str(configfile))
    assert code != 0 and "data/nowhere.fa.gz" in output


def test_report_names_a_file_of_the_wrong_kind(repo, tmp_path):
    run = RunInputs(tiny_config(repo), ["chr1"], ["chr1"])
    path = tmp_path / "dnase.bigWig"
    path.write_text("chr1\t0\t10\t1.0\n")
    with pytest.raises(ValueError, match=f"K562.dnase: {path} could not be read as bigwig"):
        describe(Source("K562.dnase", "bigwig", str(path), None, str(path)), run)
    with pytest.raises(FileNotFoundError, match="K562.hic: input file"):
        describe(Source("K562.hic", "hic", "x.hic", None, str(tmp_path / "x.hic")), run)


def genome_only_run(repo, tmp_path, fasta_bytes, snakefile=None, env=None):
    """Run only `prepare_genome` (the first rule) of a config without the demo on a given FASTA."""
    import os

    config = tiny_config(repo)
    del config["demo"]
    config["genome"]["fasta"] = str(tmp_path / "in.fa.gz")
    (tmp_path / "in.fa.gz").write_bytes(fasta_bytes)
    configfile = tmp_path / "c.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "results/demo/genome/genome.fa",
            "--cores",
            "1",
            "-s",
            str(snakefile or repo / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(configfile),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return result.returncode, result.stdout + result.stderr


def test_failing_rule_leaves_its_traceback_in_its_log(repo, tmp_path):
    bases = np.random.default_rng(0).choice(list("ACGT"), 20_000)
    truncated = gzip.compress((">chr1\n" + "".join(bases) + "\n").encode())[:-200]
    code, output = genome_only_run(repo, tmp_path, truncated)
    assert code != 0, output
    log = (tmp_path / "results/demo/logs/prepare_genome.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert f"ValueError: {tmp_path / 'in.fa.gz'}: truncated or corrupt gzip" in log


def test_jobs_import_the_package_of_the_workflow_being_run(repo, tmp_path):
    """A second checkout's jobs run its own seq2exp, even where another checkout's package is
    importable first (the editable install of the shared .venv, here PYTHONPATH)."""
    import shutil

    clone = tmp_path / "clone"
    for part in ("workflow", "src", "config"):
        shutil.copytree(repo / part, clone / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(repo / "Snakefile", clone / "Snakefile")
    with open(clone / "src/seq2exp/inputs/unpack.py", "a") as handle:
        handle.write("\n\ndef prepare_genome(source, fasta):\n    raise RuntimeError('the clone ran')\n")
    work = tmp_path / "work"
    work.mkdir()
    code, output = genome_only_run(
        repo,
        work,
        gzip.compress(b">chr1\nACGT\n"),
        snakefile=clone / "Snakefile",
        env={"PYTHONPATH": str(repo / "src")},
    )
    assert code != 0 and "RuntimeError: the clone ran" in output, output


@pytest.mark.parametrize("cells", [None, ["K562"]])
def test_paper_run_plans_every_model_and_table(repo, tmp_path, cells):
    args = ["-n", "--configfile", str(repo / "config/config.yaml")]
    if cells:
        args += ["--config", f"run_cell_types={cells}"]
    code, output = snakemake(repo, tmp_path, *args)
    assert code == 0, output
    models = yaml.safe_load((repo / "config/config.yaml").read_text())["models"]
    expected = cells or ["K562", "GM12878"]
    for cell in ("K562", "GM12878"):
        for model in models:
            planned = f"results/paper/models/{cell}/{model}/predictions.tsv" in output
            assert planned == (cell in expected), (cell, model)
    for table in ("table1.tsv", "table2.tsv", "comparison.tsv", "crispri.tsv"):
        assert f"results/paper/tables/{table}" in output


def test_crispri_table_scores_pairs_in_the_stored_windows(repo, tiny_run):
    """A CRISPRi table in the benchmark's layout made from the demo's truth: every planted element
    outside the central region paired with each gene whose window holds it, regulated where it is
    one of that gene's K562 causal elements. Every pair is scored, and DNase x contact ranks the
    regulated pairs well above chance (a track reversed against the window would not)."""
    workdir, configfile = tiny_run
    genes = pd.read_csv(workdir / "results/demo/genes/genes.tsv", sep="\t")
    elements = pd.read_csv(workdir / "resources/demo/truth/elements.tsv", sep="\t")
    causal = pd.read_csv(workdir / "resources/demo/truth/K562.causal_elements.bed", sep="\t")
    regulated = set(zip(causal["#chrom"], causal["start"], causal["end"], causal["gene_id"]))
    rows = []
    for gene in genes.itertuples():
        inside = elements[
            (elements["chrom"] == gene.chrom)
            & (elements["start"] >= gene.tss - 600)
            & (elements["end"] <= gene.tss + 600)
            & ((elements["end"] <= gene.tss - 50) | (elements["start"] >= gene.tss + 50))
        ]
        for k, element in enumerate(inside.itertuples()):
            is_regulated = (element.chrom, element.start, element.end, gene.gene_id) in regulated
            rows.append(
                dict(
                    chrom=element.chrom,
                    chromStart=element.start,
                    chromEnd=element.end,
                    measuredGeneSymbol=gene.gene_name,
                    measuredGeneEnsemblId=f"{gene.gene_id}.1",
                    Regulated="TRUE" if is_regulated else "FALSE",
                    ValidConnection="TRUE" if k % 2 == 0 else "FALSE",
                    CellType="K562",
                )
            )
    pairs = pd.DataFrame(rows)
    pairs.to_csv(workdir / "crispri_pairs.tsv", sep="\t", index=False)
    config = yaml.safe_load(configfile.read_text())
    config["evaluation"]["crispri"] = str(workdir / "crispri_pairs.tsv")
    crispri_config = workdir / "tiny_crispri.yaml"
    crispri_config.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(repo, workdir, "results/demo/tables/crispri.tsv", "--configfile", str(crispri_config))
    assert code == 0, output
    ran = set(re.findall(r"^\s*(?:local)?rule (\w+):", output, flags=re.M))
    assert ran == {"evaluation_inputs_report", "crispri"}, output  # adding the table reruns nothing else
    table = pd.read_csv(workdir / "results/demo/tables/crispri.tsv", sep="\t")
    assert set(table["cell_type"]) == {"K562"}  # GM12878 has no pairs in the table
    assert set(table["method"]) == {"seq2exp-soft", "macs3", "dnase x contact", "distance"}
    every = table[table["pairs"] == "all"].set_index("method")
    assert (every["n_pairs"] == len(pairs)).all() and (
        every["n_regulated"] == pairs["Regulated"].eq("TRUE").sum()
    ).all()
    valid = table[table["pairs"] == "ValidConnection"]
    assert (valid["n_pairs"] == pairs["ValidConnection"].eq("TRUE").sum()).all()
    assert (
        every.loc["dnase x contact", "auprc"] > every.loc["dnase x contact", "chance"] + 0.15
    )  # 0.74 vs 0.45; reversed: 0.54
    assert "| K562 | all | seq2exp-soft |" in (workdir / "results/demo/tables/crispri.md").read_text()


def test_the_authors_weights_add_their_rows_to_table1(repo, tiny_run):
    """A checkpoint in the authors' layout named under evaluation.authors_weights is evaluated on the
    run's store and lands in Table 1 as seq2exp-soft rows of source authors-weights."""
    import torch
    from test_authors_checkpoint import their_state

    workdir, configfile = tiny_run
    checkpoint = workdir / "authors_K562.ckpt"
    torch.save({"state_dict": their_state()}, checkpoint)
    config = yaml.safe_load(configfile.read_text())
    config["evaluation"]["authors_weights"] = {"K562": str(checkpoint)}
    authors_config = workdir / "tiny_authors.yaml"
    authors_config.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(repo, workdir, "results/demo/tables/table1.tsv", "--configfile", str(authors_config))
    assert code == 0, output
    assert "rule authors_weights" in output, output
    table = pd.read_csv(workdir / "results/demo/tables/table1.tsv", sep="\t")
    authors = table[table["source"] == "authors-weights"]
    assert list(zip(authors["model"], authors["cell_type"])) == [("seq2exp-soft", "K562")]
    test_genes = TINY_GENES["chr22"] + TINY_GENES["chrX"]
    assert authors.iloc[0]["n_genes"] == test_genes
    assert np.isfinite(authors[["mse", "mae", "pearson"]].to_numpy(float)).all()
    assert "## The authors' weights on our features" in (workdir / "results/demo/tables/table1.md").read_text()


def test_a_training_job_on_two_processes_keeps_both_in_its_log(repo, tiny_run):
    """With resources.training.cpu_processes: 2, Lightning reruns the rule's script for the second
    process, which appends to the rule's log rather than truncating the first's lines."""
    workdir, configfile = tiny_run
    config = yaml.safe_load(configfile.read_text())
    config["resources"]["training"]["cpu_processes"] = 2
    ddp_config = workdir / "tiny_ddp.yaml"
    ddp_config.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = snakemake(
        repo,
        workdir,
        "results/demo/models/K562/caduceus/predictions.tsv",
        "--forcerun",
        "train_model",
        "--configfile",
        str(ddp_config),
    )
    assert code == 0, output
    log = (workdir / "results/demo/logs/K562/train_caduceus.log").read_text()
    assert "\0" not in log
    assert log.count("K562 / caduceus: predicting") == 1, log
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in output, output
    assert log.count("parameters; genes train") == 2, log  # each process's start, the first's kept
