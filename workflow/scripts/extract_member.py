from seq2exp.logs import log_to
from seq2exp.sources import extract_member

log_to(snakemake.log[0])
extract_member(snakemake.input[0], snakemake.params.member, snakemake.output[0])
