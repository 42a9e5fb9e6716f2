#!/usr/bin/env bash
# Builds every crate under plugins/ as a wasm32-wasip2 component (profile `plugin`: small, no panics
# unwinding). The host bundles the first-party ones; tests load the fixtures from here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

pkgs=()
for manifest in plugins/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  pkgs+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
[ ${#pkgs[@]} -gt 0 ] || { echo "build-plugins: no plugins" >&2; exit 0; }
cargo build --quiet --target wasm32-wasip2 --profile plugin "${pkgs[@]}"
ls -1 "$CARGO_TARGET_DIR/wasm32-wasip2/plugin/"*.wasm >&2
