"""The feature stage: genome windows, bigWig signals, Hi-C contacts, DNase peaks, the gene table, CAGE
targets, promoter activity and the per-gene store. Imports no torch (tests/test_envs.py)."""
