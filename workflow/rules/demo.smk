# The offline demo, in the real formats: one job writes what every cell type shares (genome,
# gene tables, planted truth, read by evaluation only), one job per cell type its measurements,
# each from its own random stream, so adding a cell type leaves the others' files untouched
# (demo.cell_type_motifs is left out of their settings for that reason).

DEMO_KEYS = (
    "demo.seed",
    "demo.genes_per_chromosome",
    "demo.gene_spacing",
    "demo.element_length",
    "demo.enhancers_per_gene",
    "window.half_width",
    "window.central_region",
    "features.promoter_half_width",
    "features.cage_half_width",
    "hic.resolution",
)

if "demo" in config:

    rule demo_world:
        output:
            **demo_world_outputs(),
        log:
            f"{LOGS}/demo_world.log",
        benchmark:
            benchmark_file("demo_world")
        conda:
            "../envs/data.yaml"
        threads: job_threads("data")
        resources:
            **job_resources("data"),
        params:
            settings=config_params(*DEMO_KEYS),
        script:
            "../scripts/demo_world.py"

    for demo_cell in config["cell_types"]:

        rule:
            name:
                f"demo_{demo_cell}"
            output:
                **demo_cell_outputs(demo_cell),
            log:
                f"{LOGS}/{demo_cell}/demo_cell.log",
            benchmark:
                f"{BENCHMARKS}/demo_cell/{demo_cell}.tsv"
            conda:
                "../envs/data.yaml"
            threads: job_threads("data")
            resources:
                **job_resources("data"),
            params:
                cell=demo_cell,
                settings=config_params(*DEMO_KEYS, f"demo.cell_type_motifs.{demo_cell}"),
            script:
                "../scripts/demo_cell.py"
