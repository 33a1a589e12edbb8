from seq2exp.inputs.unpack import prepare_fasta
from seq2exp.logs import log_to

log_to(snakemake.log[0])
prepare_fasta(snakemake.input[0], snakemake.output.fasta)
