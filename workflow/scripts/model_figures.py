from seq2exp.evaluation.plots import model_figures
from seq2exp.logs import log_to

log_to(snakemake.log[0])
model_figures(
    snakemake.wildcards.model,
    snakemake.wildcards.cell,
    snakemake.input.predictions,
    snakemake.input.metrics,
    snakemake.output.scatter,
    snakemake.output.curves,
)
