#!/usr/bin/env bash
# Benchmark: `cortado render taskdef` of a 50-container task definition (templated with env,
# must_env and json_escape in every container), release build, no AWS. Target: under 20 ms.
#   bash bench/render.sh            # prints mean/min/max wall time over N runs (default 50)
#   BIN=/path/to/cortado bash bench/render.sh   # the same against another binary
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
runs="${RUNS:-50}"

# BIN=path compares another build (e.g. a copy of an earlier release binary) on the same input.
if [ -z "${BIN:-}" ]; then cargo build --quiet --release -p cortado; fi
bin="${BIN:-$CARGO_TARGET_DIR/release/cortado}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
containers = []
for i in range(50):
    containers.append({
        "name": f"app{i}",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:{{ env `TAG` `latest` }}",
        "cpu": 64, "memoryReservation": 128, "essential": i == 0,
        "portMappings": [{"containerPort": 8000 + i, "protocol": "tcp"}],
        "environment": [{"name": f"VAR{j}", "value": f"{{{{ env `VAR{j}` `default{j}` }}}}"} for j in range(10)]
                     + [{"name": "JSON", "value": "{{ must_env `JSON` | json_escape }}"}],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app", "awslogs-region": "us-east-1", "awslogs-stream-prefix": f"app{i}"}},
        "dockerLabels": {"team": "platform", "service": f"app{i}"},
    })
td = {"family": "bench", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "4096", "memory": "8192",
      "containerDefinitions": containers}
open(f"{work}/ecs-task-def.json", "w").write(json.dumps(td, indent=2))
open(f"{work}/cortado.yml", "w").write("region: us-east-1\ncluster: bench\ntask_definition: ecs-task-def.json\n")
PY
cd "$work"
export TAG=v1 JSON='{"a":"<b>"}'
size=$(wc -c < ecs-task-def.json)
"$bin" render taskdef > /dev/null
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs "$runs" -N "$bin render taskdef"
else
  python3 - "$bin" "$runs" "$size" <<'PY'
import subprocess, sys, time, statistics
bin, runs, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run([bin, "render", "taskdef"], stdout=subprocess.DEVNULL, check=True); times.append((time.perf_counter() - t) * 1000)
print(f"render taskdef: 50 containers, {size} bytes, {runs} runs: mean {statistics.mean(times):.2f} ms, "
      f"median {statistics.median(times):.2f} ms, min {min(times):.2f} ms, max {max(times):.2f} ms (target < 20 ms)")
PY
fi
