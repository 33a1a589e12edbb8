from seq2exp.inputs import demo
from seq2exp.logs import log_to

log_to(snakemake.log[0])
demo.write_world(demo.simulate_world(demo.spec_from_config(snakemake.config)), demo.paths_from_config(snakemake.config))
