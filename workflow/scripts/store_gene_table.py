from seq2exp.features.store import store_gene_table
from seq2exp.logs import log_to

log_to(snakemake.log[0])
store_gene_table(
    snakemake.config, snakemake.input.genes, snakemake.input.cells, snakemake.input.peaks, snakemake.output[0]
)
