import pandas as pd

from seq2exp.logs import log_to
from seq2exp.peaks import PeakSettings, peak_step

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
