#!/usr/bin/env bash
# Benchmark: 20 services in 4 waves released by `cortado stack deploy`, by a shell loop of
# `cortado deploy` and by 20 `cortado deploy` started at once, on the simulator in wall-clock
# mode. Reports wall time against the waves' critical path and DescribeServices calls per minute
# per service. Not a test: numbers vary with the machine.
#   bash bench/stacks.sh                  # RUNS=1 STEP_SECONDS=0.5 by default
#   PROFILE=debug bash bench/stacks.sh    # the dev build (the waits are not CPU-bound)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/setup.sh
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then cargo build --quiet --release -p cortado; else cargo build --quiet -p cortado; fi
exec "$CORTADO_VENV/bin/python" bench/stacks.py \
  --cortado "$CARGO_TARGET_DIR/$profile/cortado" --runs "${RUNS:-1}" --step-seconds "${STEP_SECONDS:-0.5}"
