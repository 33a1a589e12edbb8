from seq2exp.logs import log_to
from seq2exp.results import mask_tracks

log_to(snakemake.log[0])
mask_tracks(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.masks,
    snakemake.input.fai,
    snakemake.output.bigwig,
    snakemake.output.bed,
    snakemake.params.threshold,
)
