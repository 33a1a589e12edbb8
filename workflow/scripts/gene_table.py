from seq2exp.features.genes import build_gene_table
from seq2exp.files import write_tsv
from seq2exp.logs import log_to

log_to(snakemake.log[0])
mrna = snakemake.input.mrna[0] if snakemake.input.mrna else None  # genes.mrna_features: null
tss_gene_list = snakemake.input.tss_gene_list[0] if snakemake.input.tss_gene_list else None
genes, dropped, report = build_gene_table(
    snakemake.config, snakemake.input.table, mrna, snakemake.input.fasta, snakemake.input.blacklist, tss_gene_list
)
write_tsv(dropped, snakemake.output.dropped)
write_tsv(report, snakemake.output.chromosomes)
write_tsv(genes, snakemake.output.genes)
