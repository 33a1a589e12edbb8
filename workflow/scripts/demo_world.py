from seq2exp.inputs.demo.writers import demo_world
from seq2exp.logs import log_to

log_to(snakemake.log[0])
demo_world(snakemake.config)
