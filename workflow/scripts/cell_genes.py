from seq2exp.features.genes import cell_gene_table
from seq2exp.files import write_tsv
from seq2exp.inputs.checks import chromosome_names
from seq2exp.inputs.sources import configured_sources
from seq2exp.logs import log_to

log_to(snakemake.log[0])
inputs = [s for s in configured_sources(snakemake.config) if s.path in snakemake.input.cell_inputs]
chromosomes = {f"{s.key} ({s.path})": chromosome_names(s.kind, s.path) for s in inputs}
genes, report = cell_gene_table(snakemake.config, snakemake.input.genes, snakemake.input.fasta, chromosomes)
write_tsv(report, snakemake.output.chromosomes)
write_tsv(genes, snakemake.output.genes)
