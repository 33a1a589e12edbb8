from seq2exp.features.hic import hic_contacts
from seq2exp.logs import log_to

log_to(snakemake.log[0])
hic_contacts(snakemake.config, snakemake.input.hic, snakemake.input.genes, snakemake.output[0])
