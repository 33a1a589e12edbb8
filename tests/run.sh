#!/usr/bin/env bash
# Run the linters (tests/lint.sh), then the test suite (sets up the environment first). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../workflow/setup_env.sh"

bash tests/lint.sh
python -m pytest tests "$@"
