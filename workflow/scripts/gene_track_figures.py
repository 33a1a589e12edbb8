from seq2exp.evaluation.plots import gene_track_figures
from seq2exp.logs import log_to

log_to(snakemake.log[0])
gene_track_figures(
    snakemake.config,
    snakemake.wildcards.cell,
    dict(snakemake.input.items()),
    snakemake.params.masks,
    snakemake.params.truth,
    snakemake.output[0],
)
