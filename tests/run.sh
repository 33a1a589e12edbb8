#!/usr/bin/env bash
# Run the test suite (sets up the environment first). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../workflow/setup_env.sh"

python -m pytest tests "$@"
