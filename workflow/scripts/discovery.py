from pathlib import Path

from seq2exp.logs import log_to
from seq2exp.results import discovery_tables

log_to(snakemake.log[0])
i = snakemake.input
per_cell = {
    cell: dict(store_dir=str(Path(i[f"{cell}_store"]).parent), genes_path=i.genes, soft_masks=i[f"{cell}_soft"],
               hard_masks=i.get(f"{cell}_hard"), peaks_path=i[f"{cell}_peaks"], truth_bed=i[f"{cell}_truth"],
               elements_path=i.get("elements"))
    for cell in snakemake.config["run_cell_types"]
}
discovery_tables(snakemake.config, per_cell, snakemake.output.tsv, snakemake.output.md)
