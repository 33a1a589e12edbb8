"""The offline demo: a small synthetic genome with planted regulatory biology (`simulation`),
written in the formats of the real sources (`writers`) where the config names them (`spec`).
Kept light: the Snakefile imports `spec` in the pipeline env."""
