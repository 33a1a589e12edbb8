from seq2exp.inputs.unpack import extract_member
from seq2exp.logs import log_to

log_to(snakemake.log[0])
extract_member(snakemake.input[0], snakemake.params.member, snakemake.output[0])
