# ABC-style Hi-C contact of every bin in each gene's window with the gene's TSS bin.


rule hic_contacts:
    input:
        hic=cell_source("hic"),
        genes=rules.cell_genes.output.genes,
    output:
        f"{RESULTS}/{{cell}}/hic_contact.tsv.gz",
    log:
        f"{LOGS}/{{cell}}/hic_contacts.log",
    benchmark:
        benchmark_file("hic_contacts", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params("hic", "window.half_width"),
    script:
        "../scripts/hic_contacts.py"
