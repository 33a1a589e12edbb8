from pathlib import Path

from seq2exp.evaluation.plots import gene_track_figures
from seq2exp.logs import log_to

log_to(snakemake.log[0])
i = snakemake.input
gene_track_figures(
    snakemake.config,
    snakemake.wildcards.cell,
    str(Path(i.store).parent),
    i.genes,
    {m: i[m] for m in snakemake.params.masks},
    i.peaks,
    snakemake.params.truth,
    snakemake.output[0],
)
