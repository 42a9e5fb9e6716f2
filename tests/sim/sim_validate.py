"""Request validation against botocore's service models, as AWS's front end does before a service sees a request.

Every awsJson request (X-Amz-Target) of the services in `MODELS` is checked against the botocore model of that
service (the botocore pinned in the venv, requirements.txt): required members, types, unknown members
(botocore.validate.ParamValidator) and enum values (ParamValidator does not check them: `_enum_errors` walks the
shapes). ELBv2 speaks the query protocol: its form parameters are parsed back into the operation's input shape
(`query_params`) and checked the same way; a parameter the shape does not consume is an unknown member.

A bad request is answered like AWS (HTTP 400, `__type` an error the operation's model lists, see `error_type`) and
recorded in the call log as `"invalid": "<message>"`. The mode comes from `CORTADO_SIM_STRICT`:
  reject (default)  answer 400, moto never sees the request
  log               record `invalid`, then serve the request anyway (to count problems without failing tests)
  off               no validation
With `CORTADO_SIM_INVALID_LOG=FILE`, each invalid request is also appended to FILE as one JSON line
(`service, action, region, invalid, body`), so a whole test run's problems can be read in one place.

Nulls in a JSON body are treated as absent (AWS's JSON deserialisers do the same); an empty string is an enum
value like any other, and is refused unless the enum lists it (ECS refuses `ipcMode: ""`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any

from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

MODES = ("reject", "log", "off")
MODE = os.environ.get("CORTADO_SIM_STRICT", "reject") or "reject"
if MODE not in MODES:
    raise SystemExit(f"CORTADO_SIM_STRICT must be one of {', '.join(MODES)}, not {MODE!r}")
INVALID_LOG = os.environ.get("CORTADO_SIM_INVALID_LOG") or None

# SigV4 signing name -> botocore service name, for the services checked.
MODELS = {
    "ecs": "ecs",
    "codedeploy": "codedeploy",
    "application-autoscaling": "application-autoscaling",
    "logs": "logs",
    "elasticloadbalancing": "elbv2",
}
# The error an invalid request is answered with: the first of these the operation's model lists.
_ERROR_PREFERENCE = ("InvalidParameterException", "ValidationException", "ClientException", "InvalidInputException")

_LOADER = Loader()
_CACHE: dict[str, ServiceModel] = {}
_CACHE_LOCK = threading.Lock()
_FILE_LOCK = threading.Lock()


# Per-region modes (`POST /_cortado/config {"region": R, "strict": "log"}`): a test that sends a member newer
# than the pinned model (AWS knows it, botocore does not yet) lets its own region through, alone.
REGION_MODES: dict[str, str] = {}


def set_mode(mode: str, region: str | None = None) -> None:
    """Switch the mode at run time (`POST /_cortado/config {"strict": ...}`), for every region or one."""
    global MODE
    if mode not in MODES:
        raise ValueError(f"strict must be one of {', '.join(MODES)}, not {mode!r}")
    if region:
        REGION_MODES[region] = mode
    else:
        MODE = mode


def service_model(signing_name: str) -> ServiceModel | None:
    """botocore's model of a checked service, loaded once; None for services not checked."""
    name = MODELS.get(signing_name)
    if name is None:
        return None
    with _CACHE_LOCK:
        if name not in _CACHE:
            try:
                _CACHE[name] = ServiceModel(_LOADER.load_service_model(name, "service-2"), service_name=name)
            except UnknownServiceError:
                return None
        return _CACHE[name]


def operation(model: ServiceModel, action: str) -> OperationModel | None:
    try:
        return model.operation_model(action)
    except Exception:  # botocore raises OperationNotFoundError
        return None


def error_type(op: OperationModel | None) -> str:
    """The `__type` AWS answers a malformed request of `op` with: one its model lists (ECS: InvalidParameterException
    or ClientException; Logs: InvalidParameterException; Application Auto Scaling: ValidationException), else the
    generic front-end ValidationException."""
    listed = {e.name for e in (op.error_shapes if op is not None else [])}
    return next((e for e in _ERROR_PREFERENCE if e in listed), "ValidationException")


def drop_nulls(value: Any) -> Any:
    """A JSON null is an absent member for AWS's deserialisers."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value if v is not None]
    return value


def _enum_errors(value: Any, shape: Shape | None, path: str, out: list[str]) -> None:
    """Enum violations, which ParamValidator does not check: walk the value along its shape."""
    if shape is None or value is None:
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                _enum_errors(value[key], member, f"{path}.{key}" if path else key, out)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _enum_errors(item, shape.member, f"{path}[{i}]", out)
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            _enum_errors(k, shape.key, f"{path} (key {k!r})", out)
            _enum_errors(v, shape.value, f"{path}.{k}", out)
    elif kind == "string" and isinstance(value, str) and shape.enum and value not in shape.enum:
        # AWS's wording (Coral): "Value 'X' at 'member' failed to satisfy constraint: Member must satisfy enum value set"
        out.append(f"Value {value!r} at '{path}' failed to satisfy constraint: "
                   f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")


def _short(line: str) -> str:
    """botocore lists every valid member after an unknown one; the member's name is what matters."""
    line = line.strip()
    return line.split(", must be one of:")[0] if line.startswith("Unknown parameter") else line


def validate(op: OperationModel, params: Any) -> list[str]:
    """Every problem of `params` as the input of `op`, each message naming the member; [] when valid."""
    if not isinstance(params, dict):
        return ["The request body must be a JSON object"]
    shape = op.input_shape
    if shape is None:
        return [f"Unknown parameter in input: {k!r}, the operation takes none" for k in params]
    params = drop_nulls(params)
    report = ParamValidator().validate(params, shape)
    problems = [_short(line) for line in report.generate_report().splitlines()] if report.has_errors() else []
    _enum_errors(params, shape, "", problems)
    return problems


# ------------------------------------------------------------------------------------ query protocol (ELBv2)


def _parse_scalar(text: str, shape: Shape, name: str, problems: list[str]) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        problems.append(f"Invalid type for parameter {name}, value: {text!r}, valid types: {kind}")
        return None
    if kind == "boolean":
        if text not in ("true", "false"):
            problems.append(f"Invalid type for parameter {name}, value: {text!r}, valid types: boolean")
            return None
        return text == "true"
    return text


def _from_query(flat: dict[str, str], prefix: str, shape: Shape, used: set[str], problems: list[str]) -> Any:
    """Rebuild the value at `prefix` from flat query parameters (botocore's QuerySerializer, backwards)."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for key, member in shape.members.items():
            wire = member.serialization.get("name", key)
            sub = f"{prefix}.{wire}" if prefix else wire
            if sub in flat or any(k.startswith(sub + ".") for k in flat):
                value = _from_query(flat, sub, member, used, problems)
                if value is not None:
                    out[key] = value
        return out
    if kind == "list":
        flattened = shape.serialization.get("flattened")
        item_name = shape.member.serialization.get("name", "member")
        base = prefix if flattened else f"{prefix}.{item_name}"
        if flat.get(prefix) == "" and not flattened:  # an empty list: `Name=`
            used.add(prefix)
            return []
        items = []
        i = 1
        while f"{base}.{i}" in flat or any(k.startswith(f"{base}.{i}.") for k in flat):
            items.append(_from_query(flat, f"{base}.{i}", shape.member, used, problems))
            i += 1
        return items
    if kind == "map":
        result: dict[str, Any] = {}
        i = 1
        while f"{prefix}.entry.{i}.key" in flat:
            used.add(f"{prefix}.entry.{i}.key")
            result[flat[f"{prefix}.entry.{i}.key"]] = _from_query(flat, f"{prefix}.entry.{i}.value", shape.value, used, problems)
            i += 1
        return result
    if prefix not in flat:
        return None
    used.add(prefix)
    return _parse_scalar(flat[prefix], shape, prefix, problems)


def query_params(op: OperationModel, flat: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The structured input of a query-protocol request and the problems found while parsing it (unknown
    parameters, unparsable scalars). `Action` and `Version` are the protocol's own."""
    problems: list[str] = []
    used = {"Action", "Version"}
    params = _from_query(flat, "", op.input_shape, used, problems) if op.input_shape is not None else {}
    for key in sorted(set(flat) - used):
        problems.append(f"Unknown parameter in input: {key!r}")
    return params, problems


# ------------------------------------------------------------------------------------------------ requests


_JSON_TARGET = re.compile(r"^[A-Za-z0-9_]+\.([A-Za-z0-9]+)$")


def is_mutating(action: str) -> bool:
    """Mutating calls are recorded with their body: any action that is not a read."""
    return bool(action) and not action.startswith(("Describe", "List", "Get", "BatchGet"))


def check_json(service: str, action: str, body: bytes) -> tuple[Any, list[str], str] | None:
    """A JSON-protocol request of a checked service: (parsed body, problems, error type); None if not checked."""
    model = service_model(service)
    if model is None or model.protocol not in ("json",):
        return None
    op = operation(model, action)
    if op is None:
        return body_json(body), [f"Unknown operation {action!r} for {model.service_name}"], "UnknownOperationException"
    params = body_json(body)
    if params is _UNPARSABLE:
        return None, ["The request body is not valid JSON"], "SerializationException"
    return params, validate(op, params), error_type(op)


def check_query(service: str, form: dict[str, str]) -> tuple[dict[str, Any], list[str], str] | None:
    """A query-protocol request (ELBv2) of a checked service; None if not checked (or classic ELB)."""
    model = service_model(service)
    if model is None or model.protocol != "query" or form.get("Version") != model.api_version:
        return None
    op = operation(model, form.get("Action", ""))
    if op is None:
        return {}, [f"Unknown operation {form.get('Action')!r} for {model.service_name}"], "InvalidAction"
    params, problems = query_params(op, form)
    if not problems:
        problems = validate(op, params)
    return params, problems, "ValidationError"


class _Unparsable:
    pass


_UNPARSABLE = _Unparsable()


def body_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return _UNPARSABLE


def message(problems: list[str]) -> str:
    """One message for the client: AWS's style of '1 validation error detected: ...'."""
    n = len(problems)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(problems)


def json_error(kind: str, msg: str) -> tuple[str, list[tuple[str, str]], bytes]:
    data = json.dumps({"__type": kind, "message": msg}).encode()
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", kind),
                               ("Content-Length", str(len(data)))], data


def query_error(kind: str, msg: str) -> tuple[str, list[tuple[str, str]], bytes]:
    from xml.sax.saxutils import escape

    data = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{kind}</Code><Message>{escape(msg)}</Message></Error>"
            "<RequestId>cortado-sim-validation</RequestId></ErrorResponse>").encode()
    return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))], data


def append_invalid(entry: dict[str, Any], body: Any) -> None:
    """CORTADO_SIM_INVALID_LOG: one JSON line per invalid request."""
    if not INVALID_LOG:
        return
    line = json.dumps({"service": entry.get("service"), "action": entry.get("action"), "region": entry.get("region"),
                       "invalid": entry.get("invalid"), "body": body}, default=str)
    with _FILE_LOCK, open(INVALID_LOG, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back so moto reads it too."""
    import io

    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def inspect(environ: dict[str, Any], entry: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """Records a mutating JSON call's body in its call-log entry and checks the request of a checked service.
    Returns the 400 answer when the request is invalid and the mode is `reject`; None to serve it."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    service, action = entry.get("service", ""), entry.get("action", "")
    is_form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
    if not target and not (is_form and service in MODELS):
        return None
    body = _read_body(environ)
    if target:
        # Reads too: a test attributes a service's polls (DescribeServices) to the member that waits.
        parsed = body_json(body)
        entry["body"] = None if parsed is _UNPARSABLE else parsed
    mode = REGION_MODES.get(entry.get("region", ""), MODE)
    if mode == "off":
        return None
    if target:
        result = check_json(service, action, body)
        answer = json_error
    else:
        from urllib.parse import parse_qs

        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        form.update({k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()})
        result = check_query(service, form)
        answer = query_error
    if result is None or not result[1]:
        return None
    params, problems, kind = result
    entry["invalid"] = message(problems)
    append_invalid(entry, None if params is _UNPARSABLE else params)
    if mode != "reject":
        return None
    return answer(kind, entry["invalid"])
