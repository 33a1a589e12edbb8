from seq2exp.logs import log_to
from seq2exp.store import build_cell_stage

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
