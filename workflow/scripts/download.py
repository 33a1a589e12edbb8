from seq2exp.inputs.download import download
from seq2exp.logs import log_to

log_to(snakemake.log[0])
download(snakemake.config, snakemake.params.url, snakemake.params.md5, snakemake.output[0])
