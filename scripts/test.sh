#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: set up, build plugins and the binary, then
# every unit and end-to-end test (the end-to-end tests start their own simulator on loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

# mdBook is needed only for the manual at the end: compiled (once) in the background at low priority,
# on the CPU that downloads, simulator waits and single-threaded steps leave idle.
mdbook_log="$CARGO_TARGET_DIR/setup-mdbook.log"
mkdir -p "$CARGO_TARGET_DIR"
nice -n 19 bash scripts/setup-mdbook.sh >"$mdbook_log" 2>&1 &
mdbook_setup=$!
CORTADO_MDBOOK_LATER=1 bash scripts/setup.sh
bash scripts/build-plugins.sh
bash scripts/build-plugin-langs.sh
cargo build --bins
# Host and end-to-end tests (default members), then the SDK and first-party plugins' own tests,
# which build natively (their component glue is wasm-only).
cargo test "$@"
cargo test -p cortado-plugin-sdk -p cortado-plugin-ssm -p cortado-plugin-secretsmanager -p cortado-plugin-cloudformation \
  -p cortado-plugin-tfstate -p cortado-plugin-image-policy -p cortado-plugin-change-freeze -p cortado-plugin-canary-analysis "$@"
# The manual: tests/tests/docs.rs has compared its command reference with --help and checked its
# links; here mdBook builds it (into the target directory; `mdbook build docs` by hand writes docs/book).
wait "$mdbook_setup" || { cat "$mdbook_log" >&2; echo "test: installing mdbook failed (scripts/setup-mdbook.sh)" >&2; exit 1; }
"$CORTADO_MDBOOK" build --dest-dir "$CARGO_TARGET_DIR/book" docs >/dev/null
# ecspresso's own test data as black-box cases against the binary just built, when ../shared is
# beside the repository (required with CI=true; a plain clone skips it and says why).
bash scripts/conformance.sh "$CARGO_TARGET_DIR/debug/cortado"
