"""Failures a user can act on and interruptions that leave nothing behind: tracebacks in logs,
errors naming the file, float16 clipping, killed writers, byte-reproducible outputs."""

import gzip
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from test_bigwig import write_bigwig

from seq2exp.features.genes import chromosome_names
from seq2exp.features.peaks import PeakSettings, call_peaks
from seq2exp.features.store import build_cell_store, build_sequence_store
from seq2exp.features.targets import read_ctss
from seq2exp.files import scratch_dir, write_tsv
from seq2exp.inputs.demo.writers import write_ctss, write_fasta_gz
from seq2exp.inputs.unpack import prepare_genome

FLOAT16_MAX = 65504.0


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


# --- errors reach the log and name the file -------------------------------------------------


def test_uncaught_error_reaches_the_log_file(tmp_path):
    log = tmp_path / "logs" / "step.log"
    result = run_python(f"""
        from seq2exp.logs import log_to
        log_to({str(log)!r})
        def step():
            raise ValueError("genes.csv: missing column(s) ['TSS']")
        step()
    """)
    assert result.returncode != 0
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in step" in text
    assert "ValueError: genes.csv: missing column(s) ['TSS']" in text
    assert "ValueError: genes.csv" in result.stderr  # still on stderr too


def random_fasta(length: int = 20_000) -> bytes:
    bases = np.random.default_rng(0).choice(list("ACGT"), length)
    return (">chr1\n" + "".join(bases) + "\n").encode()


def test_truncated_gzipped_fasta_is_named(tmp_path):
    source = tmp_path / "in.fa.gz"
    source.write_bytes(gzip.compress(random_fasta())[:-200])
    with pytest.raises(ValueError, match=f"{source}: truncated or corrupt gzip"):
        prepare_genome(str(source), str(tmp_path / "genome" / "genome.fa"))
    assert list((tmp_path / "genome").iterdir()) == []


@pytest.mark.parametrize("gzipped", [False, True])
def test_empty_ctss_is_named_wherever_it_is_read(tmp_path, gzipped):
    path = tmp_path / ("c.ctss.bed.gz" if gzipped else "c.ctss.bed")
    path.write_bytes(gzip.compress(b"") if gzipped else b"")
    with pytest.raises(ValueError, match=f"{path}: the file is empty"):
        read_ctss(str(path))
    with pytest.raises(ValueError, match=f"{path}: the file is empty"):
        chromosome_names("ctss", str(path))


def test_truncated_gzipped_ctss_is_named(tmp_path):
    path = tmp_path / "c.ctss.bed.gz"
    rows = "".join(f"chr1\t{i}\t{i + 1}\tx\t{i % 7 + 1}\t+\n" for i in range(0, 20_000, 3))
    path.write_bytes(gzip.compress(rows.encode())[:-100])
    with pytest.raises(ValueError, match=f"{path}: truncated or corrupt gzip"):
        read_ctss(str(path))


# --- float16 storage ------------------------------------------------------------------------


def build_two_gene_store(store, dnase, h3k27ac) -> None:
    """A cell store of two genes on chr1 (TSS 100 and 500), windows of 100 bp, from these bigWigs."""
    genes = pd.DataFrame(
        {
            "gene_id": ["g1", "g2"],
            "chrom": ["chr1", "chr1"],
            "tss": [100, 500],
            "strand": ["+", "+"],
            "target": [1.0, 2.0],
            "f": [0.0, 0.0],
        }
    )
    no_blacklist = pd.DataFrame(columns=["chrom", "start", "end"])
    build_cell_store(
        str(store), genes, ["f"], dnase, h3k27ac, lambda g: np.zeros(100, np.float32), no_blacklist, 50, False
    )


def test_signal_above_float16_range_is_clipped_and_counted(tmp_path, caplog):
    sizes = {"chr1": 1000}
    dnase = write_bigwig(tmp_path / "d.bw", sizes, [("chr1", 100, 110, 1e5), ("chr1", 110, 120, 7.0)])
    h3k27ac = write_bigwig(tmp_path / "h.bw", sizes, [("chr1", 0, 1000, 1.0)])
    store = tmp_path / "K562.h5"
    with caplog.at_level(logging.WARNING):
        build_two_gene_store(store, dnase, h3k27ac)
    with h5py.File(store) as handle:
        signals = handle["signals"][:]
    assert np.isfinite(signals).all()
    assert signals[0, 1, 50:60].tolist() == [FLOAT16_MAX] * 10 and signals[0, 1, 60] == 7.0
    assert f"{store}: 10 signal values beyond float16's range (|x| > 65504) clipped" in caplog.text


def test_nan_and_missing_bigwig_bases_are_counted_per_file(tmp_path, caplog):
    sizes = {"chr1": 1000}
    dnase = write_bigwig(
        tmp_path / "d.bw", sizes, [("chr1", 0, 90, 1.0), ("chr1", 90, 120, float("nan")), ("chr1", 120, 1000, 1.0)]
    )
    h3k27ac = write_bigwig(tmp_path / "h.bw", sizes, [("chr1", 0, 480, 1.0)])  # no data from 480 on
    store = tmp_path / "K562.h5"
    with caplog.at_level(logging.INFO, logger="seq2exp.features.store"):
        build_two_gene_store(store, dnase, h3k27ac)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{dnase}: 30 bases of the genes' windows hold NaN values, read as 0 ({store})"]
    assert f"{h3k27ac}: 70 bases of the genes' windows have no data, read as 0" in caplog.text
    with h5py.File(store) as handle:
        assert np.isfinite(handle["signals"][:]).all()


# --- interrupted runs -----------------------------------------------------------------------


def killed_during(code: str) -> None:
    """Run `code` in a child process that SIGKILLs itself where the code calls `die()`."""
    result = run_python(
        "import os, signal\ndef die():\n    os.kill(os.getpid(), signal.SIGKILL)\n" + textwrap.dedent(code)
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_store_killed_mid_write_leaves_nothing_after_a_rerun(tmp_path):
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 250 + "\n")
    genes = pd.DataFrame({"gene_id": ["a", "b", "c"], "chrom": "chr1", "tss": [100, 400, 700], "strand": "+"})
    genes.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    store = tmp_path / "store" / "sequence.h5"
    killed_during(f"""
        import pandas as pd
        from seq2exp.features import store
        codes = store.window_codes
        def dying(*args):
            die() if args[2] == 400 else None
            return codes(*args)
        store.window_codes = dying
        store.build_sequence_store({str(store)!r}, pd.read_csv({str(tmp_path / "genes.tsv")!r}, sep="\\t"),
                                   {str(fasta)!r}, pd.DataFrame(columns=["chrom", "start", "end"]), 50, False)
    """)
    assert os.listdir(store.parent) != []  # the killed job left its temporary file
    build_sequence_store(str(store), genes, str(fasta), pd.DataFrame(columns=["chrom", "start", "end"]), 50, False)
    assert sorted(os.listdir(store.parent)) == ["sequence.h5", "sequence.h5.sha256"]


def test_peak_call_killed_mid_way_leaves_nothing_after_a_rerun(tmp_path):
    bigwig = write_bigwig(tmp_path / "d.bw", {"chr1": 2000}, [("chr1", 100, 400, 9.0), ("chr1", 400, 2000, 1.0)])
    out = tmp_path / "K562" / "dnase_peaks.narrowPeak"
    settings = PeakSettings(cutoff=2.0, min_length=20, max_gap=10)
    killed_during(f"""
        from seq2exp.features import peaks
        peaks.bdgpeakcall = lambda *args: die()
        peaks.call_peaks({bigwig!r}, {str(out)!r}, peaks.{settings!r})
    """)
    assert os.listdir(out.parent) != []
    calls = call_peaks(bigwig, str(out), settings)
    assert calls.peaks[["start", "end"]].values.tolist() == [[100, 400]]
    assert os.listdir(out.parent) == ["dnase_peaks.narrowPeak"]


def test_two_runs_sharing_an_output_folder_keep_their_scratch_folders_apart(tmp_path):
    out = tmp_path / "K562" / "dnase_peaks.narrowPeak"
    with scratch_dir(str(out), "macs3") as first:
        (Path(first) / "score.bdg").write_text("chr1\t0\t10\t1.0\n")
        with scratch_dir(str(out), "macs3") as second:  # another working directory's job, meanwhile
            assert second != first and (Path(first) / "score.bdg").exists()
        assert (Path(first) / "score.bdg").exists()
    assert os.listdir(out.parent) == []


# --- byte-reproducible outputs --------------------------------------------------------------


def gzip_header_is_anonymous(path) -> bool:
    """No file name (FNAME flag, bit 3) and no modification time in the gzip header."""
    header = open(path, "rb").read(10)
    return header[:2] == b"\x1f\x8b" and not header[3] & 0x08 and header[4:8] == b"\0\0\0\0"


def write_outputs(folder, fasta):
    genes = pd.DataFrame(
        {
            "gene_id": ["a", "b"],
            "chrom": "chr1",
            "tss": [100, 400],
            "strand": ["+", "-"],
            "target": [1.0, 2.0],
            "f": [0.5, 0.25],
        }
    )
    write_tsv(genes, str(folder / "hic_contact.tsv.gz"))
    write_fasta_gz({"chr1": "ACGT" * 250}, str(folder / "genome.fa.gz"))
    write_ctss(
        pd.DataFrame({"chrom": ["chr1"], "start": [5], "end": [6], "name": ["x"], "count": [3], "strand": ["+"]}),
        str(folder / "c.ctss.bed.gz"),
    )
    nothing = pd.DataFrame(columns=["chrom", "start", "end"])
    build_sequence_store(str(folder / "sequence.h5"), genes, str(fasta), nothing, 50, True)
    bigwig = write_bigwig(folder / "d.bw", {"chr1": 1000}, [("chr1", 0, 1000, 2.0)])
    build_cell_store(
        str(folder / "K562.h5"), genes, ["f"], bigwig, bigwig, lambda g: np.ones(100, np.float32), nothing, 50, True
    )


def test_data_outputs_are_byte_reproducible(tmp_path):
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 250 + "\n")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    write_outputs(first, fasta)
    time.sleep(1.1)  # gzip and HDF5 timestamps have one-second resolution
    write_outputs(second, fasta)
    for name in ("hic_contact.tsv.gz", "genome.fa.gz", "c.ctss.bed.gz"):
        assert gzip_header_is_anonymous(first / name), name
    for name in ("hic_contact.tsv.gz", "genome.fa.gz", "c.ctss.bed.gz", "sequence.h5", "K562.h5"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
