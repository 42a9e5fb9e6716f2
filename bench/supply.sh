#!/usr/bin/env bash
# Benchmark: the latency `pin_image_digests` and the `image-signature` gate add to
# `cortado deploy --dry-run`, per image, against the simulator and a loopback docker-registry
# (Debian's, as the supply tests use). Cold = an empty compiled-plugin cache; cached = warm.
# Not a test: numbers vary with the machine.
#   bash bench/supply.sh                # RUNS=5 IMAGES=4, the release build
#   PROFILE=debug bash bench/supply.sh  # the dev build (skips a release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then cargo build --quiet --release -p cortado; else cargo build --quiet -p cortado; fi
exec "$CORTADO_VENV/bin/python" bench/supply.py --cortado "$CARGO_TARGET_DIR/$profile/cortado" --runs "${RUNS:-5}" --images "${IMAGES:-4}"
