"""The demo's files, in the formats of the real sources (gzipped FASTA, EPInformer-style gene and
mRNA tables, bigWig, .hic, FANTOM5 CTSS BED, blacklist BED), and the ground truth only evaluation reads."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd

from ...features.columns import EPINFORMER_MRNA_FEATURES
from ...features.genome import value_runs
from ...files import atomic_output, gzip_text_writer, write_atomically
from .simulation import CellData, Demo, World, observed_tags, simulate_cell, simulate_world
from .spec import DemoPaths, paths_from_config, spec_from_config, world_files

GENE_TABLE_COLUMNS = {
    "gene_id": "ENSID",
    "gene_name": "Gene name",
    "chrom": "chrom",
    "start": "start",
    "end": "end",
    "strand": "strand",
    "tss_1based": "TSS_xpresso",
}


def demo_world(config: dict) -> None:
    """The rule demo_world: the files every cell type shares and the truth, where the config names them."""
    write_world(simulate_world(spec_from_config(config)), paths_from_config(config))


def demo_cell(config: dict, cell: str) -> None:
    """The rules demo_<cell>: one cell type's measurements, where the config names them."""
    world = simulate_world(spec_from_config(config))
    write_cell(world, simulate_cell(world, cell), paths_from_config(config).cell_types[cell])


def write_demo(demo: Demo, paths: DemoPaths) -> None:
    """Write every file; each appears atomically, so a failure leaves no partial file."""
    write_world(demo.world, paths)
    for cell, files in paths.cell_types.items():
        write_cell(demo.world, demo.cells[cell], files)


def write_world(world: World, paths: DemoPaths) -> None:
    """The files every cell type shares (genome, blacklist, gene and mRNA tables) and the truth."""
    write_atomically(paths.fasta, lambda tmp: write_fasta_gz(world.sequence, tmp))
    write_atomically(paths.blacklist, lambda tmp: world.blacklist.to_csv(tmp, sep="\t", header=False, index=False))
    write_atomically(paths.gene_table, lambda tmp: gene_table(world).to_csv(tmp, index=False))
    if paths.mrna_features:
        write_atomically(paths.mrna_features, lambda tmp: mrna_table(world).to_csv(tmp, index=False))
    truth = world_files(paths, world.cell_types)
    for cell in world.cell_types:
        with atomic_output(truth[f"truth_{cell}"]) as tmp:
            write_causal_bed(world.causal[world.causal["cell_type"] == cell], tmp)
    write_atomically(truth["truth_elements"], lambda tmp: world.elements.to_csv(tmp, sep="\t", index=False))
    write_atomically(truth["truth_genes"], lambda tmp: truth_gene_table(world).to_csv(tmp, sep="\t", index=False))


def write_cell(world: World, data: CellData, files: dict[str, str]) -> None:
    """One cell type's DNase and H3K27ac bigWigs, .hic and CTSS file."""
    for kind in ("dnase", "h3k27ac"):
        with atomic_output(files[kind]) as tmp:
            write_bigwig(data.tracks[kind], world.chrom_sizes, tmp)
    write_atomically(files["hic"], lambda tmp: write_hic(data.hic, world.chrom_sizes, world.spec.hic_resolution, tmp))
    write_atomically(files["cage"], lambda tmp: write_ctss(data.ctss, tmp))


def gene_table(world: World) -> pd.DataFrame:
    """The gene table in the layout of EPInformer's expression CSV (TSS 1-based), with every demo
    cell type's precomputed CAGE sum (the tags of its CTSS file within the TSS +/- 192 bp)."""
    genes = world.genes.assign(tss_1based=world.genes["tss"] + 1, start=world.genes["start"] + 1)
    table = genes[list(GENE_TABLE_COLUMNS)].rename(columns=GENE_TABLE_COLUMNS)
    for cell in world.cell_types:
        table[f"{cell}_CAGE_128*3_sum"] = observed_tags(world, cell)
    for name in EPINFORMER_MRNA_FEATURES:
        table[name] = genes[name].round(6)
    return table


def mrna_table(world: World) -> pd.DataFrame:
    """The mRNA half-life feature table in the layout of EPInformer's `mRNA_halflife_features.csv`."""
    g = world.genes
    table = pd.DataFrame(
        {"chrom": g["chrom"], "TSS": g["tss"] + 1, "gene_id": g["gene_id"], "Gene name": g["gene_name"]}
    )
    for name in EPINFORMER_MRNA_FEATURES:
        table[name] = g[name].round(6)
    return table


def truth_gene_table(world: World) -> pd.DataFrame:
    table = world.genes[["gene_id", "chrom", "tss", "strand", "promoter_strength", "mrna_effect"]].copy()
    for cell in world.cell_types:
        table[f"promoter_on_{cell}"] = world.genes[f"promoter_on_{cell}"]
        table[f"expected_tags_{cell}"] = world.genes[f"expected_tags_{cell}"]
        table[f"tags_{cell}"] = observed_tags(world, cell)
    return table


def write_fasta_gz(sequence: dict[str, str], path: str, width: int = 60) -> None:
    with gzip_text_writer(path) as out:
        for chrom, seq in sequence.items():
            out.write(f">{chrom}\n")
            out.write("\n".join(seq[i : i + width] for i in range(0, len(seq), width)))
            out.write("\n")


def write_bigwig(track: dict[str, np.ndarray], chrom_sizes: dict[str, int], path: str) -> None:
    """bedGraph-style runs of equal value; assembly gaps (value 0 in N) are left without data."""
    import pyBigWig

    bw = pyBigWig.open(path, "w")
    bw.addHeader(list(chrom_sizes.items()), maxZooms=4)
    for chrom in chrom_sizes:
        starts, ends, run_values = value_runs(track[chrom])
        keep = run_values != 0.0
        bw.addEntries(
            [chrom] * int(keep.sum()),
            starts[keep].tolist(),
            ends=ends[keep].tolist(),
            values=run_values[keep].astype(np.float64).tolist(),
        )
    bw.close()


def write_hic(pixels: pd.DataFrame, chrom_sizes: dict[str, int], resolution: int, path: str) -> None:
    """A Juicer .hic (observed counts only: hictkpy writes no normalisation vectors)."""
    import hictkpy

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmpdir:
        writer = hictkpy.hic.FileWriter(path, chrom_sizes, resolution, "demo", tmpdir=tmpdir)
        for chrom, chunk in pixels.groupby("chrom", sort=False):
            writer.add_pixels(
                pd.DataFrame(
                    {
                        "chrom1": chrom,
                        "start1": chunk["bin1"] * resolution,
                        "end1": np.minimum((chunk["bin1"] + 1) * resolution, chrom_sizes[chrom]),
                        "chrom2": chrom,
                        "start2": chunk["bin2"] * resolution,
                        "end2": np.minimum((chunk["bin2"] + 1) * resolution, chrom_sizes[chrom]),
                        "count": chunk["count"].astype(np.int32),
                    }
                )
            )
        writer.finalize()


def write_ctss(ctss: pd.DataFrame, path: str) -> None:
    """FANTOM5 per-library CTSS BED6 (gzipped): chrom, start, end, name, tag count, strand."""
    with gzip_text_writer(path) as out:
        ctss.to_csv(out, sep="\t", header=False, index=False)


def write_causal_bed(causal: pd.DataFrame, path: str) -> None:
    """BED6+4: the elements each gene's expected tags were computed from, with contributions."""
    bed = pd.DataFrame(
        {
            "chrom": causal["chrom"],
            "start": causal["start"],
            "end": causal["end"],
            "name": causal["target_gene"] + "|" + causal["element_id"],
            "score": np.clip(np.round(100 * np.log10(1 + causal["contribution"])), 0, 1000).astype(int),
            "strand": ".",
            "gene_id": causal["target_gene"],
            "kind": causal["kind"],
            "contribution": causal["contribution"].round(6),
            "contact": causal["contact"].round(6),
        }
    )
    with open(path, "w") as out:
        out.write("#" + "\t".join(bed.columns) + "\n")
        bed.sort_values(["chrom", "start"]).to_csv(out, sep="\t", header=False, index=False)
