#!/usr/bin/env bash
# Builds a JavaScript cortado plugin into a component: build.sh ENTRY.js OUT.wasm
# ENTRY ends with `export const { manifest, resolver, verifier, gate } = exportPlugin(MyPlugin)`.
# The toolchain (componentize-js, rolldown; pinned in package.json / package-lock.json) is installed
# under ~/.cache/cortado/plugin-langs/js by scripts/setup-plugin-langs.sh; build.mjs does the work.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wit="${CORTADO_WIT_DIR:-$here/../wit/v0.3.0}"
modules="${CORTADO_PLUGIN_LANGS:-$HOME/.cache/cortado/plugin-langs}/js/node_modules"
[ -d "$modules/@bytecodealliance/componentize-js" ] || { echo "build.sh: $modules is missing componentize-js: run scripts/setup-plugin-langs.sh" >&2; exit 2; }
mkdir -p "$(dirname "$2")"
# Linked into the toolchain directory so that its imports resolve against the pinned packages.
ln -sf "$here/build.mjs" "$modules/../cortado-build.mjs"
node --preserve-symlinks --preserve-symlinks-main "$modules/../cortado-build.mjs" "$1" "$2" "$here" "$wit"
