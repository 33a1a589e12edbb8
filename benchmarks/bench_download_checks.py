"""What the format check adds to a download: seconds per file and throughput of `format_problem`
on a gzipped FASTA (decompressed whole to its checksum) and a bigWig (signature and indexes).

    python benchmarks/bench_download_checks.py [--megabases 200]

hg38.fa.gz decompresses to 3.1 GB: scale the FASTA figure by 3100 / megabases.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig

from seq2exp.inputs.formats import format_problem


def timed(path: Path, kind: str) -> float:
    start = time.perf_counter()
    problem = format_problem(str(path), kind)
    elapsed = time.perf_counter() - start
    assert problem is None, problem
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabases", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        fasta = Path(folder) / "genome.fa.gz"
        line = 60
        with gzip.open(fasta, "wb", compresslevel=6) as out:
            out.write(b">chr1\n")
            for _ in range(args.megabases):
                bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 1_000_000)].tobytes()
                out.write(b"\n".join(bases[i : i + line] for i in range(0, len(bases), line)) + b"\n")
        seconds = timed(fasta, "fasta")
        print(
            f"gzipped FASTA, {args.megabases} Mb ({fasta.stat().st_size / 1e6:.0f} MB compressed): {seconds:.2f} s, "
            f"{args.megabases / seconds:.0f} Mb/s -> about {3100 / args.megabases * seconds:.0f} s for hg38.fa.gz"
        )
        bigwig = Path(folder) / "signal.bigWig"
        handle = pyBigWig.open(str(bigwig), "w")
        handle.addHeader([("chr1", 50_000_000)], maxZooms=10)
        handle.addEntries("chr1", 0, values=rng.random(1_000_000).tolist(), span=50, step=50)
        handle.close()
        print(f"bigWig, {bigwig.stat().st_size / 1e6:.0f} MB: {timed(bigwig, 'bigwig') * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
