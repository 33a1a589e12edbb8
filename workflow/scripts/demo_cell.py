from seq2exp.inputs import demo
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cell = snakemake.params.cell
world = demo.simulate_world(demo.spec_from_config(snakemake.config))
demo.write_cell(world, demo.simulate_cell(world, cell), demo.paths_from_config(snakemake.config).cell_types[cell])
