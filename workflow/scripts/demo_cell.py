from seq2exp.inputs.demo.writers import demo_cell
from seq2exp.logs import log_to

log_to(snakemake.log[0])
demo_cell(snakemake.config, snakemake.params.cell)
