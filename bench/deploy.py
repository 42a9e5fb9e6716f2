"""Deploy benchmark driver (see bench/deploy.sh). Runs against the local simulator only."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
PREFIX = "bench"


def post(url: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


class Probe(threading.Thread):
    """Polls the service every 100 ms and records when the new task definition's rollout completed."""

    def __init__(self, ecs, old_td: str):
        super().__init__(daemon=True)
        self.ecs, self.old_td = ecs, old_td
        self.calls = 0
        self.completed_at: float | None = None
        self.stop = False

    def run(self) -> None:
        while not self.stop and self.completed_at is None:
            sv = self.ecs.describe_services(cluster=PREFIX, services=[PREFIX])["services"][0]
            self.calls += 1
            deps = sv["deployments"]
            if len(deps) == 1 and deps[0].get("rolloutState") == "COMPLETED" and deps[0]["taskDefinition"] != self.old_td \
                    and deps[0]["runningCount"] == deps[0]["desiredCount"]:
                self.completed_at = time.monotonic()
            time.sleep(0.1)


def calls(url: str) -> list[dict]:
    return [c for c in post(f"{url}/_cortado/calls")["calls"] if c.get("region") == REGION]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cortado", required=True)
    ap.add_argument("--peers-bin", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--step-seconds", type=float, default=1.0)
    ap.add_argument("--desired", type=int, default=3)
    ap.add_argument("--only", default="", help="run only the tools whose name contains this (e.g. cortado)")
    a = ap.parse_args()

    sim = subprocess.Popen([sys.executable, str(ROOT / "tests/sim/launcher.py"), "--progress", "time", "--step-seconds", str(a.step_seconds)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    assert line.startswith("READY "), line
    url = line.split()[1]
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    seed = post(f"{url}/_cortado/seed", {"region": REGION, "prefix": PREFIX})
    ecs = boto3.client("ecs", endpoint_url=url, region_name=REGION)
    work = Path(tempfile.mkdtemp())
    ecs.update_service(cluster=PREFIX, service=PREFIX, desiredCount=a.desired)
    while True:
        d = ecs.describe_services(cluster=PREFIX, services=[PREFIX])["services"][0]["deployments"]
        if len(d) == 1 and d[0]["runningCount"] == a.desired:
            break
        time.sleep(0.2)
    subprocess.run([a.cortado, "init", "--cluster", PREFIX, "--service", PREFIX], cwd=work, env=env, check=True, capture_output=True)
    images = [seed["ecr"]["images"]["v1"]["uri"], seed["ecr"]["images"]["v2"]["uri"]]
    flip = [0]

    def next_tag() -> str:
        flip[0] ^= 1
        return ["v1", "v2"][flip[0]]

    def cortado_cmd() -> list[list[str]]:
        tag = next_tag()
        td = json.loads((work / "ecs-task-def.json").read_text())
        td["containerDefinitions"][0]["image"] = images[0].rsplit(":", 1)[0] + ":" + tag
        (work / "ecs-task-def.json").write_text(json.dumps(td, indent=2))
        return [[a.cortado, "deploy", "--no-update-service"]]

    def awscli_cmd() -> list[list[str]]:
        tag = next_tag()
        cur = ecs.describe_services(cluster=PREFIX, services=[PREFIX])["services"][0]["taskDefinition"]
        td = ecs.describe_task_definition(taskDefinition=cur)["taskDefinition"]
        keep = ["family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes", "requiresCompatibilities", "cpu", "memory"]
        body = {k: td[k] for k in keep if k in td}
        body["containerDefinitions"][0]["image"] = images[0].rsplit(":", 1)[0] + ":" + tag
        (work / "td.json").write_text(json.dumps(body))
        aws = f"{a.peers_bin}/aws"
        return [[aws, "ecs", "register-task-definition", "--cli-input-json", f"file://{work}/td.json", "--query", "taskDefinition.taskDefinitionArn", "--output", "text"],
                [aws, "ecs", "update-service", "--cluster", PREFIX, "--service", PREFIX, "--task-definition", "@ARN@", "--output", "text", "--query", "service.serviceName"],
                [aws, "ecs", "wait", "services-stable", "--cluster", PREFIX, "--services", PREFIX]]

    def ecsdeploy_cmd() -> list[list[str]]:
        return [[f"{a.peers_bin}/ecs", "deploy", PREFIX, PREFIX, "--tag", next_tag(), "--timeout", "600"]]

    results: dict[str, list[dict]] = {}
    for name, make in [("cortado", cortado_cmd), ("aws ecs update-service + wait services-stable", awscli_cmd), ("fabfuel ecs deploy", ecsdeploy_cmd)]:
        if a.only not in name:
            continue
        for _ in range(a.runs):
            old_td = ecs.describe_services(cluster=PREFIX, services=[PREFIX])["services"][0]["taskDefinition"]
            cmds = make()
            before = len(calls(url))
            probe = Probe(ecs, old_td)
            probe.start()
            t0 = time.monotonic()
            arn = ""
            for cmd in cmds:
                cmd = [arn if c == "@ARN@" else c for c in cmd]
                out = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{name}: {' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}", file=sys.stderr)
                    return 1
                arn = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else arn
            t1 = time.monotonic()
            time.sleep(0.3)
            probe.stop = True
            probe.join()
            new = calls(url)[before:]
            describe = sum(1 for c in new if c["action"] == "DescribeServices") - probe.calls
            total = len(new) - probe.calls
            done = probe.completed_at or t1
            waited = max(t1 - t0, 1e-9)
            results.setdefault(name, []).append({"wall": t1 - t0, "after_completion": t1 - done, "calls": total, "describe": describe,
                                                 "describe_per_min": describe / waited * 60})
    sim.stdin.close()
    sim.wait(timeout=10)

    print(f"\nDeploy benchmark: simulator in wall-clock mode (one step per {a.step_seconds:g} s), desired count {a.desired}, "
          f"{a.runs} runs each, medians; DescribeServices per minute over the tool's whole run")
    print(f"{'tool':48} {'wall s':>8} {'completion→exit s':>18} {'API calls':>10} {'DescribeServices':>17} {'per min':>8}")
    for name, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name:48} {med['wall']:8.2f} {med['after_completion']:18.2f} {med['calls']:10.0f} {med['describe']:17.0f} {med['describe_per_min']:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
