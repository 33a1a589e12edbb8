# MACS3 peaks on each cell type's DNase-seq signal, and each gene's peak mask ratio.


rule dnase_peaks:
    input:
        dnase=cell_source("dnase"),
        genes=rules.cell_genes.output.genes,
        blacklist=source_path("genome.blacklist"),
    output:
        peaks=f"{RESULTS}/{{cell}}/dnase_peaks.narrowPeak",
        mask_ratios=f"{RESULTS}/{{cell}}/dnase_peak_mask.tsv",
    log:
        f"{LOGS}/{{cell}}/dnase_peaks.log",
    benchmark:
        benchmark_file("dnase_peaks", "cell")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        settings=config_params("peaks", "window.half_width"),
    script:
        "../scripts/dnase_peaks.py"
