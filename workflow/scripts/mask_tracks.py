from seq2exp.evaluation.tracks import mask_tracks
from seq2exp.logs import log_to

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
