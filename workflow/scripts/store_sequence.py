from seq2exp.features.store import build_sequence_stage
from seq2exp.logs import log_to

log_to(snakemake.log[0])
build_sequence_stage(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.fasta,
    snakemake.input.blacklist,
    snakemake.output[0],
    workers=snakemake.threads,
)
