from seq2exp.features.store import store_cell
from seq2exp.logs import log_to

log_to(snakemake.log[0])
store_cell(
    snakemake.config,
    snakemake.input.genes,
    snakemake.input.targets,
    snakemake.input.promoter,
    snakemake.input.dnase,
    snakemake.input.h3k27ac,
    snakemake.input.contacts,
    snakemake.input.peaks,
    snakemake.output.store,
    snakemake.output.table,
    workers=snakemake.threads,
)
