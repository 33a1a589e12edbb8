from seq2exp.logs import log_to
from seq2exp.results import model_figures

log_to(snakemake.log[0])
model_figures(
    snakemake.wildcards.model,
    snakemake.wildcards.cell,
    snakemake.input.predictions,
    snakemake.input.metrics,
    snakemake.output.scatter,
    snakemake.output.curves,
)
