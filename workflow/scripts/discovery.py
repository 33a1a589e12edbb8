from seq2exp.evaluation.discovery import discovery
from seq2exp.logs import log_to

log_to(snakemake.log[0])
discovery(snakemake.config, dict(snakemake.input.items()), snakemake.output.tsv, snakemake.output.md)
