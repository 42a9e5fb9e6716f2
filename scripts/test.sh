#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: set up, build plugins and the binary, then
# every unit and end-to-end test (the end-to-end tests start their own simulator on loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

bash scripts/setup.sh
bash scripts/build-plugins.sh
bash scripts/build-plugin-langs.sh
cargo build --bins
# Host and end-to-end tests (default members), then the SDK and first-party plugins' own tests,
# which build natively (their component glue is wasm-only).
cargo test "$@"
cargo test -p cortado-plugin-sdk -p cortado-plugin-ssm -p cortado-plugin-secretsmanager -p cortado-plugin-cloudformation \
  -p cortado-plugin-tfstate -p cortado-plugin-image-policy -p cortado-plugin-change-freeze -p cortado-plugin-canary-analysis "$@"
# ecspresso's own test data as black-box cases against the binary just built. The suite lives beside
# the repository (../shared, read-only; CI keeps a copy of shared/ next to the clone) and fails the
# run when a case fails.
conformance="$CORTADO_ROOT/../shared/conformance/ecspresso/run.sh"
if [ ! -f "$conformance" ]; then
  echo "test: the ecspresso conformance suite is missing: expected $conformance (a copy of shared/ beside the repository)" >&2
  exit 1
fi
bash "$conformance" "$CARGO_TARGET_DIR/debug/cortado"
