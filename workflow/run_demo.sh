#!/usr/bin/env bash
# Quick start: set up the environment, then run the offline demo end to end.
# Extra arguments go to snakemake (e.g. -n for a dry run, --cores 4).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

snakemake --cores all --configfile config/demo.yaml "$@"
echo
echo "Demo finished. Results:        $REPO/results/demo/"
echo "Demo inputs and planted truth: $REPO/resources/demo/ (truth in resources/demo/truth/)"
