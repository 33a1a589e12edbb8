from seq2exp.inputs.demo.simulation import simulate_cell, simulate_world
from seq2exp.inputs.demo.spec import paths_from_config, spec_from_config
from seq2exp.inputs.demo.writers import write_cell
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cell = snakemake.params.cell
world = simulate_world(spec_from_config(snakemake.config))
write_cell(world, simulate_cell(world, cell), paths_from_config(snakemake.config).cell_types[cell])
