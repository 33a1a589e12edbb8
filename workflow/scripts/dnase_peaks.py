from seq2exp.features.peaks import dnase_peaks
from seq2exp.logs import log_to

log_to(snakemake.log[0])
dnase_peaks(
    snakemake.config,
    snakemake.input.dnase,
    snakemake.input.genes,
    snakemake.input.blacklist,
    snakemake.output.peaks,
    snakemake.output.mask_ratios,
)
