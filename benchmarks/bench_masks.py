"""Masks benchmark: bytes per gene of each mask in masks.h5 at 200 kb windows, the projected total of
the paper run, write and read speed, and the continuous masks under other HDF5 filters.

    python benchmarks/bench_masks.py [--windows 40] [--files results/demo/models/*/*/masks.h5]

Realistic masks from real data, through the model's own Beta code (`models/beta_mask.py`):
- signals: K562 H3K27ac (`real/bigwig/coolbox_K562_H3K27ac_chr9_...bigwig`, 2 Mb, windows every
  50 kb; the same track 1 Mb away stands in for DNase), and K562 chr22 DHS and H3K27ac read counts
  of ABC's candidate regions (`real/abc_k562_chr22/*.bedgraph`, windows at ABC's gene TSSs); the
  Hi-C channel is ABC's power law per 5 kb bin, log10(x + 1) as the store has it;
- continuous masks: the Beta mean with the paper's signal Beta (`Seq2ExpConfig` defaults) and a
  sequence Beta from per-base logits N(0, sd): sd of an untrained generator (`mask_untrained`,
  measured on the paper's model) and sd 1 for a trained generator that moves every base
  (a pessimistic stand-in for `mask` and the hard model's `soft`);
- binary masks: the hard mask (the top 7% of the trained-like soft mask, as soft >= 0.5 selects
  ~7% in the paper), seq2exp-retrain's top 10% (`retrain_mask` of the stored 8-bit soft mask),
  and MACS3's peak mask (ABC's MACS2 DNase peaks at the chr22 windows).
`--files`: the same figures for existing masks.h5 files (e.g. the demo's), as stored.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyBigWig
import torch

from seq2exp.architectures import Seq2ExpConfig
from seq2exp.features.hic import powerlaw_contact
from seq2exp.models import build_model
from seq2exp.models.beta_mask import beta_product, force_mask, sequence_beta, signal_beta
from seq2exp.training.batches import retrain_mask
from seq2exp.training.masks import MaskFile, MaskWriter, quantise

REAL = Path("/work/shared/real")
HALF_WIDTH, CENTRAL, HIC_BIN = 100_000, 2000, 5000
PAPER_GENES, PAPER_CELLS = 18_377, 2
# The test genes (chr22, chrX), at most hg38's protein-coding genes there (about 440 and 840): the
# only genes whose untrained mask is stored (`ModelSpec.untrained_mask` in specs.MODEL_SPECS).
PAPER_TEST_GENES = 1_300
# Which realistic mask stands in for each stored mask of the paper run (per cell type).
PAPER_MASKS = {
    ("seq2exp-soft", "mask"): "soft (trained-like)",
    ("seq2exp-soft", "mask_untrained"): "soft (untrained)",
    ("seq2exp-hard", "soft"): "soft (trained-like)",
    ("seq2exp-hard", "mask"): "hard 7%",
    ("seq2exp-retrain", "mask"): "retrain 10%",
    ("macs3", "mask"): "macs3 peaks",
}
CONTINUOUS_FILTERS = {
    "float16, none (before)": dict(dtype=np.float16),
    "uint8, gzip 1": dict(compression="gzip", compression_opts=1),
    "uint8, gzip 4": dict(compression="gzip", compression_opts=4),
    "uint8, gzip 9": dict(compression="gzip", compression_opts=9),
    "uint8, lzf": dict(compression="lzf"),
    "uint8, scaleoffset + gzip 4": dict(scaleoffset=0, compression="gzip", compression_opts=4),
    "uint8, byte delta + gzip 1": dict(compression="gzip", compression_opts=1, delta=True),
    "uint8, byte delta + gzip 4": dict(compression="gzip", compression_opts=4, delta=True),
    "uint8, byte delta + gzip 9": dict(compression="gzip", compression_opts=9, delta=True),
}


def abc_bedgraph(name: str) -> pd.DataFrame:
    return pd.read_csv(
        next((REAL / "abc_k562_chr22").glob(f"Enhancers.{name}.*.bedgraph")),
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "value"],
    )


def per_base(table: pd.DataFrame, start: int, length: int, value: str = "value") -> np.ndarray:
    track = np.zeros(length, dtype=np.float32)
    inside = table[(table["end"] > start) & (table["start"] < start + length)]
    for row in inside.itertuples():
        track[max(row.start - start, 0) : min(row.end - start, length)] = getattr(row, value)
    return track


def hic_channel(length: int) -> np.ndarray:
    distance = np.abs(np.arange(length) - length // 2) // HIC_BIN * HIC_BIN
    return np.log10(powerlaw_contact(distance, gamma=1.0242, scale=5.9595) + 1).astype(np.float32)


def real_signals(n_windows: int) -> list[np.ndarray]:
    """(length, 3) signals in model order (H3K27ac, DNase, Hi-C), half from each source."""
    length, hic = 2 * HALF_WIDTH, hic_channel(2 * HALF_WIDTH)
    with pyBigWig.open(str(REAL / "bigwig/coolbox_K562_H3K27ac_chr9_4000000_6000000.hg19.bigwig")) as bw:
        centres = np.arange(4_100_000, 5_900_001, 50_000)

        def window(c):
            return np.nan_to_num(np.asarray(bw.values("chr9", int(c) - HALF_WIDTH, int(c) + HALF_WIDTH), np.float32))

        bigwig = [
            np.stack([window(c), window(centres[(i + len(centres) // 2) % len(centres)]), hic], -1)
            for i, c in enumerate(centres[: n_windows // 2])
        ]
    dhs, h3k27ac = abc_bedgraph("DHS"), abc_bedgraph("H3K27ac")
    tss = pd.read_csv(REAL / "abc_k562_chr22/GeneList.txt", sep="\t")["tss"]
    tss = tss[(tss > dhs["start"].min() + HALF_WIDTH) & (tss < dhs["end"].max() - HALF_WIDTH)]
    chosen = tss.iloc[np.linspace(0, len(tss) - 1, n_windows - len(bigwig)).astype(int)]
    abc = [
        np.stack([per_base(h3k27ac, t - HALF_WIDTH, length), per_base(dhs, t - HALF_WIDTH, length), hic], -1)
        for t in chosen
    ]
    peaks = pd.read_csv(
        REAL / "abc_k562_chr22/macs2_peaks.narrowPeak", sep="\t", header=None, usecols=[1, 2], names=["start", "end"]
    ).assign(value=1.0)
    peaks = peaks[peaks["end"] - peaks["start"] < 100_000]  # the first "peak" spans the centromere gap
    return bigwig + abc, [per_base(peaks, t - HALF_WIDTH, length) for t in chosen]


def untrained_logit_sd() -> float:
    """Per-base SD of the paper model's generator logits at initialisation (4 kb of random DNA)."""
    torch.manual_seed(0)
    model = build_model(
        "seq2exp_soft",
        {
            "d_model": 128,
            "n_layer": 4,
            "d_state": 16,
            "expand": 2,
            "central_region_bp": CENTRAL,
            "pooled_region_bp": CENTRAL,
            "n_features": 1,
        },
    )
    dna = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 4096)), 4).float()
    with torch.no_grad():
        return float(model.generator_logits(dna, model.dna_embed(dna)).std())


def soft_mask(signals: np.ndarray, logit_sd: float, rng: np.random.Generator) -> np.ndarray:
    cfg = Seq2ExpConfig()
    logits = torch.from_numpy(rng.normal(0, logit_sd, (1, len(signals), 2)).astype(np.float32))
    alpha, beta = beta_product(
        *sequence_beta(logits, cfg.beta_min),
        *signal_beta(torch.from_numpy(signals)[None], cfg.signal_b, cfg.signal_weights, cfg.beta_min, cfg.signal_scale),
        cfg.beta_form,
    )
    return force_mask(alpha / (alpha + beta), None, CENTRAL)[0].numpy()


def top_fraction(mask: np.ndarray, fraction: float) -> np.ndarray:
    return (mask >= np.quantile(mask, 1 - fraction)).astype(np.float32)


def realistic_masks(n_windows: int) -> dict[str, np.ndarray]:
    signals, peaks = real_signals(n_windows)
    rng = np.random.default_rng(0)
    sd = untrained_logit_sd()
    print(f"untrained generator logits: per-base SD {sd:.3f}")
    untrained = np.stack([soft_mask(s, sd, rng) for s in signals])
    trained = np.stack([soft_mask(s, 1.0, rng) for s in signals])
    stored_soft = torch.from_numpy(quantise(trained) / np.float32(255))
    return {
        "soft (untrained)": untrained,
        "soft (trained-like)": trained,
        "hard 7%": np.stack([top_fraction(m, 0.07) for m in trained]),
        "retrain 10%": retrain_mask(stored_soft, 0.1, CENTRAL, None).numpy(),
        "macs3 peaks": force_mask(torch.from_numpy(np.stack(peaks)), None, CENTRAL).numpy(),
    }


def measure(masks: dict[str, np.ndarray], workdir: Path) -> pd.DataFrame:
    """Per mask: stored bytes per gene, write and read speed through MaskWriter / MaskFile."""
    rows = []
    for name, values in masks.items():
        binary = set(np.unique(values)) <= {0.0, 1.0}
        path = workdir / "masks.h5"
        n = len(values)
        start = time.perf_counter()
        with MaskWriter(str(path), np.arange(n).astype(str), values.shape[1], {"m"} if binary else set()) as writer:
            for i in range(0, n, 8):
                writer.add(torch.arange(i, min(i + 8, n)), m=torch.from_numpy(values[i : i + 8]))
        write_s = time.perf_counter() - start
        with h5py.File(path, "r") as handle:
            stored = sum(handle["m"][key].id.get_storage_size() for key in handle["m"])
        start = time.perf_counter()
        with MaskFile(str(path)) as masks_file:
            back = masks_file["m"][:]
        read_s = time.perf_counter() - start
        error = float(np.abs(back - values).max())
        rows.append(
            dict(
                mask=name,
                encoding="intervals" if binary else "uint8-delta",
                ratio=float(values.mean()),
                bytes_per_gene=stored / n,
                max_error=error,
                write_genes_s=n / write_s,
                read_genes_s=n / read_s,
            )
        )
    return pd.DataFrame(rows)


def compare_filters(values: np.ndarray, workdir: Path) -> pd.DataFrame:
    """A continuous mask under each filter of CONTINUOUS_FILTERS, one chunk per gene in a file on
    disk (closed between writing and reading): bytes per gene, write and read speed."""
    rows, path = [], workdir / "filters.h5"
    for name, options in CONTINUOUS_FILTERS.items():
        options = dict(options)
        delta, dtype = options.pop("delta", False), options.pop("dtype", np.uint8)
        data = values.astype(np.float16) if dtype == np.float16 else quantise(values)
        start = time.perf_counter()
        with h5py.File(path, "w") as handle:
            stored = handle.create_dataset("m", shape=data.shape, dtype=dtype, chunks=(1, data.shape[1]), **options)
            for i, row in enumerate(data):
                stored[i] = np.diff(row, prepend=np.uint8(0)) if delta else row
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        with h5py.File(path, "r") as handle:
            for i in range(len(data)):
                row = handle["m"][i]
                if delta:
                    np.cumsum(row, dtype=np.uint8)
            size = handle["m"].id.get_storage_size()
        read_s = time.perf_counter() - start
        rows.append(
            dict(
                filter=name,
                bytes_per_gene=size / len(data),
                write_genes_s=len(data) / write_s,
                read_genes_s=len(data) / read_s,
            )
        )
    return pd.DataFrame(rows)


def file_figures(paths: list[str]) -> pd.DataFrame:
    rows = []
    for path in paths:
        with h5py.File(path, "r") as handle, MaskFile(path) as masks:
            for name in masks.names:
                stored = sum(handle[name][key].id.get_storage_size() for key in handle[name])
                rows.append(
                    dict(
                        file=path,
                        mask=name,
                        encoding=masks[name].encoding,
                        genes=len(masks.gene_ids),
                        length=masks.attrs["length"],
                        bytes_per_gene=stored / len(masks.gene_ids),
                        float16_bytes_per_gene=2 * masks.attrs["length"],
                    )
                )
    return pd.DataFrame(rows)


def stored_genes(mask: str) -> int:
    return PAPER_TEST_GENES if mask == "mask_untrained" else PAPER_GENES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=40, help="200 kb windows of real signal (half per source)")
    parser.add_argument("--files", nargs="*", default=[], help="existing masks.h5 files to report as stored")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pd.set_option("display.width", 200)
    masks = realistic_masks(args.windows)
    with tempfile.TemporaryDirectory() as workdir:
        figures = measure(masks, Path(workdir))
        filters = {
            name: compare_filters(masks[name], Path(workdir)) for name in ("soft (untrained)", "soft (trained-like)")
        }
    print(f"\n{args.windows} windows of {2 * HALF_WIDTH:,} bp, as MaskWriter stores them:")
    print(figures.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    per_gene = figures.set_index("mask")["bytes_per_gene"]
    paper = pd.DataFrame(
        [
            dict(
                model=model,
                mask=name,
                stand_in=stand_in,
                genes=stored_genes(name),
                bytes_per_gene=per_gene[stand_in],
                total_gb=per_gene[stand_in] * stored_genes(name) * PAPER_CELLS / 1e9,
            )
            for (model, name), stand_in in PAPER_MASKS.items()
        ]
    )
    before = 7 * 2 * 2 * HALF_WIDTH * PAPER_GENES * PAPER_CELLS  # seven float16 masks of every gene per cell type
    print(f"\npaper run, {PAPER_GENES:,} genes ({PAPER_TEST_GENES:,} test genes) x {PAPER_CELLS} cell types:")
    print(paper.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    print(
        f"all masks, the trained soft masks moving every base (the worst case): {paper['total_gb'].sum():.2f} GB "
        f"(float16 before: {before / 1e9:.1f} GB)"
    )
    as_untrained = paper["stand_in"].replace({"soft (trained-like)": "soft (untrained)"}).map(per_gene)
    print(
        f"all masks, the trained soft masks as variable as at initialisation: "
        f"{(as_untrained * paper['genes']).sum() * PAPER_CELLS / 1e9:.2f} GB"
    )
    for name, table in filters.items():
        print(f"\n{name} under other filters:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    if args.files:
        print("\nmasks.h5 files as stored:")
        print(file_figures(args.files).to_string(index=False, float_format=lambda v: f"{v:,.4g}"))


if __name__ == "__main__":
    main()
