#!/usr/bin/env bash
# Benchmark: what faults cost. cortado deploys a changed image (poll-mode simulator, one task)
# under each fault profile of tests/sim (throttling, 5xx, resets, latency, lost responses), RUNS
# seeds each; prints per profile the exit codes, API calls (and how many more than without
# faults), faults injected, and wall time (and how much more). Not a test: times vary.
#   bash bench/faults.sh                  # RUNS=3; ONLY="throttle,lost" picks profiles
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/setup.sh >/dev/null
cargo build --quiet -p cortado
exec "$CORTADO_VENV/bin/python" bench/faults.py --cortado "${CORTADO_BIN:-$CARGO_TARGET_DIR/debug/cortado}" \
  --runs "${RUNS:-3}" --only "${ONLY:-}"
