#!/usr/bin/env bash
# Sourced by workflow/run_demo.sh and tests/run.sh: makes sure the Debian packages, the
# virtual environment (.venv, or $SEQ2EXP_VENV) and the pinned Python packages are in place.
# The pins are the pip: sections of workflow/envs/*.yaml, so the conda envs and this venv agree.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SEQ2EXP_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

missing_debian_packages() {
    local missing=()
    command -v gcc >/dev/null && command -v g++ >/dev/null || missing+=(build-essential)
    command -v bedtools >/dev/null || missing+=(bedtools)
    compgen -G "/usr/include/*curl/curl.h" >/dev/null || compgen -G "/usr/include/*/curl/curl.h" >/dev/null \
        || missing+=(libcurl4-openssl-dev)
    [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || missing+=(python3-dev)
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    echo "${missing[@]}"
}

install_debian_packages() {
    local missing
    missing="$(missing_debian_packages)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "seq2exp needs these Debian packages; install them, then run this command again:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y $missing" >&2
        exit 1
    fi
    echo "Installing Debian packages: $missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

pinned_requirements() {
    # The '- name==version' lines of every env file's pip: section.
    "$PYTHON" - "$REPO"/workflow/envs/*.yaml <<'PY'
import re, sys
pins = {}
for path in sys.argv[1:]:
    in_pip = False
    for line in open(path):
        if re.match(r"^\s*-\s*pip:\s*$", line):
            in_pip = True
            continue
        match = re.match(r"^\s+-\s*([A-Za-z0-9_.\-\[\]]+==[^\s#]+)", line)
        if in_pip and match:
            name = match.group(1).split("==")[0].lower()
            if pins.setdefault(name, match.group(1)) != match.group(1):
                sys.exit(f"{path}: {match.group(1)} conflicts with {pins[name]} in another env file")
        elif in_pip and line.strip() and not line.strip().startswith("#"):
            in_pip = False
print("\n".join(sorted(pins.values())))
PY
}

install_python_packages() {
    local requirements stamp
    requirements="$(pinned_requirements)"
    stamp="$(printf '%s\n' "$requirements" | cat - "$REPO/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.seq2exp-stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    echo "Setting up the Python environment in $VENV (first run: several minutes) ..." >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    printf '%s\n' "$requirements" > "$VENV/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet -r "$VENV/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO"
    echo "$stamp" > "$VENV/.seq2exp-stamp"
}

install_debian_packages
install_python_packages
export PATH="$VENV/bin:$PATH"
# glibc returns large freed blocks to the OS at once by default; PyTorch then pays for fresh
# pages on every step. A high mmap threshold keeps them (reference-notes: 5-10x on CPU).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}"
cd "$REPO"
