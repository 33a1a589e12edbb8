from seq2exp.features.store import build_cell_stage
from seq2exp.logs import log_to

log_to(snakemake.log[0])
i = snakemake.input
build_cell_stage(
    snakemake.config,
    i.genes,
    i.targets,
    i.promoter,
    i.dnase,
    i.h3k27ac,
    i.contacts,
    i.peaks,
    snakemake.output.store,
    snakemake.output.table,
    workers=snakemake.threads,
)
