import pandas as pd

from seq2exp.features.genes import cell_targets
from seq2exp.files import write_tsv
from seq2exp.logs import log_to

log_to(snakemake.log[0])
genes = pd.read_csv(snakemake.input.genes, sep="\t")
targets = cell_targets(snakemake.config, genes, snakemake.input.ctss, snakemake.input.table, snakemake.wildcards.cell)
write_tsv(targets, snakemake.output[0])
