# The gene table (which genes, TSS, strand, split, mRNA features, window QC), and per cell type
# the CAGE target and the promoter activity.


rule gene_table:
    input:
        checked=rules.inputs_report.output,  # every input checked before any gene or per-cell job
        table=source_path("genes.table"),
        mrna=[source_path("genes.mrna_features")] if "genes.mrna_features" in SOURCES else [],
        fasta=rules.prepare_genome.output.fasta,
        blacklist=source_path("genome.blacklist"),
        cell_inputs=[source_path(f"{cell}.{kind}") for cell in CELLS for kind in CELL_INPUTS],
    output:
        genes=f"{RESULTS}/genes/genes.tsv",
        dropped=f"{RESULTS}/genes/dropped_genes.tsv",
        chromosomes=f"{RESULTS}/genes/chromosomes.tsv",
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/gene_table.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/gene_table.py"


rule cage_targets:
    input:
        ctss=cell_source("cage"),
        genes=rules.gene_table.output.genes,
        table=source_path("genes.table"),
    output:
        f"{RESULTS}/{{cell}}/cage_targets.tsv",
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/{{cell}}/cage_targets.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/cage_targets.py"


rule promoter_activity:
    input:
        dnase=cell_source("dnase"),
        h3k27ac=cell_source("h3k27ac"),
        genes=rules.gene_table.output.genes,
    output:
        f"{RESULTS}/{{cell}}/promoter_activity.tsv",
    params:
        half_width=config["features"]["promoter_half_width"],
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    log:
        f"{LOGS}/{{cell}}/promoter_activity.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/promoter_activity.py"
