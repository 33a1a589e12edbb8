from seq2exp.inputs.unpack import prepare_genome
from seq2exp.logs import log_to

log_to(snakemake.log[0])
prepare_genome(snakemake.input[0], snakemake.output.fasta)
