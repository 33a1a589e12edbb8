from pathlib import Path

from seq2exp.evaluation.discovery import discovery
from seq2exp.logs import log_to
from seq2exp.training.specs import cell_input

log_to(snakemake.log[0])
i = snakemake.input
per_cell = {
    cell: dict(
        store_dir=str(Path(i[cell_input(cell, "store")]).parent),
        genes_path=i.genes,
        soft_masks=i[cell_input(cell, "soft")],
        hard_masks=i.get(cell_input(cell, "hard")),
        peaks_path=i[cell_input(cell, "peaks")],
        truth_bed=i[cell_input(cell, "truth")],
        elements_path=i.get("elements"),
    )
    for cell in snakemake.config["run_cell_types"]
}
discovery(snakemake.config, per_cell, snakemake.output.tsv, snakemake.output.md)
