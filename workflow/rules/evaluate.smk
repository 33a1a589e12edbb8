# From the trained models to what users came for: Table 1 and Table 2, the paired comparison,
# the discovery scores against known elements and CRISPRi perturbations, mask tracks for a genome
# browser, and figures.


rule result_tables:
    input:
        list(predictions_of(CELLS, MODELS).values()),
        expand(AUTHORS_PREDICTIONS, cell=list(AUTHORS_WEIGHTS)),
        genes=rules.gene_table.output.genes,
        peaks=expand(rules.dnase_peaks.output.peaks, cell=CELLS),
    output:
        table1=report(f"{TABLES}/table1.tsv", category="Tables", caption="../report/table.rst"),
        table1_promoter_active=report(
            f"{TABLES}/table1_promoter_active.tsv", category="Tables", caption="../report/table.rst"
        ),
        table1_md=report(f"{TABLES}/table1.md", category="Tables", caption="../report/table.rst"),
        table2=report(f"{TABLES}/table2.tsv", category="Tables", caption="../report/table.rst"),
        table2_md=report(f"{TABLES}/table2.md", category="Tables", caption="../report/table.rst"),
        comparison=report(f"{TABLES}/comparison.tsv", category="Tables", caption="../report/table.rst"),
        comparison_md=report(f"{TABLES}/comparison.md", category="Tables", caption="../report/table.rst"),
    log:
        f"{LOGS}/result_tables.log",
    benchmark:
        benchmark_file("result_tables")
    conda:
        "../envs/model.yaml"
    threads: job_threads("evaluation")
    resources:
        **job_resources("evaluation"),
    params:
        predictions=predictions_of(CELLS, MODELS),
        authors={cell: AUTHORS_PREDICTIONS.format(cell=cell) for cell in AUTHORS_WEIGHTS},
        peaks={cell: rules.dnase_peaks.output.peaks.format(cell=cell) for cell in CELLS},
        settings=config_params("evaluation.bootstrap", "evaluation.seed", "split.test", "features.promoter_half_width"),
    script:
        "../scripts/result_tables.py"


rule discovery:
    input:
        unpack(discovery_inputs),
        sequence=rules.store_sequence.output.store,
        genes=rules.gene_table.output.genes,
    output:
        tsv=report(f"{TABLES}/discovery.tsv", category="Tables", caption="../report/discovery.rst"),
        md=report(f"{TABLES}/discovery.md", category="Tables", caption="../report/discovery.rst"),
    log:
        f"{LOGS}/discovery.log",
    benchmark:
        benchmark_file("discovery")
    conda:
        "../envs/model.yaml"
    threads: job_threads("evaluation")
    resources:
        **job_resources("evaluation"),
    params:
        settings=config_params("window"),
    script:
        "../scripts/discovery.py"


if CRISPRI:

    rule crispri:
        input:
            unpack(crispri_inputs),
            table=source_path("evaluation.crispri"),
            checked=rules.evaluation_inputs_report.output,
            sequence=rules.store_sequence.output.store,
            genes=rules.gene_table.output.genes,
        output:
            tsv=report(f"{TABLES}/crispri.tsv", category="Tables", caption="../report/crispri.rst"),
            md=report(f"{TABLES}/crispri.md", category="Tables", caption="../report/crispri.rst"),
        log:
            f"{LOGS}/crispri.log",
        benchmark:
            benchmark_file("crispri")
        conda:
            "../envs/model.yaml"
        threads: job_threads("evaluation")
        resources:
            **job_resources("evaluation"),
        params:
            settings=config_params("window"),
        script:
            "../scripts/crispri.py"


rule mask_tracks:
    input:
        masks=specs.masks_path(RESULTS),
        genes=rules.cell_genes.output.genes,
        fai=rules.prepare_genome.output.fai,
    output:
        bigwig=f"{TRACKS}/{{cell}}/{{model}}.mask.bw",
        bed=report(
            f"{TRACKS}/{{cell}}/{{model}}.mask.bed",
            category="Mask tracks",
            subcategory="{cell}",
            caption="../report/tracks.rst",
        ),
    log:
        f"{LOGS}/{{cell}}/mask_tracks_{{model}}.log",
    benchmark:
        benchmark_file("mask_tracks", "cell", "model")
    wildcard_constraints:
        model=alternatives(MASK_MODELS),
    conda:
        "../envs/model.yaml"
    threads: job_threads("evaluation")
    resources:
        **job_resources("evaluation"),
    params:
        threshold=lambda wildcards: specs.mask_threshold(config, wildcards.model),
        settings=config_params("window"),
    script:
        "../scripts/mask_tracks.py"


rule model_figures:
    input:
        predictions=f"{MODEL_DIR}/predictions.tsv",
        metrics=f"{MODEL_DIR}/metrics.csv",
    output:
        scatter=report(
            f"{FIGURES}/{{cell}}/{{model}}.predictions.png",
            category="Predictions",
            subcategory="{cell}",
            caption="../report/predictions.rst",
        ),
        curves=report(
            f"{FIGURES}/{{cell}}/{{model}}.training.png",
            category="Training",
            subcategory="{cell}",
            caption="../report/training.rst",
        ),
    log:
        f"{LOGS}/{{cell}}/model_figures_{{model}}.log",
    benchmark:
        benchmark_file("model_figures", "cell", "model")
    conda:
        "../envs/model.yaml"
    threads: job_threads("evaluation")
    resources:
        **job_resources("evaluation"),
    script:
        "../scripts/model_figures.py"


rule gene_track_figures:
    input:
        unpack(gene_track_masks),
        store=rules.store_cell.output.store,
        sequence=rules.store_sequence.output.store,
        genes=rules.cell_genes.output.genes,
        peaks=rules.dnase_peaks.output.peaks,
    output:
        report(
            directory(f"{FIGURES}/{{cell}}/genes"),
            patterns=["{gene}.png"],
            category="Masks",
            subcategory="{cell}",
            caption="../report/gene_tracks.rst",
        ),
    log:
        f"{LOGS}/{{cell}}/gene_track_figures.log",
    benchmark:
        benchmark_file("gene_track_figures", "cell")
    conda:
        "../envs/model.yaml"
    threads: job_threads("evaluation")
    resources:
        **job_resources("evaluation"),
    params:
        masks=MASK_MODELS,
        truth=lambda w: TRUTH_BED.format(cell_type=w.cell) if TRUTH_BED else None,
        settings=config_params("window", "evaluation.figure_genes"),
    script:
        "../scripts/gene_track_figures.py"


rule authors_weights:
    input:
        checkpoint=lambda wildcards: AUTHORS_WEIGHTS[wildcards.cell],
        sequence=rules.store_sequence.output.store,
        store=rules.store_cell.output.store,
        genes=rules.cell_genes.output.genes,
    output:
        AUTHORS_PREDICTIONS,
    log:
        f"{LOGS}/{{cell}}/authors_weights.log",
    benchmark:
        benchmark_file("authors_weights", "cell")
    wildcard_constraints:
        cell=alternatives(list(AUTHORS_WEIGHTS)),
    conda:
        "../envs/model.yaml"
    threads: job_threads("training")
    resources:
        **job_resources("training"),
    script:
        "../scripts/authors_weights.py"
