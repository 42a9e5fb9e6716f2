"""cortado's plugin SDK for Python: the same shape as the Rust SDK (`plugin-sdk/`).

An author subclasses :class:`Plugin`, overrides the hooks it implements, and exports it::

    from cortado_plugin import Plugin, Manifest, export

    class Hello(Plugin):
        def manifest(self):
            return Manifest("hello", "0.1.0").function("hello", 1, 1, "hello NAME")

        def resolve(self, function, args):
            return f"hello {args[0]}"

    WitWorld, Resolver, Verifier, Gate = export(Hello)

The bindings (`wit_world`) are generated from `wit/plugin.wit` by componentize-py at build time
(`plugin-sdk-py/build.sh`); this module only adapts them, so the WIT stays the one contract.
"""

import json
from typing import Callable, List, Optional, Type

from componentize_py_types import Err
from wit_world.imports import host as _host
from wit_world.imports import types as _types
from wit_world.imports import aws as _aws
from wit_world.imports import metrics as _metrics

Plan = _types.Plan
Stage = _types.Stage
Step = _types.Step
MetricQuery = _metrics.MetricQuery
Dimension = _metrics.Dimension
Check = _types.Check
CheckStatus = _types.CheckStatus
Hook = _types.Hook
Parameter = _aws.Parameter
SecretValue = _aws.SecretValue
SecretDescription = _aws.SecretDescription
StackOutput = _aws.StackOutput
StackExport = _aws.StackExport

__all__ = [
    "Plugin", "Manifest", "Decision", "Plan", "Stage", "Step", "steps_for", "step_input", "images", "Check", "CheckStatus", "Hook", "AwsError",
    "MetricQuery", "Dimension", "aws", "metrics", "config", "log", "debug", "info", "warn", "error", "ok", "ng", "skip", "export",
]


class Manifest:
    """What the plugin provides and asks for; a builder like the Rust SDK's `Manifest`."""

    def __init__(self, name: str, version: str):
        self._m = _types.Manifest(name=name, version=version, description="", functions=[], hooks=[], capabilities=[])

    def description(self, text: str) -> "Manifest":
        self._m.description = text
        return self

    def function(self, name: str, min_args: int, max_args: int, description: str = "") -> "Manifest":
        """A template function (this also declares the resolver hook)."""
        self._m.functions.append(_types.FunctionSpec(name=name, min_args=min_args, max_args=max_args, description=description))
        return self._hook(Hook.RESOLVER)

    def verifier(self) -> "Manifest":
        return self._hook(Hook.VERIFIER)

    def gate(self) -> "Manifest":
        return self._hook(Hook.GATE)

    def capability(self, action: str, resource: str) -> "Manifest":
        """An AWS read the plugin asks for; the operator grants it (or not) in `grants:`."""
        self._m.capabilities.append(_types.Capability(action=action, resource=resource))
        return self

    def _hook(self, hook) -> "Manifest":
        if hook not in self._m.hooks:
            self._m.hooks.append(hook)
        return self

    def build(self) -> _types.Manifest:
        return self._m


class Decision:
    """A gate's answer: `Decision.allow()`, `Decision.warn([...])`, `Decision.deny([...])`,
    `Decision.inconclusive([...])` (at a lifecycle stage: asked again at the next poll)."""

    @staticmethod
    def allow():
        return _types.Decision_Allow()

    @staticmethod
    def warn(reasons: List[str]):
        return _types.Decision_Warn(list(reasons))

    @staticmethod
    def deny(reasons: List[str]):
        return _types.Decision_Deny(list(reasons))

    @staticmethod
    def inconclusive(reasons: List[str]):
        return _types.Decision_Inconclusive(list(reasons))

    @staticmethod
    def from_findings(denials: List[str], warnings: List[str]):
        """Deny with the denials if any, else warn with the warnings if any, else allow."""
        if denials:
            return Decision.deny(denials)
        if warnings:
            return Decision.warn(warnings)
        return Decision.allow()


def steps_for(plan: Plan, service: str, operation: str) -> List[Step]:
    """The plan's steps (the exact requests it will send, in order) calling `operation` of
    `service`: `steps_for(plan, "ecs", "RunTask")`. Also `plan.steps_for("ecs", "RunTask")`."""
    return [s for s in plan.steps if s.service.lower() == service.lower() and s.operation == operation]


def step_input(step: Step):
    """A step's request input, parsed from its JSON (`None` if it is not JSON, which the host never
    sends). A value known only after an earlier step is `{"$ref": "steps[I].PATH"}`. Also
    `step.input_json()`."""
    try:
        return json.loads(step.input)
    except ValueError:
        return None


def _containers(task_definition) -> List[tuple]:
    """`(name, image)` of each container of a task definition (JSON text or a parsed object)."""
    td = task_definition
    if isinstance(td, str):
        try:
            td = json.loads(td)
        except ValueError:
            return []
    if isinstance(td, dict) and isinstance(td.get("taskDefinition"), dict):
        td = td["taskDefinition"]
    if not isinstance(td, dict):
        return []
    get = lambda o, k: o.get(k, next((v for kk, v in o.items() if kk.lower() == k.lower()), None)) if isinstance(o, dict) else None
    defs = get(td, "containerDefinitions")
    return [(get(c, "name") or "", get(c, "image") or "") for c in defs] if isinstance(defs, list) else []


def images(plan: Plan) -> List[str]:
    """Every container image the plan would run, each once: those of every RegisterTaskDefinition
    step (what a RunTask's `$ref` to it runs) and of the plan's task definition (the revision a step
    names by ARN; all a plan without steps carries). Also `plan.images()`."""
    out: List[str] = []
    sources = [step_input(s) for s in steps_for(plan, "ecs", "RegisterTaskDefinition")]
    if plan.task_definition is not None:
        sources.append(plan.task_definition)
    for td in sources:
        for _, image in _containers(td):
            if image and image not in out:
                out.append(image)
    return out


# The same helpers as methods of the generated records (`plan.steps_for(...)`, `plan.images()`,
# `step.input_json()`), as the Rust SDK has them.
Plan.steps_for = steps_for
Plan.images = images
Step.input_json = step_input


def ok(name: str, message: str = "") -> Check:
    return Check(name=name, status=CheckStatus.OK, message=message)


def ng(name: str, message: str) -> Check:
    return Check(name=name, status=CheckStatus.NG, message=message)


def skip(name: str, message: str) -> Check:
    return Check(name=name, status=CheckStatus.SKIP, message=message)


class AwsError(Exception):
    """A brokered call that failed: `kind` is `denied`, `not-found` or `failed`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


_KINDS = {_aws.AwsError_Denied: "denied", _aws.AwsError_NotFound: "not-found", _aws.AwsError_Failed: "failed"}


def _brokered(f: Callable) -> Callable:
    def call(*args):
        try:
            return f(*args)
        except Err as e:
            raise AwsError(_KINDS.get(type(e.value), "failed"), e.value.value) from None

    call.__doc__ = f.__doc__
    return call


class aws:
    """Brokered, read-only AWS calls: made by the host, only within the plugin's grants."""

    ssm_get_parameter = staticmethod(_brokered(_aws.ssm_get_parameter))
    ssm_get_parameters = staticmethod(_brokered(_aws.ssm_get_parameters))
    secretsmanager_describe_secret = staticmethod(_brokered(_aws.secretsmanager_describe_secret))
    secretsmanager_get_secret_value = staticmethod(_brokered(_aws.secretsmanager_get_secret_value))
    s3_get_object = staticmethod(_brokered(_aws.s3_get_object))
    cloudformation_describe_stack_outputs = staticmethod(_brokered(_aws.cloudformation_describe_stack_outputs))
    cloudformation_list_exports = staticmethod(_brokered(_aws.cloudformation_list_exports))


class metrics:
    """Brokered metric and target-health reads for canary analysis (CloudWatch, ELBv2)."""

    cloudwatch_get_metric_data = staticmethod(_brokered(_metrics.cloudwatch_get_metric_data))
    elbv2_describe_target_health = staticmethod(_brokered(_metrics.elbv2_describe_target_health))


def config():
    """The plugin's `config:` block, parsed (`None` when absent)."""
    return json.loads(_host.config())


def log(level: str, message: str) -> None:
    _host.log(getattr(_types.Level, level.upper()), message)


def debug(message: str) -> None:
    log("debug", message)


def info(message: str) -> None:
    log("info", message)


def warn(message: str) -> None:
    log("warn", message)


def error(message: str) -> None:
    log("error", message)


class Plugin:
    """Override the hooks you implement; the manifest says which ones the host calls."""

    def manifest(self) -> Manifest:
        raise NotImplementedError("a plugin must return its manifest")

    def resolve(self, function: str, args: List[str]) -> str:
        raise ValueError(f"function {function} is not provided by this plugin")

    def verify(self, task_definition: str, service_definition: Optional[str]) -> List[Check]:
        return []

    def evaluate(self, plan: Plan):
        return Decision.allow()


def export(cls: Type[Plugin]):
    """The classes componentize-py looks for (`WitWorld`, `Resolver`, `Verifier`, `Gate`), all
    delegating to one instance of `cls`, created on first use (so `config()` is read at run time,
    not when the component is pre-initialised at build time)."""
    state = {}

    def plugin() -> Plugin:
        if "p" not in state:
            state["p"] = cls()
        return state["p"]

    class WitWorld:
        def manifest(self):
            m = plugin().manifest()
            return m.build() if isinstance(m, Manifest) else m

    class Resolver:
        def call(self, function, args):
            try:
                return plugin().resolve(function, list(args))
            except Err:
                raise
            except Exception as e:  # an author's error becomes the result's error, as in Rust
                raise Err(str(e)) from None

    class Verifier:
        def verify(self, task_definition, service_definition):
            return list(plugin().verify(task_definition, service_definition))

    class Gate:
        def evaluate(self, plan):
            return plugin().evaluate(plan)

    return WitWorld, Resolver, Verifier, Gate
