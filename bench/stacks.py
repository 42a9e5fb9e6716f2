"""Stack benchmark driver (see bench/stacks.sh). Runs against the local simulator only.

20 services in 4 waves of 5 (each member of a wave needs every member of the wave before), released
three ways: `cortado stack deploy`; a shell loop of `cortado deploy` one after another (in `needs`
order); all 20 `cortado deploy` started at once by the shell (ignoring `needs`). Reports wall time,
the ratio to the waves' critical path (4 x the median single-service deploy) and DescribeServices
calls per minute per service.
"""
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
REGION = "us-east-1"
PREFIX = "bench"


def post(url: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def calls(url: str) -> list[dict]:
    return [c for c in post(f"{url}/_cortado/calls")["calls"] if c.get("region") == REGION]


def names(waves: int, per_wave: int) -> list[list[str]]:
    return [[f"w{w}m{m}" for m in range(per_wave)] for w in range(waves)]


def write_members(work: Path, waves: list[list[str]]) -> None:
    """Member directories from the `cortado init` files in `work`, and the stack file."""
    config = (work / "cortado.yml").read_text().replace("timeout: 10m0s", "timeout: 10m")
    td = json.loads((work / "ecs-task-def.json").read_text())
    sv = (work / "ecs-service-def.json").read_text()
    lines = ["services:"]
    for w, wave in enumerate(waves):
        for name in wave:
            d = work / name
            d.mkdir(exist_ok=True)
            (d / "cortado.yml").write_text(config.replace(f"service: {PREFIX}\n", f"service: {name}\n"))
            mine = dict(td, family=f"{td['family']}-{name}")
            (d / "ecs-task-def.json").write_text(json.dumps(mine, indent=2))
            (d / "ecs-service-def.json").write_text(sv)
            needs = ", ".join(waves[w - 1]) if w else ""
            lines.append(f"  {name}: {{ config: {name}/cortado.yml, needs: [{needs}] }}")
    lines.append("parallelism: 20")
    (work / "cortado-stack.yml").write_text("\n".join(lines) + "\n")


def set_tag(work: Path, members: list[str], tag: str) -> None:
    for name in members:
        p = work / name / "ecs-task-def.json"
        td = json.loads(p.read_text())
        image = td["containerDefinitions"][0]["image"]
        td["containerDefinitions"][0]["image"] = image.rsplit(":", 1)[0] + ":" + tag
        p.write_text(json.dumps(td, indent=2))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cortado", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--step-seconds", type=float, default=0.5)
    ap.add_argument("--waves", type=int, default=4)
    ap.add_argument("--per-wave", type=int, default=5)
    a = ap.parse_args()

    sim = subprocess.Popen([sys.executable, str(ROOT / "tests/sim/launcher.py"), "--progress", "time", "--step-seconds", str(a.step_seconds)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    assert line.startswith("READY "), line
    url = line.split()[1]
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
    post(f"{url}/_cortado/seed", {"region": REGION, "prefix": PREFIX})
    work = Path(tempfile.mkdtemp())
    subprocess.run([a.cortado, "init", "--cluster", PREFIX, "--service", PREFIX], cwd=work, env=env, check=True, capture_output=True)
    waves = names(a.waves, a.per_wave)
    members = [m for w in waves for m in w]
    write_members(work, waves)

    def run(cmds: list[list[str]], parallel: bool) -> None:
        if parallel:
            procs = [subprocess.Popen(c, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
            outs = [(p, *p.communicate()) for p in procs]
        else:
            outs = []
            for c in cmds:
                p = subprocess.run(c, cwd=work, env=env, capture_output=True, text=True)
                outs.append((p, p.stdout, p.stderr))
        for p, out, err in outs:
            if p.returncode != 0:
                raise SystemExit(f"{' '.join(p.args)} failed ({p.returncode}):\n{out}\n{err}")

    stack = [[a.cortado, "stack", "deploy"]]
    loop = [[a.cortado, "deploy", "--config", f"{m}/cortado.yml"] for m in members]
    run(stack, False)  # creates the services (not timed)
    flip = [0]
    results: dict[str, list[dict]] = {}
    singles: list[float] = []
    for _ in range(a.runs):
        for name, cmds, parallel in [("cortado stack deploy", stack, False), ("shell loop of cortado deploy", loop, False),
                                     ("shell: all 20 cortado deploy at once", loop, True)]:
            flip[0] ^= 1
            set_tag(work, members, ["v1", "v2"][flip[0]])
            before = len(calls(url))
            t0 = time.monotonic()
            if name.startswith("shell loop"):
                for c in cmds:
                    s0 = time.monotonic()
                    run([c], False)
                    singles.append(time.monotonic() - s0)
            else:
                run(cmds, parallel)
            wall = time.monotonic() - t0
            new = calls(url)[before:]
            describe = sum(1 for c in new if c["action"] == "DescribeServices")
            results.setdefault(name, []).append({"wall": wall, "describe": describe, "per_min_per_service": describe / max(wall, 1e-9) * 60 / len(members)})
    sim.stdin.close()
    sim.wait(timeout=10)

    critical = a.waves * statistics.median(singles)
    print(f"\nStack benchmark: {len(members)} services in {a.waves} waves, simulator in wall-clock mode (one step per {a.step_seconds:g} s), "
          f"{a.runs} run(s) each, medians. Critical path = {a.waves} x median single deploy ({statistics.median(singles):.2f} s) = {critical:.2f} s")
    print(f"{'how':40} {'wall s':>8} {'x critical path':>16} {'DescribeServices':>17} {'per min per service':>20}")
    for name, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name:40} {med['wall']:8.2f} {med['wall'] / critical:16.2f} {med['describe']:17.0f} {med['per_min_per_service']:20.1f}")
    print("(the parallel shell run ignores `needs`: it is the lower bound no ordered release reaches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
