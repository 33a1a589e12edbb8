from seq2exp.logs import log_to
from seq2exp.sources import prepare_fasta

log_to(snakemake.log[0])
prepare_fasta(snakemake.input[0], snakemake.output.fasta)
