"""The input stage: sources (config keys -> local files), downloads, format checks, unpacking (zip
members, the genome), annotations, the inputs report (checks) and the offline demo. Imports no
torch (tests/test_envs.py)."""
