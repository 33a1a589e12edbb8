from seq2exp.features.genes import gene_table
from seq2exp.logs import log_to

log_to(snakemake.log[0])
gene_table(
    snakemake.config,
    snakemake.input.table,
    snakemake.input.mrna,
    snakemake.input.tss_gene_list,
    snakemake.input.fasta,
    snakemake.input.blacklist,
    snakemake.output.genes,
    snakemake.output.dropped,
    snakemake.output.chromosomes,
)
