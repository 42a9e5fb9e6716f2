#!/usr/bin/env bash
# TypeScript declarations for plugin authors, generated from wit/plugin.wit:
#   types.sh            regenerate plugin-sdk-js/types/ (commit the result with the WIT change)
#   types.sh --check    fail when types/ is not what the WIT generates, then type-check the SDK's
#                       own declarations (src/index.d.ts) and an example against them with tsc
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules="${CORTADO_PLUGIN_LANGS:-$HOME/.cache/cortado/plugin-langs}/js/node_modules"
[ -d "$modules/@bytecodealliance/jco-transpile" ] || { echo "types.sh: $modules is missing jco: run scripts/setup-plugin-langs.sh" >&2; exit 2; }
ln -sf "$here/types.mjs" "$modules/../cortado-types.mjs"
gen() { node --preserve-symlinks --preserve-symlinks-main "$modules/../cortado-types.mjs" "$here/../wit/v0.3.0/plugin.wit" "$1"; }
if [ "${1:-}" != --check ]; then
  gen "$here/types"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
gen "$tmp/types"
if ! diff -r "$here/types" "$tmp/types" >&2; then
  echo "types.sh: plugin-sdk-js/types/ is stale: run bash plugin-sdk-js/types.sh and commit it" >&2
  exit 1
fi
"$modules/.bin/tsc" -p "$here/tsconfig.json"
