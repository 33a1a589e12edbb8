#!/usr/bin/env bash
# Linters and formatter checks, as CI runs them: tests/run.sh runs this before pytest. Expects the
# tools pinned in workflow/envs/dev.yaml on PATH (workflow/setup_env.sh puts them there). Runs every
# check, prints the output of those that fail and exits 1 naming them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
check() {
    local name="$1" output
    shift
    if ! output="$("$@" 2>&1)"; then
        printf '%s\n' "$output" >&2
        echo "lint: $name failed" >&2
        failed+=("$name")
    fi
}

check "ruff check" ruff check --quiet .
check "ruff format --check" ruff format --check --quiet .
check "snakefmt --check" snakefmt --check Snakefile workflow/rules
# --lint checks the rules a config defines (the demo's rules exist only under config/demo.yaml);
# it runs in a scratch directory so that it leaves nothing in the checkout.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for config in config/demo.yaml config/config.yaml config/rehearsal.yaml; do
    check "snakemake --lint ($config)" snakemake --lint --snakefile "$PWD/Snakefile" \
        --configfile "$PWD/$config" --directory "$scratch"
done

if [ ${#failed[@]} -gt 0 ]; then
    printf 'lint: failed: %s\n' "${failed[@]}" >&2
    echo "lint: ruff check --fix, ruff format and snakefmt Snakefile workflow/rules fix most findings" >&2
    exit 1
fi
