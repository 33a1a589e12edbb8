from seq2exp.features.store import store_sequence
from seq2exp.logs import log_to

log_to(snakemake.log[0])
store_sequence(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.fasta,
    snakemake.input.blacklist,
    snakemake.output.store,
    workers=snakemake.threads,
)
