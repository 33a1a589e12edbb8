from seq2exp.evaluation.authors import authors_weights
from seq2exp.logs import log_to

log_to(snakemake.log[0])
authors_weights(
    snakemake.config,
    snakemake.input.checkpoint,
    snakemake.input.store,
    snakemake.wildcards.cell,
    snakemake.input.genes,
    snakemake.output[0],
)
