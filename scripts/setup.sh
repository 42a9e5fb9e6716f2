#!/usr/bin/env bash
# Everything a fresh machine needs before building or testing cortado. Idempotent and quick when
# nothing changed: the wasm32-wasip2 target for plugins, and the simulator's Python virtualenv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2 >&2
fi
bash "$CORTADO_ROOT/tests/sim/setup.sh" >/dev/null
bash "$CORTADO_ROOT/scripts/setup-plugin-langs.sh"
