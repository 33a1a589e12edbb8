from seq2exp.inventory import inputs_report
from seq2exp.logs import log_to
from seq2exp.sources import configured_sources

log_to(snakemake.log[0])
report = inputs_report(configured_sources(snakemake.config), {"genome.fasta": snakemake.input.fasta})
report.to_csv(snakemake.output[0], sep="\t", index=False)
