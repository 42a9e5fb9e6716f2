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

# uv when it can be had (scripts/uv.sh: ~12 s of CPU instead of ~30 for a fresh venv), else pip.
# A uv that cannot reach the index (a proxy it does not trust, say) falls back to pip as well.
export UV_PYTHON_DOWNLOADS=never
with_uv() {
    local uv
    uv="$(bash "$here/../../scripts/uv.sh")" || return 1
    log "creating venv at $venv with $py (uv), installing $(basename "$req")"
    "$uv" venv -q --python "$py" "$venv" >&2 &&
        # Bytecode compiled now, as pip does: this environment may set PYTHONDONTWRITEBYTECODE,
        # and every simulator import would compile moto's sources again.
        VIRTUAL_ENV="$venv" "$uv" pip install -q --compile-bytecode -r "$req" >&2
}
if ! with_uv; then
    rm -rf "$venv"
    log "creating venv at $venv with $py"
    if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
        # Debian without python3-venv has no ensurepip: bootstrap with PyPI's virtualenv instead.
        rm -rf "$venv"
        boot="$(dirname "$venv")/virtualenv-bootstrap"
        log "python -m venv unavailable; bootstrapping virtualenv into $boot"
        "$py" -m pip install -q --target "$boot" virtualenv >&2
        PYTHONPATH="$boot" "$py" -m virtualenv -q "$venv" >&2
    fi
    log "installing $(basename "$req") (takes about a minute)"
    "$venv/bin/python" -m pip install -q -r "$req" >&2
fi
echo "$want" >"$stamp"
echo "$venv/bin/python"
