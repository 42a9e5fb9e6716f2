#!/usr/bin/env bash
# Create (or reuse) the Python virtualenv that runs the local AWS simulator.
#
#   bash tests/sim/setup.sh          # last stdout line: path of the venv's python
#
# Venv location: ${CORTADO_VENV:-$HOME/.cache/cortado/venv}. Idempotent: a stamp
# (sha256 of requirements.txt) inside the venv makes a second run return at once.
# Needs python3 >= 3.10 (override with CORTADO_PYTHON=/path/to/python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements.txt"
venv="${CORTADO_VENV:-$HOME/.cache/cortado/venv}"
stamp="$venv/.cortado-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

log() { echo "setup.sh: $*" >&2; }
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

# Test processes may call this concurrently: one builds, the others wait and reuse.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "$venv/bin/python"
        exit 0
    fi
fi

py="${CORTADO_PYTHON:-}"
if [[ -z "$py" ]]; then
    for cand in python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            py="$(command -v "$cand")"
            break
        fi
    done
fi
[[ -n "$py" ]] || { log "need python3 >= 3.10 (set CORTADO_PYTHON)"; exit 1; }

# A half-built or outdated venv is rebuilt from scratch (cheap compared to debugging it).
if [[ -e "$venv" ]]; then
    log "requirements changed or venv incomplete: rebuilding $venv"
    rm -rf "$venv"
fi

log "creating venv at $venv with $py, installing $(basename "$req")"
bash "$here/../../scripts/make-venv.sh" "$venv" "$py" -r "$req"
echo "$want" >"$stamp"
echo "$venv/bin/python"
