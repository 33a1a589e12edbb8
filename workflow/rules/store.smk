# The per-gene tensor store: DNA and blacklist shared by cell types, then per cell type the
# signals, Hi-C contact, peak mask, target and features; and the gene table with every QC column.


rule store_sequence:
    input:
        genes=rules.gene_table.output.genes,
        fasta=rules.prepare_genome.output.fasta,
        blacklist=source_path("genome.blacklist"),
    output:
        store=f"{RESULTS}/store/sequence.h5",
        checksum=f"{RESULTS}/store/sequence.h5.sha256",
    log:
        f"{LOGS}/store_sequence.log",
    benchmark:
        benchmark_file("store_sequence")
    conda:
        "../envs/data.yaml"
    threads: job_threads("store")
    resources:
        **job_resources("store"),
    params:
        settings=config_params("window.half_width", "window.reverse_complement_minus_strand"),
    script:
        "../scripts/store_sequence.py"


rule store_cell:
    input:
        genes=rules.cell_genes.output.genes,
        targets=rules.cage_targets.output[0],
        promoter=rules.promoter_activity.output[0],
        dnase=cell_source("dnase"),
        h3k27ac=cell_source("h3k27ac"),
        contacts=rules.hic_contacts.output[0],
        peaks=rules.dnase_peaks.output.peaks,
    output:
        store=f"{RESULTS}/store/{{cell}}.h5",
        checksum=f"{RESULTS}/store/{{cell}}.h5.sha256",
        table=f"{RESULTS}/store/{{cell}}.genes.tsv",
    log:
        f"{LOGS}/{{cell}}/store_cell.log",
    benchmark:
        benchmark_file("store_cell", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("store")
    resources:
        **job_resources("store"),
    params:
        settings=config_params(
            "window.half_width",
            "window.reverse_complement_minus_strand",
            "hic.resolution",
            "genes.mrna_features",
            "genes.mrna_feature_columns",
        ),
    script:
        "../scripts/store_cell.py"


rule store_gene_table:
    input:
        genes=rules.gene_table.output.genes,
        cells=expand(rules.store_cell.output.table, cell=CELLS),
        peaks=expand(rules.dnase_peaks.output.mask_ratios, cell=CELLS),
    output:
        f"{RESULTS}/store/genes.tsv",
    log:
        f"{LOGS}/store_gene_table.log",
    benchmark:
        benchmark_file("store_gene_table")
    conda:
        "../envs/data.yaml"
    threads: job_threads("store")
    resources:
        **job_resources("store"),
    script:
        "../scripts/store_gene_table.py"
