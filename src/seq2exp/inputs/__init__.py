"""The input stage: sources (downloads, checksums, genome preparation), annotations, the inputs report
(checks) and the offline demo. Imports no torch (tests/test_envs.py)."""
