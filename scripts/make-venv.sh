#!/usr/bin/env bash
# make-venv.sh VENV PYTHON PIP-ARGS...: a fresh virtualenv at VENV for PYTHON, with PIP-ARGS installed
# (`-r FILE`, `PKG==VERSION`). The simulator's and componentize-py's are made here.
#
# uv first (scripts/uv.sh: ~11 s of CPU for the simulator's requirements from an empty HOME, where
# `python -m venv` and pip took 21-30 s), bytecode compiled at install as pip does (this environment
# may set PYTHONDONTWRITEBYTECODE, and every import would compile the sources again). pip when uv
# cannot be installed or cannot reach the index (a proxy it does not trust, say); PyPI's virtualenv
# when Debian's python3 has no venv module.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$1" py="$2"
shift 2
export UV_PYTHON_DOWNLOADS=never
rm -rf "$venv"
if uv="$(bash "$here/uv.sh")" && "$uv" venv -q --python "$py" "$venv" >&2 &&
  VIRTUAL_ENV="$venv" "$uv" pip install -q --compile-bytecode "$@" >&2; then
  exit 0
fi
rm -rf "$venv"
echo "make-venv: uv unavailable; $venv with $py's venv and pip" >&2
if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
  rm -rf "$venv"
  boot="$(dirname "$venv")/virtualenv-bootstrap"
  echo "make-venv: python -m venv unavailable; bootstrapping virtualenv into $boot" >&2
  "$py" -m pip install -q --target "$boot" virtualenv >&2
  PYTHONPATH="$boot" "$py" -m virtualenv -q "$venv" >&2
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
