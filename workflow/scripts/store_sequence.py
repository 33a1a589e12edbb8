from seq2exp.logs import log_to
from seq2exp.store import build_sequence_stage

log_to(snakemake.log[0])
build_sequence_stage(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.fasta,
    snakemake.input.blacklist,
    snakemake.output[0],
    workers=snakemake.threads,
)
