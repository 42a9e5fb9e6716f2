#!/usr/bin/env bash
# The main job on the local simulator: start it, seed a realistic account, import the running
# service with `cortado init`, render what cortado reads, and diff it against what runs (clean,
# then after an image change). Everything talks to 127.0.0.1 only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

bash scripts/setup.sh
bash scripts/build-plugins.sh
cargo build --quiet --bins
cortado="$CARGO_TARGET_DIR/debug/cortado"

work="$(mktemp -d)"
cleanup() { [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$CORTADO_VENV/bin/python" tests/sim/launcher.py --no-stdin-watch >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 1 200); do grep -q '^READY ' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^READY //p' "$work/sim.out")"
[ -n "$url" ] || { cat "$work/sim.err" >&2; echo "demo: the simulator did not start" >&2; exit 1; }

export AWS_ENDPOINT_URL="$url" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "seed the simulator at $url"
curl -sf -X POST "$url/_cortado/seed" -H 'content-type: application/json' -d '{"region":"us-east-1","prefix":"demo"}' >"$work/seed.json"
echo "cluster demo, service demo, task definition family demo-app, ECR, roles, SSM, secrets, CloudFormation, tfstate"

cd "$work"
step "cortado init --cluster demo --service demo"
"$cortado" init --cluster demo --service demo
cat cortado.yml

step "cortado render config servicedef taskdef"
"$cortado" render config servicedef taskdef

step "cortado diff --exit-code   # right after init: nothing differs"
"$cortado" diff --exit-code && echo "(no difference, exit 0)"

step "sed -i 's/:v1\"/:v2\"/' ecs-task-def.json && cortado diff --exit-code"
sed -i 's/:v1"/:v2"/' ecs-task-def.json
set +e; "$cortado" diff --exit-code; code=$?; set -e
echo "(exit $code)"

step "cortado status"
"$cortado" status
