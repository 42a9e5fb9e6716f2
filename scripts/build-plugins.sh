#!/usr/bin/env bash
# Builds the wasm32-wasip2 components: first-party plugins (plugins/*, bundled into the host by
# host/build.rs) and the hostile test fixtures (tests/fixtures/plugins/*, copied to
# wasm32-wasip2/fixture/ where the tests look for them). One cargo invocation and one profile
# (`plugin`: small) for both, so their dependencies (serde, wit-bindgen and its proc-macro's
# wasm tooling) are compiled once, not once per profile: a minute and more of a cold run's CPU.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

names() { for m in "$@"; do [ -f "$m" ] && printf -- '-p %s ' "$(sed -n 's/^name = "\(.*\)"/\1/p' "$m" | head -1)"; done; }
plugins=$(names plugins/*/Cargo.toml)
fixtures=$(names tests/fixtures/plugins/*/Cargo.toml)
# shellcheck disable=SC2086
[ -z "$plugins$fixtures" ] || cargo build --quiet --target wasm32-wasip2 --profile plugin $plugins $fixtures
out="$CARGO_TARGET_DIR/wasm32-wasip2"
mkdir -p "$out/fixture"
for f in "$out"/plugin/cortado_fixture_*.wasm; do
  [ -e "$f" ] || continue
  cmp -s "$f" "$out/fixture/${f##*/}" || cp -p "$f" "$out/fixture/"
done
