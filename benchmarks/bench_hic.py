"""Time one chromosome's band read (and ABC processing) per Hi-C reader.

    python benchmarks/bench_hic.py FILE RESOLUTION NORMALIZATION CHROM [MAX_DISTANCE_BP]

e.g. `python benchmarks/bench_hic.py ../shared/real/hic/igv-hic-straw_test_chr22.hic 5000 VC chr22`.
Readers that cannot open the file are reported and skipped.
"""

import sys
import time

from seq2exp.features import hic


def main(path: str, resolution: str, normalization: str, chrom: str, max_distance: str = "1000000") -> None:
    resolution_bp = int(resolution)
    readers = ["hicstraw", "hictkpy"] if path.partition("::")[0].endswith(".hic") else ["cooler", "hictkpy"]
    for reader in readers:
        try:
            matrix = hic.open_contact_matrix(path, resolution_bp, normalization, reader)
        except Exception as error:  # a benchmark reports and goes on
            print(f"{reader:9s} cannot open: {error}")
            continue
        started = time.perf_counter()
        band = matrix.band(chrom, int(max_distance) // resolution_bp)
        read = time.perf_counter() - started
        hic.abc_contacts(band, normalization)
        print(
            f"{reader:9s} {band.n_bins} bins x {band.values.shape[1]} diagonals: read {read:.3f} s, "
            f"with ABC processing {time.perf_counter() - started:.3f} s"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
