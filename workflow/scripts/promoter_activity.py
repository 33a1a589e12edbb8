from seq2exp.features.promoters import promoter_activity
from seq2exp.logs import log_to

log_to(snakemake.log[0])
promoter_activity(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.dnase,
    snakemake.input.h3k27ac,
    snakemake.input.gene_list,
    snakemake.output[0],
)
