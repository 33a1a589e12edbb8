from lightning.pytorch.utilities import rank_zero_only

from seq2exp.logs import log_to
from seq2exp.training.train import train_model

log_to(snakemake.log[0], append=rank_zero_only.rank > 0)  # Lightning reruns this script for each further DDP process
train_model(
    snakemake.config,
    snakemake.wildcards.model,
    snakemake.wildcards.cell,
    snakemake.input.cell,
    snakemake.input.genes,
    snakemake.output.checkpoint,
    soft_masks=snakemake.input.soft_masks,
    threads=snakemake.threads,
)
