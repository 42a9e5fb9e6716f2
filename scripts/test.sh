#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: set up, build plugins and the binary, then
# every unit and end-to-end test (the end-to-end tests start their own simulator on loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

bash scripts/setup.sh
bash scripts/build-plugins.sh
cargo build --bins
cargo test "$@"
