# Sources given as URLs: one local rule per file (downloads run on the machine that runs
# snakemake, never on cluster nodes). Each streams to a partial file, is checked (length, format,
# md5) and only then moved into resources/. Settings come from the config's `downloads` section; only
# the URL and a published md5 are params, so changing retries or timeouts reruns nothing.

for job in DOWNLOAD_JOBS:

    rule:
        name:
            f"download_{re.sub(r'[^A-Za-z0-9]+', '_', job.key)}"
        output:
            job.path,
        log:
            f"{LOGS}/download/{job.key}.log",
        benchmark:
            f"{BENCHMARKS}/download/{job.key}.tsv"
        localrule: True
        conda:
            "../envs/data.yaml"
        threads: job_threads("data")
        resources:
            **job_resources("data"),
        params:
            url=job.url,
            md5=job.md5,
        script:
            "../scripts/download.py"


localrules:
    extract_member,


rule extract_member:
    input:
        lambda wildcards: EXTRACTIONS[wildcards.extracted_path][0],
    output:
        "{extracted_path}",
    log:
        f"{LOGS}/extract/{{extracted_path}}.log",
    benchmark:
        benchmark_file("extract_member", "extracted_path")
    wildcard_constraints:
        extracted_path=alternatives(EXTRACTIONS),
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        member=lambda wildcards: EXTRACTIONS[wildcards.extracted_path][1],
    script:
        "../scripts/extract_member.py"
