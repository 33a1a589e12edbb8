from seq2exp.files import write_tsv
from seq2exp.inventory import inputs_report
from seq2exp.logs import log_to

log_to(snakemake.log[0])
cell = snakemake.params.get("cell")  # None: the shared inputs
write_tsv(inputs_report(snakemake.config, snakemake.input.fasta, cell), snakemake.output[0])
