"""seq2exp: raw public data -> per-gene features -> Seq2Exp models, metrics and regulatory elements.

snakemake --cores all --use-conda                          # the paper's run (config/config.yaml)
snakemake --cores all --configfile config/demo.yaml        # the offline demo
"""

import os
import re
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.0")

# This checkout's package, here and in every job: `script:` jobs are new interpreters that append
# Snakemake's paths to sys.path, after whatever seq2exp the environment offers first (such as the
# editable install of another checkout in a shared .venv), so PYTHONPATH puts ours in front.
# (--use-conda jobs drop PYTHONPATH, but their envs install no seq2exp: Snakemake's path is ours.)
PACKAGE_ROOT = str(Path(workflow.basedir) / "src")
sys.path.insert(0, PACKAGE_ROOT)
if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != PACKAGE_ROOT:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))


envvars:
    "PYTHONPATH",  # passed on to jobs of remote executors too


from seq2exp.config import config_values, training_settings, validate_config  # noqa: E402
from seq2exp.features.genome import genome_sizes, split_chromosomes  # noqa: E402
from seq2exp.inputs import sources  # noqa: E402
from seq2exp.training import specs  # noqa: E402

# The paper's run by default; a --configfile replaces it rather than merging into it, so a
# demo or user config never inherits the paper's cell types.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/genes.smk"
include: "workflow/rules/peaks.smk"
include: "workflow/rules/hic.smk"
include: "workflow/rules/store.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/inputs.tsv",
        rules.store_sequence.output,
        expand(rules.store_cell.output.store, cell=CELLS),
        rules.store_gene_table.output,
        evaluation_outputs(),
