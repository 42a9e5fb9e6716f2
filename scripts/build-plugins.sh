#!/usr/bin/env bash
# Builds the wasm32-wasip2 components: first-party plugins (plugins/*, profile `plugin`: small,
# bundled into the host by host/build.rs) and the hostile test fixtures (tests/fixtures/plugins/*,
# profile `fixture`: names kept so traps show functions).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

names() { for m in "$@"; do [ -f "$m" ] && printf -- '-p %s ' "$(sed -n 's/^name = "\(.*\)"/\1/p' "$m" | head -1)"; done; }
plugins=$(names plugins/*/Cargo.toml)
fixtures=$(names tests/fixtures/plugins/*/Cargo.toml)
# shellcheck disable=SC2086
[ -z "$plugins" ] || cargo build --quiet --target wasm32-wasip2 --profile plugin $plugins
# shellcheck disable=SC2086
[ -z "$fixtures" ] || cargo build --quiet --target wasm32-wasip2 --profile fixture $fixtures
