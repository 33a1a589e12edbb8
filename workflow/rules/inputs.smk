# Inputs as the later stages read them: the genome decompressed and indexed, and reports of the
# shared sources, of each cell type's and of the evaluation's (origin, size, sha256, what its
# reader sees; each gates only the jobs that read its sources), which also
# check, before any long job, what the later rules need: table columns, the Hi-C resolution and
# normalisation, and chromosome names shared by the FASTA and every input.


rule prepare_genome:
    input:
        source_path("genome.fasta"),
    output:
        fasta=GENOME,
        fai=f"{GENOME}.fai",
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/prepare_genome.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_genome.py"


rule inputs_report:
    input:
        fasta=rules.prepare_genome.output.fasta,
        sources=[source_path(key) for key in SOURCES if sources.source_scope(key, CELLS) is None],
    output:
        f"{RESULTS}/inputs.tsv",
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/inputs_report.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/inputs_report.py"


rule cell_inputs_report:
    input:
        fasta=rules.prepare_genome.output.fasta,
        table=source_path("genes.table"),
        sources=lambda wildcards: [source_path(f"{wildcards.cell}.{kind}") for kind in CELL_INPUTS],
    output:
        f"{RESULTS}/{{cell}}/inputs.tsv",
    params:
        scope=lambda wildcards: wildcards.cell,
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/{{cell}}/inputs_report.log",
    conda:
        "../envs/data.yaml"
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
        params:
            scope=sources.EVALUATION_SCOPE,
        log:
            f"{LOGS}/evaluation/inputs_report.log",
