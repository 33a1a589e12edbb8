from pathlib import Path

from seq2exp.evaluation.crispri import crispri
from seq2exp.logs import log_to
from seq2exp.training.specs import cell_input

log_to(snakemake.log[0])
i = snakemake.input
per_cell = {
    cell: dict(store_dir=str(Path(i[cell_input(cell, "store")]).parent), soft_masks=i[cell_input(cell, "soft")])
    for cell in snakemake.config["run_cell_types"]
}
crispri(snakemake.config, i.table, i.genes, per_cell, snakemake.output.tsv, snakemake.output.md)
