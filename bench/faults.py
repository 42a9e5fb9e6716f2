"""Fault benchmark driver (see bench/faults.sh): cortado deploys a changed image on the simulator
under each fault profile; reports API calls, injected faults and wall time against no faults."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROFILES = {
    "none": [],
    "throttle 30% (ecs)": [{"service": "ecs", "kind": "throttle", "probability": 0.3}],
    "5xx 10%": [{"kind": "500", "probability": 0.05}, {"kind": "503", "probability": 0.05}],
    "resets 5%": [{"kind": "reset", "probability": 0.05}],
    "latency 2 s on 20%": [{"kind": "latency", "latency_ms": 2000, "probability": 0.2}],
    "lost RegisterTaskDefinition": [{"service": "ecs", "operation": "RegisterTaskDefinition", "kind": "lost_response", "count": 1}],
    "lost UpdateService": [{"service": "ecs", "operation": "UpdateService", "kind": "lost_response", "count": 1}],
}


def control(url: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(), method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def one(url: str, cortado: str, profile: str, rules: list, seed: int, n: int) -> dict:
    region = f"bf-{n}-{seed}"
    control(url, "POST", "/_cortado/seed", {"region": region, "prefix": region})
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": url, "AWS_REGION": region, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as d:
        env["HOME"] = d
        subprocess.run([cortado, "init", "--cluster", region, "--service", region], cwd=d, env=env, check=True, capture_output=True)
        td = json.loads(Path(d, "ecs-task-def.json").read_text())
        image = td["containerDefinitions"][0]["image"]
        td["containerDefinitions"][0]["image"] = image.rsplit(":", 1)[0] + ":v2"
        Path(d, "ecs-task-def.json").write_text(json.dumps(td))
        control(url, "POST", "/_cortado/faults", {"seed": seed, "region": region, "rules": rules})
        t = time.monotonic()
        run = subprocess.run([cortado, "deploy"], cwd=d, env=env, capture_output=True, text=True)
        took = time.monotonic() - t
        control(url, "DELETE", f"/_cortado/faults?region={region}")
    log = [c for c in control(url, "GET", "/_cortado/calls")["calls"] if c["region"] == region]
    return {"code": run.returncode, "seconds": took, "calls": len(log),
            "faults": sum(1 for c in log if c.get("fault") or c.get("latencyMs")), "stderr": run.stderr[-2000:]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cortado", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated profile names (substring match)")
    args = ap.parse_args()
    sim = subprocess.Popen([sys.executable, str(ROOT / "tests/sim/launcher.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url = sim.stdout.readline().split()[1]  # type: ignore[union-attr]
    rows, n = [], 0
    base = None
    print(f"{'profile':32} {'exit':>6} {'calls':>6} {'+calls':>7} {'faults':>7} {'seconds':>8} {'+seconds':>9}")
    for name, rules in PROFILES.items():
        if args.only and name != "none" and not any(o.strip() in name for o in args.only.split(",")):
            continue
        results = []
        for seed in range(1, args.runs + 1):
            n += 1
            results.append(one(url, args.cortado, name, rules, seed, n))
        calls = statistics.mean(r["calls"] for r in results)
        secs = statistics.mean(r["seconds"] for r in results)
        if base is None:
            base = (calls, secs)
        codes = ",".join(str(r["code"]) for r in results)
        print(f"{name:32} {codes:>6} {calls:6.1f} {calls - base[0]:+7.1f} {statistics.mean(r['faults'] for r in results):7.1f} "
              f"{secs:8.1f} {secs - base[1]:+9.1f}", flush=True)
        for r in results:
            if r["code"] != 0:
                print(f"  exit {r['code']}: {r['stderr']}")
        rows.append({"profile": name, "runs": results})
    sim.stdin.close()  # type: ignore[union-attr]
    sim.wait(timeout=10)
    return 0 if all(r["code"] == 0 for row in rows for r in row["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
