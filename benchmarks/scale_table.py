"""A finished run's time, memory and disk per rule, projected to the paper's run.

    python benchmarks/scale_table.py --configfile config/rehearsal.yaml
    python benchmarks/scale_table.py --configfile config/rehearsal.yaml --paper-step-s 41.0 --predict-genes-per-s 0.02

Reads the run's Snakemake benchmark files (`<results_dir>/benchmarks/<rule>/*.tsv`: wall seconds, CPU
seconds and peak resident memory of every job) and the files each rule wrote (`snakemake
--detailed-summary`), then projects each rule's CPU seconds (a job's time on a core of its own: on a
shared machine the wall time also holds the waits for a core) to 18,377 genes x 2 cell types by
what its work grows with:

- genome: the bases of the genome (FASTA preparation, input checks, MACS3 on the DNase track);
- genes: the genes (gene tables, targets, Hi-C contacts, the store, tracks, discovery, tables);
- fixed: a few figures whatever the gene count;
- training: not the rehearsal's small models; with `--paper-step-s` (seconds of one paper-size
  training step at batch 1, e.g. from `bench_training.py --paper --batch 1`) and
  `--predict-genes-per-s` (from `bench_predict.py` at the paper's sizes), the paper's 50,000 steps
  of batch 8 plus one prediction of every gene; their disk grows with the genes.

Memory is the measured peak of the largest job, not projected: the jobs read one gene (or one
chromosome) at a time, except where the README's scale table says otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

PAPER_GENES = 18_377
PAPER_GENOME_BP = 3_031_042_417  # hg38 chr1-22 and X, the chromosomes the paper's genes lie on
PAPER_STEPS, PAPER_BATCH = 50_000, 8

GENOME_RULES = {"prepare_genome", "inputs_report", "cell_inputs_report", "evaluation_inputs_report", "dnase_peaks"}
FIXED_RULES = {"model_figures", "gene_track_figures"}
TRAINING_RULES = {"train_model", "train_masked_model", "train_soft_model"}
SOURCE_RULES = {"demo_world", "demo_cell", "download", "extract_member"}


def scaling(rule: str) -> str:
    if rule in SOURCE_RULES or rule.startswith("demo_"):
        return "source"
    if rule in GENOME_RULES:
        return "genome"
    if rule in FIXED_RULES:
        return "fixed"
    if rule in TRAINING_RULES:
        return "training"
    return "genes"


def read_benchmarks(bench_dir: Path) -> dict[str, list[dict]]:
    """rule -> one record (s, max_rss MB) per job, from Snakemake's benchmark TSVs
    (`<rule>/<wildcards>.tsv`; a path wildcard, as extract_member's, nests folders below the rule's)."""
    jobs: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(bench_dir.glob("*/**/*.tsv")):
        rows = list(csv.DictReader(path.open(), delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        wall_s, cpu_s = float(row["s"]), number(row.get("cpu_time"))
        # Snakemake samples a job's process tree about once a second: a job done before a sample
        # that saw its interpreter reports 0 CPU seconds and the shell's memory. Its wall time then
        # stands in for its CPU time (an upper bound) and its memory is not known.
        sampled = cpu_s > 0
        jobs[path.relative_to(bench_dir).parts[0]].append(
            {
                "s": wall_s,
                "cpu_s": cpu_s if sampled else wall_s,
                "max_rss": number(row.get("max_rss")) if sampled else None,
            }
        )
    return jobs


def peak_memory(records: list[dict]) -> str:
    sampled = [r["max_rss"] for r in records if r["max_rss"] is not None]
    return f"{max(sampled):.0f} MB" if sampled else "not sampled (under a second)"


def number(value: str | None) -> float:
    """A benchmark column, 0 where Snakemake wrote none (a job shorter than its first sample)."""
    return float(value) if value not in (None, "-", "NA", "") else 0.0


def output_bytes(configfile: str, snakefile: str | None) -> dict[str, int]:
    """rule -> bytes of the files it wrote, from `snakemake --detailed-summary`."""
    command = [sys.executable, "-m", "snakemake", "--configfile", configfile, "--detailed-summary", "--quiet"]
    if snakefile:
        command += ["--snakefile", snakefile]
    summary = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    sizes: dict[str, int] = defaultdict(int)
    for row in csv.DictReader(io.StringIO(summary[summary.index("output_file") :]), delimiter="\t"):
        path = Path(row["output_file"])
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        sizes[row["rule"]] += sum(f.stat().st_size for f in files)
    return sizes


def genome_bp(results: Path) -> int:
    fai = results / "genome" / "genome.fa.fai"
    return sum(int(line.split("\t")[1]) for line in fai.read_text().splitlines())


def gene_count(results: Path) -> int:
    with (results / "genes" / "genes.tsv").open() as handle:
        return sum(1 for _ in handle) - 1


def human(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    raise AssertionError


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def projected_job_seconds(kind: str, seconds: float, factors: dict[str, float], args) -> str:
    if kind in ("genome", "genes"):
        return duration(seconds * factors[kind])
    if kind == "fixed":
        return duration(seconds)
    if kind == "training" and args.paper_step_s and args.predict_genes_per_s:
        train = args.paper_step_s * PAPER_BATCH * PAPER_STEPS
        predict = PAPER_GENES / args.predict_genes_per_s
        return f"{duration(train + predict)} ({duration(train)} training, {duration(predict)} prediction)"
    if kind == "training":
        return "not projected (give --paper-step-s and --predict-genes-per-s)"
    return "replaced by downloads"


def table(args) -> str:
    config = yaml.safe_load(Path(args.configfile).read_text())
    results = Path(config["results_dir"])
    jobs = read_benchmarks(results / "benchmarks")
    if not jobs:
        raise SystemExit(f"{results / 'benchmarks'}: no benchmark files; run the workflow with this config first")
    sizes = output_bytes(args.configfile, args.snakefile)
    n_genes, n_bp = gene_count(results), genome_bp(results)
    factors = {"genes": PAPER_GENES / n_genes, "genome": PAPER_GENOME_BP / n_bp, "training": PAPER_GENES / n_genes}
    cells = len(config["run_cell_types"])
    lines = [
        f"Run {results}: {n_genes} genes, {n_bp:,} bp genome, {cells} cell type(s); projected to {PAPER_GENES:,} "
        f"genes (x{factors['genes']:.0f}) and {PAPER_GENOME_BP:,} bp (x{factors['genome']:.0f}), "
        f"the same jobs per rule.",
        "",
        "| rule | jobs | grows with | wall time per job (measured) | CPU time per job (measured) "
        "| time per job (projected from CPU time) | peak memory (largest job) | disk (measured) | disk (projected) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total_disk = 0.0
    for rule in sorted(jobs, key=lambda r: (scaling(r), r)):
        kind = scaling(rule)
        records = jobs[rule]
        mean_s = sum(r["s"] for r in records) / len(records)
        mean_cpu_s = sum(r["cpu_s"] for r in records) / len(records)
        disk = sizes.get(rule, 0)
        disk_factor = 1.0 if kind in ("fixed", "source") else factors.get(kind, 1.0)
        if kind != "source":
            total_disk += disk * disk_factor
        lines.append(
            f"| {rule} | {len(records)} | {kind} | {duration(mean_s)} | {duration(mean_cpu_s)} "
            f"| {projected_job_seconds(kind, mean_cpu_s, factors, args)} "
            f"| {peak_memory(records)} | {human(disk)} | "
            f"{'-' if kind == 'source' else human(disk * disk_factor)} |"
        )
    lines += ["", f"Projected disk of every rule's outputs: {human(total_disk)}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", required=True, help="the config the run used")
    parser.add_argument("--snakefile", help="the Snakefile (default: the one in the working directory)")
    parser.add_argument("--paper-step-s", type=float, help="seconds of one paper-size training step at batch 1")
    parser.add_argument("--predict-genes-per-s", type=float, help="paper-size prediction, genes per second")
    print(table(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
