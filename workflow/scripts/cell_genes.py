from seq2exp.features.genes import cell_genes
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cell_genes(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.fasta,
    snakemake.input.cell_inputs,
    snakemake.output.genes,
    snakemake.output.chromosomes,
)
