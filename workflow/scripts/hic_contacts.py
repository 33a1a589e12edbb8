import pandas as pd

from seq2exp.features.hic import tss_contact_profiles
from seq2exp.files import write_tsv
from seq2exp.logs import log_to

log_to(snakemake.log[0])
hic = dict(snakemake.config["hic"])
genes = pd.read_csv(snakemake.input.genes, sep="\t")
profiles = tss_contact_profiles(snakemake.input.hic, genes, snakemake.config["window"]["half_width"], **hic)
write_tsv(profiles.table, snakemake.output[0])
