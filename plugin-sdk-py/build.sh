#!/usr/bin/env bash
# Builds a Python cortado plugin into a component: build.sh SRC_DIR OUT.wasm [MODULE]
# SRC_DIR holds MODULE.py (default `app`), which ends with `WitWorld, Resolver, Verifier, Gate =
# export(MyPlugin)`. componentize-py (pinned in scripts/setup-plugin-langs.sh) generates the
# bindings from wit/ while it builds, so the WIT stays the one contract.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$1" && pwd)"
out="$2"
module="${3:-app}"
wit="${CORTADO_WIT_DIR:-$here/../wit/v0.3.0}"
py="${CORTADO_PLUGIN_LANGS:-$HOME/.cache/cortado/plugin-langs}/py/bin/componentize-py"
[ -x "$py" ] || { echo "build.sh: $py is missing: run scripts/setup-plugin-langs.sh" >&2; exit 2; }
mkdir -p "$(dirname "$out")"
"$py" -d "$wit" -w plugin componentize "$module" -p "$src" -p "$here" -o "$out" >&2
