"""Mask-track benchmark: time and size of the soft-mask bigWig and the element BED at 200 kb windows.

    python benchmarks/bench_tracks.py [--genes 100] [--workdir DIR]

Two kinds of mask over the same genes (random TSSs on one chromosome, both strands, windows
flipped back): `continuous`, a different value at every base (a Beta(0.2, 2) draw per base: the
worst case, written base by base), and `elements`, flat 0 with 20 elements of 500 bp per gene
(a trained mask's shape, written as runs). Prints seconds, bigWig bytes per covered base, BED
records and peak RSS; the paper has 18,377 genes.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import pandas as pd

from seq2exp.evaluation.tracks import mask_elements, write_mask_bed, write_mask_bigwig

HALF_WIDTH = 100_000
ELEMENTS_PER_GENE, ELEMENT_LENGTH = 20, 500


def masks_of(kind: str, n_genes: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "continuous":
        return rng.beta(0.2, 2.0, (n_genes, 2 * HALF_WIDTH)).astype(np.float32)
    masks = np.zeros((n_genes, 2 * HALF_WIDTH), dtype=np.float32)
    for mask in masks:
        for start in rng.integers(0, 2 * HALF_WIDTH - ELEMENT_LENGTH, ELEMENTS_PER_GENE):
            mask[start : start + ELEMENT_LENGTH] = rng.uniform(0.5, 1.0)
    return masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=100)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    chrom_size = args.genes * 600_000
    genes = pd.DataFrame(
        {
            "gene_id": [f"G{i}" for i in range(args.genes)],
            "chrom": "chr1",
            "tss": rng.integers(HALF_WIDTH, chrom_size - HALF_WIDTH, args.genes),
            "strand": rng.choice(["+", "-"], args.genes),
        }
    )
    starts = np.sort(genes["tss"].to_numpy()) - HALF_WIDTH
    covered = np.sum(np.minimum(np.diff(starts, append=starts[-1] + 2 * HALF_WIDTH), 2 * HALF_WIDTH))
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        for kind in ("continuous", "elements"):
            masks = masks_of(kind, args.genes, rng)
            bigwig = os.path.join(workdir, f"{kind}.bw")
            start = time.perf_counter()
            write_mask_bigwig(genes, masks, HALF_WIDTH, True, {"chr1": chrom_size}, bigwig)
            bigwig_s = time.perf_counter() - start
            start = time.perf_counter()
            elements = mask_elements(genes, masks, HALF_WIDTH, True, {"chr1": chrom_size})
            write_mask_bed(elements, os.path.join(workdir, f"{kind}.bed"))
            bed_s = time.perf_counter() - start
            print(
                f"{kind:>10}: {args.genes} genes, {covered / 1e6:.1f} Mb covered: bigWig {bigwig_s:.1f} s, "
                f"{os.path.getsize(bigwig) / covered:.2f} bytes/base; BED {bed_s:.1f} s, {len(elements)} records"
            )
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        f"(masks {masks.nbytes / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
