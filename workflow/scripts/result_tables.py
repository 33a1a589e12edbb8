from seq2exp.evaluation.tables import result_tables
from seq2exp.logs import log_to

log_to(snakemake.log[0])
result_tables(
    snakemake.config,
    snakemake.params.predictions,
    dict(snakemake.output.items()),
    snakemake.input.genes,
    snakemake.params.peaks,
    snakemake.params.authors,
)
