# Sources given as URLs: each is streamed to a temporary file and moved into resources/.


rule download:
    output:
        "{download_path}",
    wildcard_constraints:
        download_path=alternatives(DOWNLOADS),
    params:
        url=lambda wildcards: DOWNLOADS[wildcards.download_path],
    log:
        f"{LOGS}/download/{{download_path}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/download.py"


rule extract_member:
    input:
        lambda wildcards: EXTRACTIONS[wildcards.extracted_path][0],
    output:
        "{extracted_path}",
    wildcard_constraints:
        extracted_path=alternatives(EXTRACTIONS),
    params:
        member=lambda wildcards: EXTRACTIONS[wildcards.extracted_path][1],
    log:
        f"{LOGS}/extract/{{extracted_path}}.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/extract_member.py"
