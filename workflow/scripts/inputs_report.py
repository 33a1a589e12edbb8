from seq2exp.files import write_tsv
from seq2exp.inputs.checks import inputs_report_table
from seq2exp.logs import log_to

log_to(snakemake.log[0])
scope = snakemake.params.get("scope")  # None: the shared inputs; else a cell type or the evaluation
write_tsv(inputs_report_table(snakemake.config, snakemake.input.fasta, scope), snakemake.output[0])
