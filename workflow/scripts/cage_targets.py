from seq2exp.features.targets import cage_targets
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cage_targets(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.ctss,
    snakemake.input.table,
    snakemake.wildcards.cell,
    snakemake.output[0],
)
