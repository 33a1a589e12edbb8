from seq2exp.logs import log_to
from seq2exp.sources import DownloadSettings, download

log_to(snakemake.log[0])
download(snakemake.params.url, snakemake.output[0], DownloadSettings.from_config(snakemake.config),
         md5=snakemake.params.md5, kind=snakemake.params.kind)
