from seq2exp.features.store import combined_gene_table
from seq2exp.files import write_tsv
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cells = snakemake.config["run_cell_types"]
table = combined_gene_table(
    snakemake.input.genes, dict(zip(cells, snakemake.input.cells)), dict(zip(cells, snakemake.input.peaks))
)
write_tsv(table, snakemake.output[0])
