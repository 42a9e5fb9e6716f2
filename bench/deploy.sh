#!/usr/bin/env bash
# Benchmark: one service deployed on the simulator in wall-clock mode by cortado, by
# `aws ecs update-service` + `aws ecs wait services-stable`, and by fabfuel's `ecs deploy`.
# Reports per tool: wall time start→exit, rollout completion→exit, API calls, DescribeServices
# calls per minute while waiting. Not a test: numbers vary with the machine.
#   bash bench/deploy.sh            # RUNS=3 STEP_SECONDS=1 DESIRED=3 by default
#   PROFILE=debug bash bench/deploy.sh   # the dev build (the waits are not CPU-bound; skips a release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/setup.sh
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then cargo build --quiet --release -p cortado; else cargo build --quiet -p cortado; fi
bench_venv="${CORTADO_BENCH_VENV:-$HOME/.cache/cortado/bench-venv}"
stamp="$bench_venv/.req.sha256"
want="$(sha256sum bench/requirements.txt | cut -d' ' -f1)"
if [ ! -x "$bench_venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$bench_venv"
  python3 -m venv "$bench_venv"
  "$bench_venv/bin/pip" install --quiet -r bench/requirements.txt
  echo "$want" > "$stamp"
fi
exec "$CORTADO_VENV/bin/python" bench/deploy.py \
  --cortado "$CARGO_TARGET_DIR/$profile/cortado" --peers-bin "$bench_venv/bin" \
  --runs "${RUNS:-3}" --step-seconds "${STEP_SECONDS:-1}" --desired "${DESIRED:-3}" ${ONLY:+--only "$ONLY"}
