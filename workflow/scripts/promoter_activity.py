import pandas as pd

from seq2exp.features.genes import (
    GENE_LIST_ACTIVITY_COLUMNS,
    gene_list_promoter_activity,
    promoter_activity,
    read_gene_list,
)
from seq2exp.files import write_tsv
from seq2exp.logs import log_to

log_to(snakemake.log[0])
genes = pd.read_csv(snakemake.input.genes, sep="\t")
if snakemake.config["features"]["promoter_activity"] == "gene_list":
    path = snakemake.input.gene_list[0]
    gene_list = read_gene_list(path, snakemake.config["genes"]["gene_list_id_column"], GENE_LIST_ACTIVITY_COLUMNS)
    activity = gene_list_promoter_activity(genes, gene_list, path)
else:
    activity = promoter_activity(genes, snakemake.input.dnase, snakemake.input.h3k27ac, snakemake.params.half_width)
write_tsv(activity, snakemake.output[0])
