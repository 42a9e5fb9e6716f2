"""Lock + S3 audit benchmark and concurrency acceptance (see bench/locks.sh). Simulator only.

1. Concurrency: PROCS cortado processes deploy SERVICES services at once (PROCS/SERVICES each,
   `--force-new-deployment --tasks 3 --lock-timeout 10m`: a rollout spans several simulator steps), all sharing one S3 audit prefix and lock. Checked:
   every process exits 0; `cortado audit verify s3://…` finds every chain intact (0 forks, 0
   problems) with 2 records per deploy; in the simulator's call log, per service, UpdateService
   and the lock's DeleteObject alternate (a second UpdateService before the previous deployer
   released the lock would be two overlapping deployments).
2. Added latency: RUNS sequential deploys of one service with and without `audit_log: s3://…`
   (and so the lock), medians compared.
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


def post(url: str, path: str, body: dict | None = None, method: str = "POST") -> dict:
    data = None if method == "GET" else json.dumps(body or {}).encode()
    req = urllib.request.Request(f"{url}{path}", data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def s3_put(url: str, path: str, headers: dict[str, str]) -> None:
    auth = f"AWS4-HMAC-SHA256 Credential=bench/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=0"
    req = urllib.request.Request(f"{url}{path}", data=b"", method="PUT", headers={"Authorization": auth, **headers})
    urllib.request.urlopen(req, timeout=60).read()


def project(cortado: str, env: dict, seed: dict, extra: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="cortado-lockbench-"))
    subprocess.run([cortado, "init", "--cluster", seed["ecs"]["clusterName"], "--service", seed["ecs"]["serviceName"]], cwd=d, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfg = (d / "cortado.yml").read_text().replace("timeout: 10m0s", "timeout: 5m")
    (d / "cortado.yml").write_text(cfg + extra)
    return d


def deploy(cortado: str, d: Path, env: dict, *args: str) -> subprocess.Popen:
    """Output goes to files: a full pipe would stall a process that holds a lock."""
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([cortado, "deploy", "--force-new-deployment", *args], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    p.err = err  # type: ignore[attr-defined]
    return p


def finish(p: subprocess.Popen) -> tuple[int, str]:
    code = p.wait()
    p.err.seek(0)  # type: ignore[attr-defined]
    return code, p.err.read()  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cortado", required=True)
    ap.add_argument("--procs", type=int, default=20)
    ap.add_argument("--services", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()

    sim = subprocess.Popen([sys.executable, str(ROOT / "tests/sim/launcher.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    assert line.startswith("READY "), line
    url = line.split()[1]
    env = dict(PATH=os.environ.get("PATH", ""), HOME=tempfile.mkdtemp(), AWS_ENDPOINT_URL=url, AWS_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1", CORTADO_POLL_INTERVAL="100ms", AWS_MAX_ATTEMPTS="3")
    bucket = "bench-audit"
    s3_put(url, f"/{bucket}", {"x-amz-bucket-object-lock-enabled": "true"})
    shared = f"audit_log: s3://{bucket}/team/\naudit_retention: 1d\nlock_ttl: 30s\n"
    seeds = [post(url, "/_cortado/seed", {"region": REGION, "prefix": f"svc{i}"}) for i in range(a.services + 1)]
    dirs = [project(a.cortado, env, s, shared) for s in seeds[: a.services]]

    # 1. Concurrency.
    post(url, "/_cortado/calls", method="DELETE")
    t0 = time.monotonic()
    procs = [(i % a.services, deploy(a.cortado, dirs[i % a.services], env, "--lock-timeout", "10m", "--tasks", "3")) for i in range(a.procs)]
    results = [(svc, *finish(p)) for svc, p in procs]
    wall = time.monotonic() - t0
    failed = [(svc, code, err[-2000:]) for svc, code, err in results if code != 0]
    for svc, code, err in failed:
        print(f"FAILED (service {svc}, exit {code}):\n{err}", file=sys.stderr)
    verify = subprocess.run([a.cortado, "audit", "verify", f"s3://{bucket}/team/", "--output", "json"], cwd=dirs[0], env=env, capture_output=True, text=True)
    report = json.loads(verify.stdout)
    chains = report["chains"]
    problems = [p for c in chains for p in c["problems"]]
    forks = [p for p in problems if "fork" in p]
    records = sum(c["records"] for c in chains)
    calls = post(url, "/_cortado/calls")["calls"]
    overlaps = 0
    for s in seeds[: a.services]:
        svc = f"{s['ecs']['clusterName']}/{s['ecs']['serviceName']}"
        lock_path = f"/{bucket}/team/locks/{svc}"
        events = sorted((c["time"], c["action"]) for c in calls
                        if (c.get("resource") == svc and c["action"] == "UpdateService") or (c.get("resource") == lock_path and c["action"] == "DeleteObject"))
        held = False
        for _, action in events:
            if action == "UpdateService":
                overlaps += held
                held = True
            else:
                held = False
    sim_overlaps = sum(post(url, "/_cortado/overlaps", method="GET")["overlaps"].values())
    print(f"concurrency: {a.procs} processes, {a.services} services, wall {wall:.1f} s, throughput {a.procs / wall:.2f} deploys/s")
    print(f"  exit 0: {a.procs - len(failed)}/{a.procs}; chains {len(chains)}, records {records} (want {2 * a.procs}); "
          f"forks {len(forks)}; chain problems {len(problems)}; lock not released between two UpdateService calls {overlaps}; "
          f"deployments started while another was IN_PROGRESS (simulator) {sim_overlaps}")

    # 2. Added latency, sequential, one service (the spare seed).
    plain = project(a.cortado, env, seeds[a.services], "audit_log: audit.jsonl\nlock: false\n")
    with_s3 = project(a.cortado, env, seeds[a.services], shared)
    times: dict[str, list[float]] = {"local file, no lock": [], "S3 audit + lock": []}
    for _ in range(a.runs):
        for name, d in (("local file, no lock", plain), ("S3 audit + lock", with_s3)):
            t = time.monotonic()
            code, err = finish(deploy(a.cortado, d, env))
            assert code == 0, err
            times[name].append(time.monotonic() - t)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    for k, v in med.items():
        print(f"  sequential deploy, {k}: median {v:.0f} ms over {a.runs}")
    print(f"added latency per deploy (lock + S3 audit vs local audit file): {med['S3 audit + lock'] - med['local file, no lock']:.0f} ms (target <= 100 ms)")
    sim.stdin.close()
    ok = not failed and not problems and overlaps == 0 and sim_overlaps == 0 and records == 2 * a.procs
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
