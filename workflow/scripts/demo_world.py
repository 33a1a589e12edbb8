from seq2exp.inputs.demo.simulation import simulate_world
from seq2exp.inputs.demo.spec import paths_from_config, spec_from_config
from seq2exp.inputs.demo.writers import write_world
from seq2exp.logs import log_to

log_to(snakemake.log[0])
write_world(simulate_world(spec_from_config(snakemake.config)), paths_from_config(snakemake.config))
