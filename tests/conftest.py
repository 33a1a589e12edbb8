import gzip
import os
from pathlib import Path

import pytest
import torch

# Our Triton kernels run on CPU tensors only in Triton's interpreter, which must be chosen before triton
# is first imported (it decides how @triton.jit builds kernels). With a GPU the same tests run compiled.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from seq2exp.inputs.demo.simulation import simulate
from seq2exp.inputs.demo.spec import DemoPaths, DemoSpec
from seq2exp.inputs.demo.writers import write_demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_demo():
    """18 genes on the paper's chromosomes, 2 kb windows, both cell types."""
    return simulate(DemoSpec(seed=11))


@pytest.fixture(scope="session")
def tiny_demo_paths(tiny_demo, tmp_path_factory) -> DemoPaths:
    root = tmp_path_factory.mktemp("demo")
    paths = DemoPaths(
        fasta=str(root / "genome.fa.gz"),
        blacklist=str(root / "blacklist.bed"),
        gene_table=str(root / "gene_expression.csv"),
        mrna_features=str(root / "mRNA_halflife_features.csv"),
        cell_types={
            cell: {
                "dnase": str(root / f"{cell}.dnase.bigWig"),
                "h3k27ac": str(root / f"{cell}.h3k27ac.bigWig"),
                "hic": str(root / f"{cell}.hic"),
                "cage": str(root / f"{cell}.ctss.bed.gz"),
            }
            for cell in tiny_demo.cell_types
        },
        truth_dir=str(root / "truth"),
    )
    write_demo(tiny_demo, paths)
    return paths


@pytest.fixture(scope="session")
def demo_size_demo():
    """The demo config's genes (640) in memory: big enough for statistics on the test genes."""
    from seq2exp.config import load_config
    from seq2exp.inputs.demo.spec import spec_from_config

    return simulate(spec_from_config(load_config(REPO / "config" / "demo.yaml")))


@pytest.fixture(scope="module")
def fasta_path(tiny_demo_paths, tmp_path_factory):
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    with gzip.open(tiny_demo_paths.fasta) as src:
        path.write_bytes(src.read())
    import pyfaidx

    pyfaidx.Faidx(str(path)).close()
    return str(path)
