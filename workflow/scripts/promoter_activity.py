import pandas as pd

from seq2exp.files import write_tsv
from seq2exp.genes import promoter_activity
from seq2exp.logs import log_to

log_to(snakemake.log[0])
genes = pd.read_csv(snakemake.input.genes, sep="\t")
activity = promoter_activity(genes, snakemake.input.dnase, snakemake.input.h3k27ac, snakemake.params.half_width)
write_tsv(activity, snakemake.output[0])
