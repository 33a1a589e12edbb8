"""The ENCODE CRISPRi enhancer-gene benchmark table (EngreitzLab/CRISPR_comparison,
`EPCrisprBenchmark_*.tsv.gz`), read and checked: the input checks and the rule `crispri` read it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..files import check_intervals, nonnegative_integers, read_text_table

REQUIRED_COLUMNS = [
    "chrom",
    "chromStart",
    "chromEnd",
    "measuredGeneSymbol",
    "measuredGeneEnsemblId",
    "Regulated",
    "ValidConnection",
    "CellType",
]
BOOLEANS = {"TRUE": True, "FALSE": False, "True": True, "False": False, "1": True, "0": False}


def read_crispri(path: str) -> pd.DataFrame:
    """The benchmark table (plain or gzipped TSV) with its columns checked and typed."""
    table = read_text_table(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; expected the EPCrisprBenchmark layout with at "
            f"least {REQUIRED_COLUMNS}"
        )
    for column in ("chromStart", "chromEnd"):
        table[column] = nonnegative_integers(table[column], path, column)
    for column in ("Regulated", "ValidConnection"):
        bad = ~table[column].isin(BOOLEANS)
        if bad.any():
            raise ValueError(
                f"{path}: column {column} must be TRUE or FALSE; row "
                f"{int(np.flatnonzero(bad)[0]) + 1} has {table[column][bad].iloc[0]!r}"
            )
        table[column] = table[column].map(BOOLEANS).astype(bool)
    check_intervals(table, path, "chromStart", "chromEnd")
    return table
