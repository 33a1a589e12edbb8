from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only

from seq2exp.logs import log_to
from seq2exp.training.train import JobPaths, train_job

log_to(snakemake.log[0], append=rank_zero_only.rank > 0)  # Lightning reruns this script for each further DDP process
paths = JobPaths(
    store_dir=str(Path(snakemake.input.cell).parent),
    genes=snakemake.input.genes,
    out_dir=str(Path(snakemake.output.checkpoint).parent),
    soft_masks=snakemake.input.soft_masks or None,
)
train_job(snakemake.config, snakemake.wildcards.model, snakemake.wildcards.cell, paths, threads=snakemake.threads)
