#!/usr/bin/env python3
"""Runs the test binaries `cargo test --no-run` built, several at a time, longest first.

Why not `cargo test`: it runs one test binary after another, and most of an end-to-end binary's time
is spent waiting on its simulator, so two cores sit idle. Why not cargo-nextest: it runs every test
in a process of its own, and each end-to-end process starts its own simulator (moto) on loopback —
hundreds of simulator start-ups instead of one per binary. Here each binary keeps its own simulator
and its own test threads, and JOBS binaries run side by side.

Usage: run-tests.py ARTIFACTS.json [--jobs N] [--split TARGET]... [--each MODULE]...
                    [--cargo NAME "CARGO-TEST-ARGS"]... [--job NAME "COMMAND"]... [-- HARNESS-ARGS...]
  ARTIFACTS.json  the output of `cargo test --no-run --message-format=json` (one message a line)
  --jobs N        binaries at once (default: CORTADO_TEST_JOBS, else 4)
  --split TARGET  run the test target TARGET as one process per top-level module (`MODULE::…`): the
                  end-to-end tests are one binary, each module starting its own simulator
  --each MODULE   with --split: run each test of MODULE in a process of its own (a module whose
                  tests are long and few would otherwise end the run alone)
  --cargo NAME A  also run `cargo test A` (build and run) as one job: test targets not built
                  beforehand, compiled while the binaries run wait on their simulators
  --job NAME CMD  also run COMMAND (split as a shell would) as one job; its last line is shown

Durations: scripts/test-durations.json (kept in the repository, refreshed by hand from a run's
$CARGO_TARGET_DIR/test-durations.json) orders a first run; later runs use their own.
  HARNESS-ARGS    passed to every binary and doctest run (a name filter, --test-threads, ...); a
                  name filter is applied here to a split target's test names

Simulators: every end-to-end process still gets one of its own, but forked from one fork server
started here (tests/sim/launcher.py --fork-server; CORTADO_SIM_FORK_SERVER names its socket), which
imports moto and parses the botocore models once for the run instead of once per process.

Each process's line shows its wall time and its CPU time (its own and that of every process it
waited for: cortado runs, compilers); the last line adds up the test processes' CPU time and the
simulators' (the fork server's and its children's), which the step's CPU column cannot see.

Every binary runs to the end (like --no-fail-fast); the output of a failed one is printed whole,
and the exit status is 1 if any failed. Each binary's last duration is kept in
$CARGO_TARGET_DIR/test-durations.json to order the next run: the longest start first.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")


def binaries(artifacts_file):
    """(name, executable, package dir) of every test executable cargo built."""
    found = []
    for line in Path(artifacts_file).read_text().splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        package = Path(msg["manifest_path"]).parent
        kind = target["kind"][0]
        name = f"{package.name}/{target['name']}" if kind == "test" else f"{package.name} ({kind})"
        found.append((name, msg["executable"], str(package)))
    return found


# libtest options that take a value (the rest of HARNESS-ARGS are flags or name filters).
VALUED = {"--test-threads", "--skip", "--format", "--color", "--logfile", "-Z", "--shuffle-seed", "--report-time"}


def split_harness(args):
    """(options, name filters) of HARNESS-ARGS."""
    options, filters, i = [], [], 0
    while i < len(args):
        if args[i] in VALUED and i + 1 < len(args):
            options += args[i : i + 2]
            i += 2
        elif args[i].startswith("-"):
            options.append(args[i])
            i += 1
        else:
            filters.append(args[i])
            i += 1
    return options, filters


def by_module(name, exe, cwd, filters, each):
    """One job per top-level module of a test binary (per test for the modules in `each`), each
    naming its tests exactly (so a module whose name ends another's is not run twice); only the tests
    a filter selects, if any."""
    listed = subprocess.run([exe, "--list", "--format", "terse"], cwd=cwd, stdout=subprocess.PIPE, check=True)
    modules = {}
    for line in listed.stdout.decode().splitlines():
        if not line.endswith(": test"):
            continue
        test = line[: -len(": test")]
        if filters and not any(f in test for f in filters):
            continue
        modules.setdefault(test.split("::")[0], []).append(test)
    jobs = []
    for m, tests in sorted(modules.items()):
        if m in each:
            jobs += [(f"{name}::{t}", [exe, "--exact", t], cwd, "module") for t in tests]
        else:
            jobs.append((f"{name}::{m}", [exe, "--exact", *tests], cwd, "module"))
    return jobs


def run(job, harness_args):
    """Runs one job; returns (name, exit code, seconds, CPU seconds, output, (passed, failed, ignored))."""
    name, command, cwd, kind = job
    env = dict(os.environ)
    env["CARGO_MANIFEST_DIR"] = cwd  # as `cargo test` sets it at run time
    started = time.monotonic()
    options, _ = split_harness(harness_args)
    argv = command + {"binary": harness_args, "module": options, "cargo": ["--", *harness_args], "job": []}[kind]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read().decode("utf-8", "replace")
    # wait4, not wait: the CPU time of the process and of every descendant it waited for (cortado,
    # compilers, build scripts; not the simulators, which are the fork server's children).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    seconds = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    counts = [0, 0, 0]
    for line in output.splitlines():
        m = RESULT.match(line.strip())
        if m:
            counts = [c + int(g) for c, g in zip(counts, m.groups())]
    return name, proc.returncode, seconds, cpu, output, counts


def start_fork_server(root):
    """The simulators' fork server, its socket in CORTADO_SIM_FORK_SERVER for every job; None (each
    test process then starts its own simulator) when the virtualenv is missing or it fails."""
    venv = Path(os.environ.get("CORTADO_VENV", Path.home() / ".cache/cortado/venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    socket = Path(os.environ.get("TMPDIR", "/tmp")) / f"cortado-sim-{os.getpid()}.sock"
    proc = subprocess.Popen([str(python), str(root / "tests/sim/launcher.py"), "--fork-server", str(socket)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("FORK-SERVER "):
        print(f"run-tests: the simulator fork server did not start ({line.strip()!r}); each process starts its own",
              flush=True)
        proc.kill()
        return None
    os.environ["CORTADO_SIM_FORK_SERVER"] = str(socket)
    return proc


def main(argv):
    harness_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, harness_args = argv[:cut], argv[cut + 1 :]
    jobs_n = int(os.environ.get("CORTADO_TEST_JOBS", "4"))
    cargo, extra, split, each = [], [], set(), set()
    artifacts = None
    i = 0
    while i < len(argv):
        if argv[i] == "--jobs":
            jobs_n = int(argv[i + 1])
            i += 2
        elif argv[i] == "--cargo":
            cargo.append((argv[i + 1], argv[i + 2].split()))
            i += 3
        elif argv[i] == "--each":
            each.add(argv[i + 1])
            i += 2
        elif argv[i] == "--split":
            split.add(argv[i + 1])
            i += 2
        elif argv[i] == "--job":
            extra.append((argv[i + 1], shlex.split(argv[i + 2])))
            i += 3
        else:
            artifacts = argv[i]
            i += 1
    if artifacts is None:
        sys.exit(__doc__)

    root = Path(__file__).resolve().parent.parent
    _, filters = split_harness(harness_args)
    jobs = []
    for n, exe, cwd in binaries(artifacts):
        if n.split("/")[-1] in split:
            jobs += by_module(n, exe, cwd, filters, each)
        else:
            jobs.append((n, [exe], cwd, "binary"))
    for name, args in cargo:
        jobs.append((name, ["cargo", "test", *args], str(root), "cargo"))
    for name, command in extra:
        jobs.append((name, command, str(root), "job"))

    record = Path(os.environ.get("CARGO_TARGET_DIR", root / "target")) / "test-durations.json"
    # The last run's durations in this target directory, over the ones kept in the repository (a
    # fresh target directory still starts the longest first).
    last = {}
    for source in (root / "scripts" / "test-durations.json", record):
        try:
            last.update(json.loads(source.read_text()))
        except (OSError, ValueError):
            pass
    # Longest first; a process never timed yet goes first too (it may be the longest), cargo's
    # compile-and-run jobs first among those (compiling is what the waiting processes leave room for).
    jobs.sort(key=lambda j: (-last.get(j[0], 1e9), j[3] != "cargo"))

    fork_server = start_fork_server(root)
    kinds = {job[0]: job[3] for job in jobs}
    print(f"run-tests: {len(jobs)} test processes, {jobs_n} at a time", flush=True)
    failed, totals, durations, cpu_total = [], [0, 0, 0], {}, 0.0
    with ThreadPoolExecutor(max_workers=jobs_n) as pool:
        futures = [pool.submit(run, job, harness_args) for job in jobs]
        for future in as_completed(futures):
            name, code, seconds, cpu, output, counts = future.result()
            kind = kinds[name]
            durations[name] = round(seconds, 1)
            cpu_total += cpu
            totals = [t + c for t, c in zip(totals, counts)]
            status = "ok" if code == 0 else "FAILED"
            lines = output.strip().splitlines() or [""]
            what = f"{counts[0]} passed, {counts[1]} failed" if kind != "job" else lines[-1][:100]
            print(f"  {status:6} {seconds:6.1f} s {cpu:6.1f} s CPU  {name}  ({what})", flush=True)
            if code != 0:
                failed.append(name)
                print(output, flush=True)
    sims = ""
    if fork_server is not None:
        fork_server.stdin.close()
        _, status, usage = os.wait4(fork_server.pid, 0)  # it waits at most 10 s for its children
        fork_server.returncode = os.waitstatus_to_exitcode(status)
        sims = f", the simulators {usage.ru_utime + usage.ru_stime:.0f} s"
    try:
        record.write_text(json.dumps({**last, **durations}, indent=1, sort_keys=True))
    except OSError:
        pass
    print(f"run-tests: {totals[0]} passed, {totals[1]} failed, {totals[2]} ignored in {len(jobs)} processes")
    print(f"run-tests: CPU time: the test processes {cpu_total:.0f} s{sims}")
    if failed:
        print("run-tests: failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
