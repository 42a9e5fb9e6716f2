#!/usr/bin/env bash
# Benchmark + acceptance: 20 cortado processes deploying 5 services at once through one S3 audit
# prefix and lock (0 forks, no overlapping deployments, every record verifies), and the latency
# that lock + S3 audit add to one deploy. Simulator only; numbers vary with the machine.
#   bash bench/locks.sh              # PROCS=20 SERVICES=5 RUNS=10
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/setup.sh >/dev/null
cargo build --quiet -p cortado
exec "$CORTADO_VENV/bin/python" bench/locks.py --cortado "${CORTADO_BIN:-$CARGO_TARGET_DIR/debug/cortado}" \
  --procs "${PROCS:-20}" --services "${SERVICES:-5}" --runs "${RUNS:-10}"
