from seq2exp.files import write_tsv
from seq2exp.inventory import inputs_report
from seq2exp.logs import log_to
from seq2exp.sources import configured_sources

log_to(snakemake.log[0])
report = inputs_report(configured_sources(snakemake.config), {"genome.fasta": snakemake.input.fasta})
write_tsv(report, snakemake.output[0])
