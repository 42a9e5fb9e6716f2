#!/usr/bin/env bash
# mdBook, which builds the manual (docs/): crates.io's, pinned, without its server, file watcher and
# search index, into ~/.cache/cortado/mdbook (CORTADO_MDBOOK names the binary). Debian bookworm has no
# mdbook package, so it is compiled once and kept; quick after. Unoptimised (`--debug`): it renders
# this book in well under a second either way, and an optimised build costs a cold test run more than
# a minute of CPU.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
MDBOOK_VERSION=0.5.4
if "$CORTADO_MDBOOK" --version 2>/dev/null | grep -q "v$MDBOOK_VERSION\$"; then
  exit 0
fi
root="$(dirname "$(dirname "$CORTADO_MDBOOK")")"
echo "setup: installing mdbook $MDBOOK_VERSION into $root" >&2
# Its own temporary target directory: none of it belongs in cortado's. No debug info (nobody debugs
# it here): 39 s of CPU instead of 49.
env -u CARGO_TARGET_DIR CARGO_PROFILE_DEV_DEBUG=false cargo install --quiet --locked --debug --no-default-features --version "$MDBOOK_VERSION" --root "$root" mdbook >&2
