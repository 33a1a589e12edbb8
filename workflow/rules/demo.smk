# The offline demo: one rule writes every source file the config names, in the real formats,
# plus the planted ground truth (read by evaluation only).

if "demo" in config:

    rule demo_sources:
        output:
            **demo_outputs(),
        threads: job_threads("data")
        resources:
            **job_resources("data"),
        log:
            f"{LOGS}/demo_sources.log",
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/demo_sources.py"
