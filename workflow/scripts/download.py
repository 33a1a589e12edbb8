from seq2exp.inputs.download import DownloadSettings, download_file
from seq2exp.inputs.sources import download_jobs
from seq2exp.logs import log_to

log_to(snakemake.log[0])
# The format to check comes from the config, not a param: adding it would rerun every download.
kind = next(job.kind for job in download_jobs(snakemake.config) if job.path == snakemake.output[0])
download_file(
    snakemake.params.url,
    snakemake.output[0],
    DownloadSettings.from_config(snakemake.config),
    md5=snakemake.params.md5,
    kind=kind,
)
