#!/usr/bin/env python3
"""Writes host/src/definitions/ecs-model.json, the ECS API model cortado checks requests against.

Why: definitions go to ECS as raw JSON (host/src/aws/raw.rs), so nothing else removes what the Go
SDK under ecspresso never sends (read-only fields, empty-string enums) or catches a bad enum value
before AWS does. The model is derived from botocore's `ecs/2014-11-13/service-2.json`, the API
model AWS's SDKs are built from, at the botocore version pinned in tests/sim/requirements.txt (the
simulator venv has it installed).

Only what cortado needs is kept: the shapes reachable from the inputs of the operations cortado
sends and from the `Service` and `TaskDefinition` outputs, with their members, types, required
members and enums (no documentation). One shape per line, sorted, so a regeneration diffs well.

Regenerate (one command, from the repository root):

    ~/.cache/cortado/venv/bin/python scripts/gen-ecs-model.py

`--check` exits 1 when the committed file differs from what would be written.
"""

import json
import sys
from pathlib import Path

import botocore
import botocore.loaders

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "host/src/definitions/ecs-model.json"

# The ECS operations cortado sends, whose inputs are checked.
OPERATIONS = [
    "RegisterTaskDefinition",
    "CreateService",
    "UpdateService",
    "DeleteService",
    "RunTask",
    "StopTask",
    "DeregisterTaskDefinition",
    "DeleteTaskDefinitions",
    "TagResource",
    "UntagResource",
    "ExecuteCommand",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
    "RegisterDaemonTaskDefinition",
    "CreateDaemon",
    "UpdateDaemon",
    "DeleteDaemon",
    "DeleteDaemonTaskDefinition",
    "CreateExpressGatewayService",
    "UpdateExpressGatewayService",
    "DeleteExpressGatewayService",
]
# Resources as ECS describes them: a member of one that an input lacks is read-only.
OUTPUTS = ["Service", "TaskDefinition", "DaemonTaskDefinition"]
# Shape attributes kept besides the type.
KEPT = ("required", "enum", "member", "key", "value", "members")


def compact(shape: dict) -> dict:
    """A shape without documentation: references are shape names."""
    out = {"type": "document" if shape.get("document") else shape["type"]}
    for attr in KEPT:
        if attr not in shape:
            continue
        v = shape[attr]
        if attr == "members":
            out[attr] = {name: m["shape"] for name, m in v.items()}
        elif attr in ("member", "key", "value"):
            out[attr] = v["shape"]
        else:
            out[attr] = list(v)
    return out


def reachable(shapes: dict, roots: list) -> set:
    """Every shape name reachable from `roots`."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        s = shapes[name]
        todo.extend(m["shape"] for m in s.get("members", {}).values())
        todo.extend(s[k]["shape"] for k in ("member", "key", "value") if k in s)
    return seen


def build() -> str:
    model = botocore.loaders.Loader().load_service_model("ecs", "service-2", "2014-11-13")
    shapes = model["shapes"]
    operations = {op: model["operations"][op]["input"]["shape"] for op in OPERATIONS}
    names = sorted(reachable(shapes, list(operations.values()) + OUTPUTS))
    lines = [
        "{",
        f' "source": {json.dumps("botocore " + botocore.__version__ + " ecs/2014-11-13/service-2.json (scripts/gen-ecs-model.py)")},',
        f' "botocore": {json.dumps(botocore.__version__)},',
        f' "operations": {json.dumps(operations, sort_keys=True)},',
        f' "outputs": {json.dumps({o: o for o in OUTPUTS}, sort_keys=True)},',
        ' "shapes": {',
    ]
    body = [f"  {json.dumps(n)}: {json.dumps(compact(shapes[n]), sort_keys=True)}" for n in names]
    lines.append(",\n".join(body))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    text = build()
    if "--check" in sys.argv[1:]:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen-ecs-model.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} (botocore {botocore.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
