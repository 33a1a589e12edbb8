from seq2exp import demo
from seq2exp.logs import log_to

log_to(snakemake.log[0])
demo.write_demo(demo.simulate(demo.spec_from_config(snakemake.config)), demo.paths_from_config(snakemake.config))
