#!/usr/bin/env bash
# The main job on the local simulator: start it, seed a realistic account, import the running
# service with `cortado init`, add plugins (a tfstate reference read through the broker, and a
# change-freeze gate), then deploy: a good deploy, a no-op redeploy, a change the gate denies, and
# an image that fails and is rolled back; an ECS-native canary whose pause a stage gate answers
# (denied and rolled back, then allowed), and judged by its CloudWatch error count (canary-analysis:
# a bad build rolled back, the fix measured twice and allowed); then two deployers at once sharing an S3 audit chain and
# deploy lock. Everything talks to 127.0.0.1 only.
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

step "add plugins: tfstate over S3 (brokered read, granted by the config) and the change-freeze gate"
tfstate_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tfstate"]["url"])' "$work/seed.json")"
cat >> cortado.yml <<YAML
plugins:
  - name: tfstate
    config:
      url: $tfstate_url
  - name: change-freeze
    enforcement: soft-mandatory
    config:
      allowed_registries: ["123456789012.dkr.ecr.*.amazonaws.com"]
YAML
# The task definition now takes the subnet from Terraform state and the DB host from SSM.
python3 - <<'PY'
import json
td = json.load(open("ecs-task-def.json"))
env = td["containerDefinitions"][0].setdefault("environment", [])
env[:] = [e for e in env if e["name"] != "DB_HOST"]
env.append({"name": "SUBNET", "value": "{{ tfstate `aws_subnet.private[0].id` }}"})
env.append({"name": "DB_HOST", "value": "{{ ssm `/demo/db/host` }}"})
json.dump(td, open("ecs-task-def.json", "w"), indent=2)
PY
tail -9 cortado.yml
"$cortado" plugin list | sed -n '1,40p'

step "cortado render taskdef   # references resolved by the plugins"
"$cortado" render taskdef | grep -A1 -E '"name": "(SUBNET|DB_HOST)"'

step "cortado diff"
"$cortado" diff || true

step "sed -i 's/:v1\"/:v2\"/' ecs-task-def.json && cortado deploy   # a good deploy"
sed -i 's/:v1"/:v2"/' ecs-task-def.json
"$cortado" deploy

step "cortado deploy again   # nothing changed: no new revision, no UpdateService"
"$cortado" deploy

step "an image from a registry the gate does not allow: the gate denies, nothing changes"
sed -i 's#"image": "[^"]*"#"image": "docker.io/library/nginx:latest"#' ecs-task-def.json
set +e; "$cortado" deploy; echo "(exit $?)"; set -e

step "an image that fails to start: the circuit breaker rolls back and cortado reports the failure"
sed -i 's#"image": "[^"]*"#"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app:fail"#' ecs-task-def.json
set +e; "$cortado" deploy --timeout 2m; echo "(exit $?)"; set -e

step "cortado status"
"$cortado" status

step "a canary: ECS sends 10 % to the new revision and pauses at POST_TEST_TRAFFIC_SHIFT, where a stage gate judges it"
# The service deploys with ECS's own CANARY strategy and a PAUSE hook; a second change-freeze gate
# (the same component, loaded by path and pinned) is bound to that stage. Its freeze is on: denied,
# so cortado answers the pause with ROLLBACK and exits 1.
python3 - <<'PY'
import json
sv = json.load(open("ecs-service-def.json"))
sv["deploymentConfiguration"].update({
    "strategy": "CANARY", "bakeTimeInMinutes": 1,
    "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 2},
    "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                        "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"}}]})
json.dump(sv, open("ecs-service-def.json", "w"), indent=2)
PY
freeze_wasm="$CARGO_TARGET_DIR/wasm32-wasip2/plugin/cortado_plugin_change_freeze.wasm"
cat >> cortado.yml <<YAML
  - name: canary-freeze
    path: $freeze_wasm
    sha256: $(sha256sum "$freeze_wasm" | cut -d' ' -f1)
    stages: [POST_TEST_TRAFFIC_SHIFT]
    config:
      freezes: [{start: "2020-01-01T00:00:00Z", end: "2099-01-01T00:00:00Z", reason: launch freeze}]
YAML
sed -i 's#"image": "[^"]*"#"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app:v3"#' ecs-task-def.json
# The simulator moves a native deployment one stage per poll; poll fast (on AWS, the default).
export CORTADO_POLL_INTERVAL=200ms
set +e; "$cortado" deploy; echo "(exit $?)"; set -e

step "the freeze is over: the same canary goes through the stage gate (CONTINUE) and finishes"
sed -i 's/end: "2099-01-01T00:00:00Z"/end: "2021-01-01T00:00:00Z"/' cortado.yml
"$cortado" deploy

step "canary analysis: a second stage gate reads the canary's 5xx count from CloudWatch (brokered, granted by its config)"
# canary-analysis measures twice, a second apart (count 2, interval 1s): the newest datapoint must be
# <= 5. A bad build: 12 errors, the first measurement fails, ROLLBACK, exit 1.
cat >> cortado.yml <<'YAML'
  - name: canary-analysis
    stages: [POST_TEST_TRAFFIC_SHIFT]
    config:
      interval: 1s
      count: 2
      window: 5m
      metrics:
        - name: errors
          namespace: AWS/ApplicationELB
          metric: HTTPCode_Target_5XX_Count
          dimensions: {TargetGroup: targetgroup/demo-green/1}
          stat: Sum
          period: 1
          reduce: last
          success_condition: "result <= 5"
          failure_condition: "result > 5"
YAML
put_5xx() { # put_5xx VALUE: one datapoint, a second ago, in the simulator's CloudWatch
  curl -sf -X POST "$url/" -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: GraniteServiceVersion20100801.PutMetricData' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0' \
    -d "{\"Namespace\":\"AWS/ApplicationELB\",\"MetricData\":[{\"MetricName\":\"HTTPCode_Target_5XX_Count\",\"Dimensions\":[{\"Name\":\"TargetGroup\",\"Value\":\"targetgroup/demo-green/1\"}],\"Timestamp\":$(( $(date +%s) - 1 )),\"Value\":$1,\"Unit\":\"Count\"}]}" >/dev/null
}
put_5xx 12
sed -i 's#"image": "[^"]*"#"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app:v4"#' ecs-task-def.json
set +e; "$cortado" deploy; echo "(exit $?)"; set -e

step "the fix: 1 error now; two measurements pass (the first is inconclusive: one more is needed), and the canary finishes"
sleep 1; put_5xx 1
sed -i 's#"image": "[^"]*"#"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app:v5"#' ecs-task-def.json
"$cortado" deploy

step "cortado audit verify cortado-audit.jsonl   # every gate decision, hash-chained"
"$cortado" audit verify cortado-audit.jsonl

step "team mode: audit chain and deploy lock on S3 (Object Lock bucket); two deployers at once, one waits for the other's lock"
curl -sf -X PUT "$url/demo-audit" -H 'x-amz-bucket-object-lock-enabled: true' \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0' >/dev/null
team=(deploy --skip-task-definition --force-new-deployment --audit-log s3://demo-audit/team/ --lock-timeout 2m)
"$cortado" "${team[@]}" >"$work/first.out" 2>&1 &
first=$!
"$cortado" "${team[@]}" 2>&1 | grep -E 'deploy lock|is stable|audit:' || true
wait "$first"; grep -E 'deploy lock|is stable|audit:' "$work/first.out" || true

step "cortado audit verify s3://demo-audit/team/   # one object per record, conditional writes, retention shown"
"$cortado" audit verify s3://demo-audit/team/

step "cortado iam-policy   # what this config needs, plugins' grants included"
"$cortado" iam-policy > "$work/policy.json"
head -40 "$work/policy.json"
