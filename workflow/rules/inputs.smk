# Inputs as the later stages read them: the genome decompressed and indexed, and reports of the
# shared sources, of each cell type's and of the evaluation's (origin, size, sha256, what its
# reader sees; each gates only the jobs that read its sources), which also
# check, before any long job, what the later rules need: table columns, the Hi-C resolution and
# normalisation, and chromosome names shared by the FASTA and every input.

# How every report reads the gene table (for its chromosomes), and the shared one its columns too.
GENE_TABLE_KEYS = ("genes.columns", "genes.tss_one_based", "genes.annotation")
GENE_COLUMN_KEYS = (
    "genes.precomputed_target_column",
    "genes.mrna_gene_id_column",
    "genes.mrna_feature_columns",
    "genes.gene_list_id_column",
)


rule prepare_genome:
    input:
        source_path("genome.fasta"),
    output:
        fasta=GENOME,
        fai=f"{GENOME}.fai",
    log:
        f"{LOGS}/prepare_genome.log",
    benchmark:
        benchmark_file("prepare_genome")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    script:
        "../scripts/prepare_genome.py"


rule inputs_report:
    input:
        fasta=rules.prepare_genome.output.fasta,
        sources=[source_path(key) for key in SOURCES if sources.source_scope(key, CELLS) is None],
    output:
        f"{RESULTS}/inputs.tsv",
    log:
        f"{LOGS}/inputs_report.log",
    benchmark:
        benchmark_file("inputs_report")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params(*GENE_TABLE_KEYS, *GENE_COLUMN_KEYS),
    script:
        "../scripts/inputs_report.py"


rule cell_inputs_report:
    input:
        fasta=rules.prepare_genome.output.fasta,
        table=source_path("genes.table"),
        sources=lambda wildcards: [
            source_path(key) for key in SOURCES if sources.source_scope(key, CELLS) == wildcards.cell
        ],
    output:
        f"{RESULTS}/{{cell}}/inputs.tsv",
    log:
        f"{LOGS}/{{cell}}/inputs_report.log",
    benchmark:
        benchmark_file("cell_inputs_report", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        scope=lambda wildcards: wildcards.cell,
        settings=config_params(
            *GENE_TABLE_KEYS,
            "hic.resolution",
            "hic.normalization",
            "hic.reader",
            "split",
            "genes.gene_list_id_column",
            "features.promoter_activity",
        ),
    script:
        "../scripts/inputs_report.py"


if EVALUATION_SOURCES:

    use rule cell_inputs_report as evaluation_inputs_report with:
        input:
            fasta=rules.prepare_genome.output.fasta,
            table=source_path("genes.table"),
            sources=[source_path(key) for key in EVALUATION_SOURCES],
        output:
            f"{RESULTS}/evaluation/inputs.tsv",
        log:
            f"{LOGS}/evaluation/inputs_report.log",
        benchmark:
            benchmark_file("evaluation_inputs_report")
        params:
            scope=sources.EVALUATION_SCOPE,
            settings=config_params(*GENE_TABLE_KEYS),
