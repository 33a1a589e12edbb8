# The gene table (which genes, TSS, strand, split, mRNA features, window QC: the genome and the
# annotation only), and per cell type the genes its inputs cover, their CAGE target and promoter
# activity. No cell type's job reads another's files, so adding one rebuilds nothing else.


rule gene_table:
    input:
        checked=rules.inputs_report.output,  # every input checked before any gene or per-cell job
        table=source_path("genes.table"),
        mrna=[source_path("genes.mrna_features")] if "genes.mrna_features" in SOURCES else [],
        tss_gene_list=[source_path("genes.tss_gene_list")] if "genes.tss_gene_list" in SOURCES else [],
        fasta=rules.prepare_genome.output.fasta,
        blacklist=source_path("genome.blacklist"),
    output:
        genes=f"{RESULTS}/genes/genes.tsv",
        dropped=f"{RESULTS}/genes/dropped_genes.tsv",
        chromosomes=f"{RESULTS}/genes/chromosomes.tsv",
    log:
        f"{LOGS}/gene_table.log",
    benchmark:
        benchmark_file("gene_table")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params(
            *GENE_TABLE_KEYS,
            "genes.mrna_gene_id_column",
            "genes.mrna_feature_columns",
            "genes.max_n_fraction",
            "window.half_width",
            "split",
            "genes.tss_gene_list",
            "genes.gene_list_id_column",
        ),
    script:
        "../scripts/gene_table.py"


rule cell_genes:
    input:
        checked=rules.cell_inputs_report.output,
        genes=rules.gene_table.output.genes,
        fasta=rules.prepare_genome.output.fasta,
        cell_inputs=lambda wildcards: [source_path(f"{wildcards.cell}.{kind}") for kind in CELL_INPUTS],
    output:
        genes=f"{RESULTS}/{{cell}}/genes.tsv",
        chromosomes=f"{RESULTS}/{{cell}}/chromosomes.tsv",
    log:
        f"{LOGS}/{{cell}}/cell_genes.log",
    benchmark:
        benchmark_file("cell_genes", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params("split"),
    script:
        "../scripts/cell_genes.py"


rule cage_targets:
    input:
        ctss=cell_source("cage"),
        genes=rules.cell_genes.output.genes,
        table=source_path("genes.table"),
    output:
        f"{RESULTS}/{{cell}}/cage_targets.tsv",
    log:
        f"{LOGS}/{{cell}}/cage_targets.log",
    benchmark:
        benchmark_file("cage_targets", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params(
            "features.cage_half_width",
            "features.cage_per_million",
            "genes.columns.gene_id",
            "genes.precomputed_target_column",
            "target.source",
        ),
    script:
        "../scripts/cage_targets.py"


rule promoter_activity:
    input:
        dnase=cell_source("dnase"),
        h3k27ac=cell_source("h3k27ac"),
        genes=rules.cell_genes.output.genes,
        gene_list=lambda wildcards: [source_path(key) for key in SOURCES if key == f"{wildcards.cell}.gene_list"],
    output:
        f"{RESULTS}/{{cell}}/promoter_activity.tsv",
    log:
        f"{LOGS}/{{cell}}/promoter_activity.log",
    benchmark:
        benchmark_file("promoter_activity", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params(
            "features.promoter_activity",
            "features.promoter_half_width",
            "genes.gene_list_id_column",
        ),
    script:
        "../scripts/promoter_activity.py"
