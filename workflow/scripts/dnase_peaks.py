import pandas as pd

from seq2exp.features.peaks import PeakSettings, peak_step
from seq2exp.logs import log_to

log_to(snakemake.log[0])
genes = pd.read_csv(snakemake.input.genes, sep="\t")
peak_step(
    snakemake.input.dnase,
    genes,
    snakemake.config["window"]["half_width"],
    PeakSettings(**snakemake.config["peaks"]),
    snakemake.output.peaks,
    snakemake.output.mask_ratios,
    snakemake.input.blacklist,
)
