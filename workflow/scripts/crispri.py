from seq2exp.evaluation.crispri import crispri
from seq2exp.logs import log_to

log_to(snakemake.log[0])
crispri(snakemake.config, dict(snakemake.input.items()), snakemake.output.tsv, snakemake.output.md)
