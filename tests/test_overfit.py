"""A tiny Seq2Exp memorises a handful of demo genes: gradients reach every part of the model."""

import numpy as np
import pytest
import torch

from seq2exp.inputs.demo.simulation import simulate
from seq2exp.inputs.demo.spec import DemoSpec
from seq2exp.models import build_model, one_hot

CODES = np.full(256, 4, dtype=np.uint8)
CODES[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
HALF = 256  # window TSS +/- 256 bp


def _window(values: np.ndarray, centre: int, fill) -> np.ndarray:
    """values[centre - HALF : centre + HALF], padded with `fill` beyond the chromosome ends."""
    out = np.full(2 * HALF, fill, dtype=values.dtype)
    lo, hi = centre - HALF, centre + HALF
    src = values[max(lo, 0) : min(hi, len(values))]
    out[max(lo, 0) - lo : max(lo, 0) - lo + len(src)] = src
    return out


def demo_batch(demo, cell: str, n_genes: int) -> dict:
    """TSS-centred windows straight from the demo's in-memory output (Hi-C channel and features zero)."""
    genes = demo.genes.head(n_genes)
    codes, signals = [], []
    for gene in genes.itertuples():
        seq = np.frombuffer(demo.sequence[gene.chrom].encode(), dtype=np.uint8)
        codes.append(_window(CODES[seq], gene.tss, 4))
        tracks = [demo.tracks[cell][kind][gene.chrom] for kind in ("h3k27ac", "dnase")]
        channels = [_window(np.asarray(t, dtype=np.float32), gene.tss, 0.0) for t in tracks]
        signals.append(np.stack(channels + [np.zeros(2 * HALF, np.float32)], axis=-1))
    return {
        "dna": one_hot(torch.from_numpy(np.stack(codes))),
        "signals": torch.from_numpy(np.stack(signals)),
        "features": torch.zeros(len(genes), 9),
        "target": torch.tensor(np.log10(demo.cells[cell].tags[:n_genes] + 1.0), dtype=torch.float32),
    }


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from a second thread, and OpenMP threads spin badly when other
    processes share the two cores (2 threads: 40 s alone, over 3 min beside another job)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_tiny_seq2exp_overfits_demo_genes(one_thread):
    torch.manual_seed(0)
    demo = simulate(DemoSpec(seed=0))
    batch = demo_batch(demo, demo.cell_types[0], n_genes=6)
    assert batch["target"].std() > 0.1
    # no extra features: the prediction can only come through the masked sequence and signals
    model = build_model(
        "seq2exp_soft",
        {
            "d_model": 16,
            "n_layer": 2,
            "d_state": 8,
            "mlp_hidden": 32,
            "use_features": False,
            "central_region_bp": 64,
            "pooled_region_bp": 128,
        },
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    reached = {name: False for name, _ in model.named_parameters()}
    before = _eval_losses(model, batch)
    for _ in range(120):
        optimizer.zero_grad()
        loss, _ = model.loss(model(batch), batch["target"])
        loss.backward()
        for name, p in model.named_parameters():
            reached[name] |= bool(p.grad is not None and p.grad.abs().sum() > 0)
        optimizer.step()
    after = _eval_losses(model, batch)
    assert all(reached.values()), [n for n, ok in reached.items() if not ok]
    assert after["loss"] < before["loss"] / 10, (before, after)
    assert after["smooth_l1"] < before["smooth_l1"] / 100, (before, after)


def _eval_losses(model, batch) -> dict:
    """Deterministic losses (mask = Beta mean) of the whole batch."""
    model.eval()
    with torch.no_grad():
        _, metrics = model.loss(model(batch), batch["target"])
    model.train()
    return {k: v.item() for k, v in metrics.items()}
