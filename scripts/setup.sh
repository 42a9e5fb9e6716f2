#!/usr/bin/env bash
# Everything a fresh machine needs before building or testing cortado. Idempotent and quick when
# nothing changed: the wasm32-wasip2 target for plugins, and the simulator's Python virtualenv.
#
#   bash scripts/setup.sh         # everything
#   bash scripts/setup.sh rust    # only what the Rust builds need (the wasm32-wasip2 target)
#   bash scripts/setup.sh tools   # the rest: downloads and packages, which scripts/test.sh runs
#                                 # beside the Rust builds (they need the network, not the CPU)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
part="${1:-all}"
case "$part" in all | rust | tools) ;; *) echo "setup: unknown part '$part' (all, rust or tools)" >&2; exit 2 ;; esac

if [ "$part" != tools ] && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2 >&2
fi
[ "$part" != rust ] || exit 0
# Go's own text/template is the reference for the template engine's differential test.
if ! command -v go >/dev/null 2>&1; then
  echo "setup: installing golang-go (the differential template test runs Go's text/template)" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update >&2
  $sudo apt-get install -y golang-go >&2
fi
bash "$CORTADO_ROOT/tests/sim/setup.sh" >/dev/null
bash "$CORTADO_ROOT/scripts/setup-plugin-langs.sh"
# The shells the completion test loads scripts into, tmux for the terminal (pty) test, and Debian's
# docker-registry (CNCF distribution 2.8) for the supply-chain tests: they start their own instance
# on a free loopback port with a config of their own (tests/src/registry.rs) and never rely on the
# system service the package sets up on :5000.
missing=()
for tool in tmux zsh; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2
  else sudo apt-get update -qq >&2 && sudo apt-get install -y -qq "${missing[@]}" >&2; fi
fi
# mdBook for the manual (docs/). scripts/test.sh starts it in the background instead (it is needed
# only at the end of the run) and sets CORTADO_MDBOOK_LATER.
[ -n "${CORTADO_MDBOOK_LATER:-}" ] || bash "$CORTADO_ROOT/scripts/setup-mdbook.sh"
