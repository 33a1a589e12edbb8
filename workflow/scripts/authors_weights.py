from pathlib import Path

from seq2exp.evaluation.authors import authors_predictions
from seq2exp.logs import log_to

log_to(snakemake.log[0])
gpu = snakemake.config["resources"]["training"]["gpu"] > 0
i = snakemake.input
authors_predictions(
    i.checkpoint,
    str(Path(i.store).parent),
    snakemake.wildcards.cell,
    i.genes,
    snakemake.output[0],
    device="cuda" if gpu else "cpu",
    block_size=None if gpu else 10_000,
)
