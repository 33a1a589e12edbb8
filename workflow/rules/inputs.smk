# Inputs as the later stages read them: the genome decompressed and indexed, and a report of
# every source (origin, size, sha256, what its reader sees), which also checks, before any long
# job, what the later rules need: table columns, the Hi-C resolution and normalisation, and
# chromosome names shared by the FASTA and every input.


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
        sources=[source_path(key) for key in SOURCES],
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
