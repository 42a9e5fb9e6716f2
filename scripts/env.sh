# Sourced by the other scripts: one persistent target directory and venv shared by developers and
# .ci/run on the same machine, so builds stay incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cortado/target}"
export CORTADO_VENV="${CORTADO_VENV:-$HOME/.cache/cortado/venv}"
CORTADO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CORTADO_ROOT
# Where host/build.rs finds the first-party components to bundle.
export CORTADO_PLUGIN_DIR="${CORTADO_PLUGIN_DIR:-$CARGO_TARGET_DIR/wasm32-wasip2/plugin}"
# The mdBook binary that builds the manual (docs/); scripts/setup.sh installs it there.
export CORTADO_MDBOOK="${CORTADO_MDBOOK:-$HOME/.cache/cortado/mdbook/bin/mdbook}"
