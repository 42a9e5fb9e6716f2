#!/usr/bin/env python3
"""Summarise a CORTADO_SIM_INVALID_LOG file: how many requests were invalid, and the distinct problems.

    CORTADO_SIM_STRICT=log CORTADO_SIM_INVALID_LOG=/tmp/invalid.jsonl cargo test -p cortado-e2e --test e2e deploy:: ...
    python3 tests/sim/invalid_summary.py /tmp/invalid.jsonl

A problem is one message of sim_validate.py with list indices and the rejected value's enum list folded, keyed by
service and action, so `containerDefinitions[0]` and `containerDefinitions[1]` count as one problem.
"""

from __future__ import annotations

import collections
import json
import re
import sys


def problems(message: str) -> list[str]:
    """The single problems of one `invalid` message ("N validation errors detected: a; b")."""
    body = message.split("detected: ", 1)[-1]
    return [p.strip() for p in body.split("; ") if p.strip()]


def fold(problem: str) -> str:
    problem = re.sub(r"\[\d+\]", "[]", problem)
    problem = re.sub(r"enum value set: \[[^\]]*\]", "enum value set: [...]", problem)
    return re.sub(r"value: .*?, type:", "value: ..., type:", problem)


def main(path: str) -> int:
    requests = 0
    distinct: collections.Counter[tuple[str, str, str]] = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            requests += 1
            for p in problems(entry.get("invalid") or ""):
                distinct[(entry.get("service", ""), entry.get("action", ""), fold(p))] += 1
    print(f"{requests} invalid requests, {len(distinct)} distinct problems")
    for (service, action, problem), n in distinct.most_common():
        print(f"{n:5d}  {service}:{action}  {problem}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
