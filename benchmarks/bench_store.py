"""Store benchmark: build throughput, random-access reads, size and build memory at 200 kb windows.

    python benchmarks/bench_store.py [--genes 500] [--reads 300] [--workers N] [--workdir DIR]

A paper-scale synthetic set (the demo generator at 200 kb windows, 5 kb Hi-C bins, one cell type)
is written in the real formats, then:
- build: DNA/blacklist store and the cell store (signals, Hi-C, peaks), genes/s in one process and
  sharded over --workers processes (default: every core), peak RSS;
- read: one training sample (all channels) at random through the Dataset, against the direct path
  (FASTA + two bigWigs + a .hic query per sample) and the floor (the same bytes from memmapped,
  uncompressed arrays in the page cache);
- size: bytes per gene of the shared file and of the cell file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seq2exp.inputs.demo.simulation import simulate
from seq2exp.inputs.demo.spec import DemoPaths, DemoSpec
from seq2exp.inputs.demo.writers import write_demo
from seq2exp.models.runtime import tune_allocator

HALF_WIDTH, RESOLUTION = 100_000, 5000
CELL = "K562"
FEATURES = ["promoter_activity"]


def make_dataset(workdir: Path, n_genes: int) -> tuple[DemoPaths, pd.DataFrame]:
    spec = DemoSpec(
        seed=0,
        cell_types=(CELL,),
        cell_type_motifs={CELL: ("GATA1", "TAL1")},
        genes_per_chromosome={"chr1": n_genes // 2, "chr2": n_genes - n_genes // 2},
        window_half_width=HALF_WIDTH,
        central_region=2000,
        promoter_half_width=500,
        hic_resolution=RESOLUTION,
        gene_spacing=(20_000, 40_000),
        element_length=500,
        telomere_length=10_000,
    )
    demo = simulate(spec)
    files = {"dnase": "dnase.bigWig", "h3k27ac": "h3k27ac.bigWig", "hic": "contacts.hic", "cage": "ctss.bed.gz"}
    paths = DemoPaths(
        str(workdir / "genome.fa.gz"),
        str(workdir / "blacklist.bed"),
        str(workdir / "genes.csv"),
        str(workdir / "mrna.csv"),
        {CELL: {k: str(workdir / f) for k, f in files.items()}},
        str(workdir / "truth"),
    )
    write_demo(demo, paths)
    return paths, demo.genes[["gene_id", "chrom", "tss", "strand"]].assign(target=0.0, promoter_activity=1.0)


def _build(workdir: str, paths: DemoPaths, genes: pd.DataFrame, queue, workers: int) -> None:
    """Runs in a fresh process so that its peak RSS is the build's own; the stores are read by
    `workers` processes (rows_in_order)."""
    from seq2exp.features.genes import read_blacklist
    from seq2exp.features.genome import genome_sizes
    from seq2exp.features.hic import per_base_contact, tss_contact_profiles
    from seq2exp.features.store import build_cell_store, build_sequence_store
    from seq2exp.inputs.unpack import prepare_genome

    tune_allocator()
    fasta = f"{workdir}/genome.fa"
    prepare_genome(paths.fasta, fasta)
    timings = {}
    start = time.perf_counter()
    blacklist = read_blacklist(paths.blacklist, genome_sizes(fasta))
    build_sequence_store(f"{workdir}/store/sequence.h5", genes, fasta, blacklist, HALF_WIDTH, False, workers)
    timings["sequence store"] = time.perf_counter() - start
    start = time.perf_counter()
    profiles = tss_contact_profiles(
        paths.cell_types[CELL]["hic"], genes, HALF_WIDTH, RESOLUTION, "VC", fit_max_distance=1_000_000
    ).table
    by_gene = dict(tuple(profiles.groupby("gene_id", sort=False)))
    timings["Hi-C contacts"] = time.perf_counter() - start
    start = time.perf_counter()
    peaks = pd.DataFrame(columns=["chrom", "start", "end"])
    build_cell_store(
        f"{workdir}/store/{CELL}.h5",
        genes,
        FEATURES,
        paths.cell_types[CELL]["dnase"],
        paths.cell_types[CELL]["h3k27ac"],
        lambda g: per_base_contact(by_gene[g.gene_id], g.tss, HALF_WIDTH, RESOLUTION),
        peaks,
        HALF_WIDTH,
        False,
        workers,
    )
    timings["cell store"] = time.perf_counter() - start
    timings["peak RSS MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(timings)


def build_in_fresh_process(workdir: Path, paths: DemoPaths, genes: pd.DataFrame, workers: int) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_build, args=(str(workdir), paths, genes, queue, workers))
    process.start()
    timings = queue.get()
    process.join()
    return timings


def direct_sample(fasta, dnase, h3k27ac, hic, gene) -> dict:
    """One sample read straight from the sources (the Hi-C row queried per sample)."""
    from seq2exp.features.genome import window_codes

    start, end = gene.tss - HALF_WIDTH, gene.tss + HALF_WIDTH
    tss_bin = gene.tss // RESOLUTION * RESOLUTION
    zoom = hic.getMatrixZoomData(gene.chrom, gene.chrom, "observed", "NONE", "BP", RESOLUTION)
    records = zoom.getRecords(max(start, 0), end, tss_bin, tss_bin)
    hic_bins = {max(r.binX, r.binY): r.counts for r in records}
    positions = np.arange(start, end) // RESOLUTION * RESOLUTION
    contact = np.log10(np.array([hic_bins.get(p, 0.0) for p in positions[::RESOLUTION]]) + 1)
    return {
        "dna": window_codes(fasta, gene.chrom, gene.tss, HALF_WIDTH),
        "signals": np.stack(
            [
                h3k27ac.window(gene.chrom, gene.tss, HALF_WIDTH),
                dnase.window(gene.chrom, gene.tss, HALF_WIDTH),
                np.repeat(contact, RESOLUTION)[: end - start],
            ]
        ),
    }


def time_reads(read, indices) -> tuple[float, float]:
    latencies = []
    for i in indices:
        start = time.perf_counter()
        read(int(i))
        latencies.append(time.perf_counter() - start)
    return statistics.median(latencies) * 1e3, len(indices) / sum(latencies)


def memmap_floor(workdir: Path, data, n: int) -> tuple[float, float]:
    """The same bytes per sample from uncompressed memmapped arrays, page cache warm."""
    length = 2 * HALF_WIDTH
    packed = -(-length // 8)
    arrays = {
        "dna": (np.uint8, (n, length)),
        "blacklist": (np.uint8, (n, packed)),
        "signals": (np.float16, (n, 3, length)),
        "peaks": (np.uint8, (n, packed)),
    }
    maps = {}
    for name, (dtype, shape) in arrays.items():
        maps[name] = np.lib.format.open_memmap(str(workdir / f"{name}.npy"), "w+", dtype, shape)
    for i in range(n):
        item = data[i]
        for name in arrays:
            maps[name][i] = np.packbits(item[name]) if name in ("blacklist", "peaks") else item[name]
    for m in maps.values():
        m.flush()
    maps = {name: np.load(workdir / f"{name}.npy", mmap_mode="r") for name in arrays}
    for m in maps.values():
        np.asarray(m).sum()  # warm the page cache
    return lambda i: {name: np.array(m[i]) for name, m in maps.items()}  # the same bytes, copied out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genes", type=int, default=500)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes per store build")
    args = parser.parse_args()
    tune_allocator()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_store."))
    start = time.perf_counter()
    paths, genes = make_dataset(workdir, args.genes)
    print(
        f"synthetic set: {len(genes)} genes, 200 kb windows, written in {time.perf_counter() - start:.0f} s "
        f"to {workdir}"
    )

    runs = {workers: build_in_fresh_process(workdir, paths, genes, workers) for workers in sorted({1, args.workers})}
    n = len(genes)
    for workers, timings in runs.items():
        print(f"\n== build, stores sharded over {workers} process(es) ==")
        for name in ("sequence store", "Hi-C contacts", "cell store"):
            print(f"{name:16s} {timings[name]:8.1f} s  {n / timings[name]:8.1f} genes/s")
        print(f"peak RSS {timings['peak RSS MiB']:.0f} MiB (the parent; each worker holds one window at a time)")
    one, many = runs[1], runs[args.workers]
    for name in ("sequence store", "cell store"):
        print(f"{name}: {one[name] / many[name]:.2f}x faster over {args.workers} processes")
    hic_share = one["Hi-C contacts"] / n
    # The sequence job, then both cell types side by side, each sharding its store over its threads.
    per_gene = {w: (t["sequence store"] + t["cell store"]) / n for w, t in runs.items()}
    print(
        f"projected, 18,377 genes x 2 cell types on 16 cores: one process per store "
        f"{18_377 * (per_gene[1] + hic_share) / 60:.0f} min; sharded as measured here ({args.workers} "
        f"processes per store) {18_377 * (per_gene[args.workers] + hic_share) / 60:.0f} min; "
        f"at 8 processes per cell store (linear from the 1-process rate) "
        f"{18_377 * (one['sequence store'] / 16 + one['cell store'] / 8 + one['Hi-C contacts']) / n / 60:.0f} min"
    )

    store = workdir / "store"
    sizes = {p.name: p.stat().st_size for p in store.glob("*.h5")}
    print("\n== size ==")
    print(f"sequence.h5  {sizes['sequence.h5'] / n / 1e6:.2f} MB per gene (shared by cell types)")
    print(f"{CELL}.h5      {sizes[f'{CELL}.h5'] / n / 1e6:.2f} MB per gene per cell type")
    print(
        f"paper scale: {18_377 * (sizes['sequence.h5'] + 2 * sizes[f'{CELL}.h5']) / n / 1e9:.1f} GB "
        "for 18,377 genes x 2 cell types"
    )

    import hicstraw
    import pyfaidx

    from seq2exp.features.bigwig import Track
    from seq2exp.training.dataset import GeneWindows

    data = GeneWindows(str(store), CELL)
    rng = np.random.default_rng(0)
    indices = rng.integers(0, n, args.reads)
    for i in range(n):  # warm the page cache, as a training epoch would
        data[i]
    print("\n== random-access read of one sample (all channels, 200 kb), one worker ==")
    rows = [("store (HDF5 Dataset)", *time_reads(data.__getitem__, indices))]
    fasta = pyfaidx.Fasta(str(workdir / "genome.fa"), as_raw=True)
    dnase, h3k27ac = Track(paths.cell_types[CELL]["dnase"]), Track(paths.cell_types[CELL]["h3k27ac"])
    hic = hicstraw.HiCFile(paths.cell_types[CELL]["hic"])
    gene_rows = list(genes.itertuples())
    rows.append(
        (
            "direct: FASTA + bigWig + .hic",
            *time_reads(lambda i: direct_sample(fasta, dnase, h3k27ac, hic, gene_rows[i]), indices),
        )
    )
    rows.append(("floor: memmap, page cache", *time_reads(memmap_floor(workdir, data, n), indices)))
    for name, median_ms, rate in rows:
        print(f"{name:32s} median {median_ms:7.2f} ms   {rate:8.0f} samples/s")
    store_rate, direct_rate, floor_rate = rows[0][2], rows[1][2], rows[2][2]
    print(
        f"store vs direct: {store_rate / direct_rate:.1f}x faster; store vs floor: "
        f"{floor_rate / store_rate:.2f}x slower (targets: >= 400 samples/s, >= 5x direct, within 2x of floor)"
    )


if __name__ == "__main__":
    main()
