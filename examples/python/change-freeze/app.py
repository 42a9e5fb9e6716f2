"""The first-party `change-freeze` gate (plugins/change-freeze) in Python: deny inside freeze
windows (`start <= time < end`) and images from registries not allowed (those of every
RegisterTaskDefinition step and of the plan's task definition); warn on a deploy with an empty
diff. A config that cannot be read denies everything (fails closed). No capabilities."""

# Imports stay at the top: componentize-py bundles the modules imported while it builds.
import fnmatch
import json
from datetime import datetime

from cortado_plugin import Decision, Manifest, Plugin, config, error, export, steps_for

KEYS = {"freezes", "allowed_registries", "commands"}
FREEZE_KEYS = {"start", "end", "reason"}


def instant(text):
    """An RFC 3339 timestamp (`2026-12-24T09:00:00+09:00`, `…Z`, fractions) as an aware datetime."""
    t = text.strip() if isinstance(text, str) else ""
    if len(t) < 20 or t[10] not in "Tt " or not (t[-1] in "Zz" or t[-6] in "+-"):
        raise ValueError(f'"{text}" is not an RFC 3339 timestamp (like 2026-12-24T09:00:00+09:00)')
    try:
        return datetime.fromisoformat(t[:-1] + "+00:00" if t[-1] in "Zz" else t)
    except ValueError:
        raise ValueError(f'"{text}" is not an RFC 3339 timestamp (like 2026-12-24T09:00:00+09:00)') from None


def glob(pattern, text):
    """`*` matches any run of characters; everything else literally."""
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]").replace("?", "[?]"))


def image_name(image):
    """`registry/repository` of an image reference, by Docker's rules (Docker Hub gets `library/`)."""
    rest = image.strip().split("@", 1)[0]
    first, _, path = rest.partition("/")
    if path and ("." in first or ":" in first or first == "localhost"):
        registry = first
    else:
        registry, path = "docker.io", rest
    last = path.rfind("/") + 1
    colon = path[last:].rfind(":")
    repo = path[: last + colon] if colon >= 0 else path
    if registry == "docker.io" and "/" not in repo:
        repo = "library/" + repo
    return registry, f"{registry}/{repo}"


def allowed(pattern, image):
    want = pattern.strip().rstrip("/").split("/")
    have = image_name(image)[1].split("/")
    if len(want) > len(have):
        return False
    return all(glob(w.lower(), h.lower()) if i == 0 else glob(w, h) for i, (w, h) in enumerate(zip(want, have)))


def containers(task_definition):
    try:
        doc = json.loads(task_definition)
    except ValueError as e:
        raise ValueError(f"the task definition is not valid JSON: {e}") from None
    td = doc.get("taskDefinition") or doc if isinstance(doc, dict) else doc
    if not isinstance(td, dict):
        raise ValueError("the task definition is not a JSON object")
    get = lambda o, k: o.get(k, next((v for kk, v in o.items() if kk.lower() == k.lower()), None))
    defs = get(td, "containerDefinitions") or []
    if not isinstance(defs, list):
        raise ValueError("containerDefinitions is not a list")
    return [(get(c, "name") or "", get(c, "image") or "") for c in defs]


def planned_containers(plan):
    """`(name, image)` of every container the plan would run, each once: every
    RegisterTaskDefinition step's (what a RunTask's `$ref` to it runs), then the plan's task
    definition's (the revision a step names by ARN; all a plan without steps carries)."""
    sources = [(f"steps[{i}] (RegisterTaskDefinition)", s.input) for i, s in enumerate(plan.steps) if s in steps_for(plan, "ecs", "RegisterTaskDefinition")]
    if plan.task_definition is not None:
        sources.append(("the plan's task definition", plan.task_definition))
    out = []
    for what, td in sources:
        try:
            found = containers(td)
        except ValueError as e:
            raise ValueError(f"{what}: {e}") from None
        out.extend(c for c in found if c not in out)
    return out


def rules(c):
    if c is None:
        c = {}
    if not isinstance(c, dict):
        raise ValueError("the config is not an object")
    unknown = sorted(set(c) - KEYS)
    if unknown:
        raise ValueError(f"unknown field `{unknown[0]}`, expected one of `freezes`, `allowed_registries`, `commands`")
    freezes = []
    for i, f in enumerate(c.get("freezes") or []):
        extra = sorted(set(f) - FREEZE_KEYS)
        if extra:
            raise ValueError(f"freezes[{i}]: unknown field `{extra[0]}`")
        try:
            start = instant(f.get("start"))
        except ValueError as e:
            raise ValueError(f"freezes[{i}].start: {e}") from None
        try:
            end = instant(f.get("end"))
        except ValueError as e:
            raise ValueError(f"freezes[{i}].end: {e}") from None
        if end <= start:
            raise ValueError(f"freezes[{i}]: end {f['end']} is not after start {f['start']}")
        freezes.append((start, end, f["end"], f.get("reason") or ""))
    return freezes, list(c.get("allowed_registries") or []), list(c.get("commands") or [])


class ChangeFreeze(Plugin):
    def __init__(self):
        try:
            self.rules = rules(config())
            self.problem = None
        except ValueError as e:
            self.rules, self.problem = None, str(e)
            error(f"change-freeze: {e}; every plan will be denied")

    def manifest(self):
        return Manifest("change-freeze", "0.1.0").description("denies changes during freeze windows and images from registries not allowed").gate()

    def evaluate(self, plan):
        if self.problem is not None:
            return Decision.deny([f"change-freeze config: {self.problem}"])
        freezes, registries, commands = self.rules
        if commands and plan.command not in commands:
            return Decision.allow()
        denials, warnings = [], []
        if freezes:
            try:
                now = instant(plan.time)
                for start, end, end_text, reason in freezes:
                    if start <= now < end:
                        denials.append(f"{reason or 'change freeze'} (frozen until {end_text})")
            except ValueError as e:
                denials.append(f"cannot check change freezes: the plan's time: {e}")
        if registries:
            try:
                for name, image in planned_containers(plan):
                    if not any(allowed(p, image) for p in registries):
                        denials.append(
                            f"image {image} of container {name} comes from {image_name(image)[0]}, which is not an allowed registry ({', '.join(registries)})"
                        )
            except ValueError as e:
                denials.append(f"cannot check image registries: {e}")
        if plan.command == "deploy" and not plan.diff.strip():
            warnings.append("nothing to deploy: the plan's diff is empty")
        return Decision.from_findings(denials, warnings)


WitWorld, Resolver, Verifier, Gate = export(ChangeFreeze)
