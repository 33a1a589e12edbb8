from seq2exp.inputs.checks import inputs_report
from seq2exp.logs import log_to

log_to(snakemake.log[0])
inputs_report(snakemake.config, snakemake.input.fasta, snakemake.params.get("scope"), snakemake.output[0])
