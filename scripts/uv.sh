#!/usr/bin/env bash
# Prints the path of uv (PyPI's `uv`, pinned), installing it on first use with the system Python's
# pip into ~/.cache/cortado/tools, for scripts/make-venv.sh (installing uv itself takes ~1.5 s of CPU).
# Exits non-zero when uv cannot be installed; make-venv.sh then uses pip.
set -euo pipefail
UV_VERSION=0.13.10
dir="$HOME/.cache/cortado/tools/uv-$UV_VERSION"
if ! "$dir/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION\b"; then
  echo "setup: installing uv $UV_VERSION into $dir" >&2
  mkdir -p "$(dirname "$dir")"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  PIP_ROOT_USER_ACTION=ignore "${CORTADO_PYTHON:-python3}" -m pip install -q --disable-pip-version-check --no-compile \
    --target "$tmp" "uv==$UV_VERSION" >&2 || { rm -rf "$tmp"; exit 1; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
fi
echo "$dir/bin/uv"
