from seq2exp.logs import log_to
from seq2exp.results import result_tables

log_to(snakemake.log[0])
result_tables(
    snakemake.config,
    snakemake.params.predictions,
    dict(snakemake.output.items()),
    snakemake.input.genes,
    snakemake.params.peaks,
    snakemake.params.authors,
)
