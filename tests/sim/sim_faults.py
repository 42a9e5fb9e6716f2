"""Fault injection and client-token idempotency for the simulator's WSGI middleware.

A test configures faults at run time (`POST /_cortado/faults`, see README.md): per service,
operation and region, a probability of ThrottlingException, 500, 503, a reset connection, added
latency, a lost response (the request is applied, then the connection is dropped) or a stale
DescribeServices right after an update. Decisions are seeded: whether rule `i` fires on the n-th
call of an operation is a function of (seed, service, operation, n, i) only, so the same client
behaviour meets the same faults whatever else runs in parallel against the simulator.

RunTask and CreateService honour `clientToken` here, as ECS documents: the same token with the same
parameters answers the first call's result again, without running anything twice.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import threading
import time
import uuid
from typing import Any, Callable, Iterable

KINDS = ("throttle", "500", "503", "reset", "latency", "lost_response", "stale_describe")

# Operations a stale_describe rule watches when it names none: the calls after which ECS may still
# answer DescribeServices with the service as it was.
_STALE_TRIGGERS = ("UpdateService", "CreateService")
_TOKEN_OPERATIONS = ("RunTask", "CreateService")
# Kinds that combine with one other fault on the same call (a lost answer to an update that also
# arms a stale read, say).
_COMBINABLE = ("latency", "stale_describe")


class Rule:
    def __init__(self, raw: dict[str, Any], index: int) -> None:
        if not isinstance(raw, dict):
            raise ValueError(f"rules[{index}] must be an object")
        unknown = set(raw) - {"service", "operation", "region", "kind", "probability", "latency_ms", "count", "after"}
        if unknown:
            raise ValueError(f"rules[{index}]: unknown key(s) {sorted(unknown)}")
        self.index = index
        self.kind = str(raw.get("kind", ""))
        if self.kind not in KINDS:
            raise ValueError(f"rules[{index}].kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        self.service = raw.get("service")
        op = raw.get("operation")
        if op is None and self.kind == "stale_describe":
            op = list(_STALE_TRIGGERS)
        self.operations = None if op is None else ([op] if isinstance(op, str) else list(op))
        self.region = raw.get("region")
        try:
            self.probability = float(raw.get("probability", 1.0))
        except (TypeError, ValueError):
            raise ValueError(f"rules[{index}].probability must be a number") from None
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"rules[{index}].probability must be within 0..1")
        self.latency_ms = int(raw.get("latency_ms", 2000 if self.kind == "latency" else 0))
        self.count = raw.get("count")  # fire at most this many times (None: unlimited)
        self.after = raw.get("after")  # active only once this operation has succeeded in the profile
        self.fired = 0

    def matches(self, service: str, operation: str, region: str) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.operations is None or operation in self.operations)
            and (self.region is None or self.region == region)
            and (self.count is None or self.fired < int(self.count))
        )

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "operation": self.operations, "region": self.region,
                "probability": self.probability, "latency_ms": self.latency_ms, "count": self.count,
                "after": self.after, "fired": self.fired}


class Profile:
    """One POST's rules, scoped to a region (or to every region), with its own seed and counters."""

    def __init__(self, body: dict[str, Any]) -> None:
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise ValueError("faults need `rules`, a list")
        self.seed = body.get("seed", 0)
        self.region = body.get("region")
        self.rules = [Rule(r, i) for i, r in enumerate(rules)]
        self.calls: dict[tuple[str, str], int] = {}
        self.seen_ok: set[str] = set()

    def draw(self, service: str, operation: str, region: str) -> list[Rule]:
        """The rules that fire for this call (at most one that is not latency or stale_describe, first wins)."""
        n = self.calls.get((service, operation), 0)
        self.calls[(service, operation)] = n + 1
        fired: list[Rule] = []
        blocking = False
        for rule in self.rules:
            if not rule.matches(service, operation, region) or (rule.after and rule.after not in self.seen_ok):
                continue
            if rule.kind not in _COMBINABLE and blocking:
                continue
            rng = random.Random(f"{self.seed}|{service}|{operation}|{n}|{rule.index}")
            if rng.random() < rule.probability:
                rule.fired += 1
                fired.append(rule)
                blocking = blocking or rule.kind not in _COMBINABLE
        return fired


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.profiles: dict[str | None, Profile] = {}
        self.stale: dict[tuple[str, str, str], str] = {}  # (account, region, service) -> trigger operation
        self.views: dict[tuple[str, str, str], tuple[str, list[Any], bytes]] = {}  # last DescribeServices answer
        self.tokens: dict[tuple[str, str, str, str], tuple[str, tuple[str, list[Any], bytes]]] = {}

    # --- control endpoint ---
    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        profile = Profile(body)
        with self.lock:
            self.profiles[profile.region] = profile
        return self.as_dict()

    def clear(self, region: str | None) -> dict[str, Any]:
        with self.lock:
            if region is None:
                self.profiles.clear()
                self.stale.clear()
            else:
                self.profiles.pop(region, None)
                for k in [k for k in self.stale if k[1] == region]:
                    del self.stale[k]
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"profiles": [{"region": p.region, "seed": p.seed, "rules": [r.as_dict() for r in p.rules]}
                                 for p in self.profiles.values()]}

    def _profiles_for(self, region: str) -> list[Profile]:
        return [p for key, p in self.profiles.items() if key is None or key == region]

    def draw(self, service: str, operation: str, region: str) -> list[Rule]:
        with self.lock:
            fired: list[Rule] = []
            for p in self._profiles_for(region):
                fired += p.draw(service, operation, region)
            return fired

    def succeeded(self, operation: str, region: str) -> None:
        with self.lock:
            for p in self._profiles_for(region):
                p.seen_ok.add(operation)


FAULTS = Faults()


def _read_body(environ: dict[str, Any]) -> bytes:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    import io

    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _protocol(environ: dict[str, Any], service: str) -> str:
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("PATH_INFO", "").startswith("/service/"):
        return "rpcv2"
    ctype = environ.get("CONTENT_TYPE", "")
    if "Action=" in environ.get("QUERY_STRING", "") or ctype.startswith("application/x-www-form-urlencoded"):
        return "ec2" if service == "ec2" else "query"
    return "rest-xml"


# (status, JSON code, query code, EC2 code, REST code, message) per injected error.
_ERRORS = {
    "throttle": (400, "ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown", "Rate exceeded"),
    "500": (500, "ServerException", "InternalFailure", "InternalError", "InternalError", "Internal server error (injected)"),
    "503": (503, "ServiceUnavailableException", "ServiceUnavailable", "Unavailable", "ServiceUnavailable",
            "Service unavailable (injected)"),
}


def error_response(kind: str, environ: dict[str, Any], service: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The error as the service's protocol shapes it (what the SDK parses into a code)."""
    status, json_code, query_code, ec2_code, rest_code, message = _ERRORS[kind]
    proto = _protocol(environ, service)
    rid = str(uuid.uuid4())
    if proto == "json":
        body = json.dumps({"__type": json_code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", json_code), ("x-amzn-RequestId", rid)]
    elif proto == "query":
        side = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{side}</Type><Code>{query_code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>{rid}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    elif proto == "ec2":
        status = 503 if kind == "throttle" else status
        body = (f"<Response><Errors><Error><Code>{ec2_code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>").encode()
        headers = [("Content-Type", "text/xml")]
    elif proto == "rest-xml":
        status = 503 if kind == "throttle" else status
        body = f"<Error><Code>{rest_code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>".encode()
        headers = [("Content-Type", "application/xml")]
    else:  # rpc-v2 CBOR: no body the SDK would misread; the status alone is retried as transient
        status = 503 if kind == "throttle" else status
        body, headers = b"", [("smithy-protocol", "rpc-v2-cbor")]
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    return f"{status} {reason}", headers + [("Content-Length", str(len(body)))], body


def reset_connection(environ: dict[str, Any]) -> bool:
    """Closes the client's TCP connection with a RST (SO_LINGER 0), as a dropped load balancer would.

    werkzeug hands the raw socket in `werkzeug.socket`. Its last file descriptor is replaced (dup2)
    by one end of a socket pair whose other end is closed: the kernel closes the real connection
    with a RST at once, and werkzeug's own writes afterwards fail with a broken pipe, which it treats
    as a client that went away. False when the server gives no socket.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        a, b = socket.socketpair()
        b.close()
        os.dup2(a.fileno(), sock.fileno())
        a.close()
        return True
    except OSError:
        return False


def _service_key(name: str) -> str:
    return name.split("/")[-1]


def _canonical(body: dict[str, Any]) -> str:
    rest = {k: v for k, v in body.items() if k != "clientToken"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"))


def _capture(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, list[Any], bytes]:
    got: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Callable[[bytes], None]:
        got["status"], got["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        chunks = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return got.get("status", "500 Internal Server Error"), got.get("headers", []), b"".join(written) + chunks


def handle(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Callable[..., Any],
           entry: dict[str, Any] | None) -> Iterable[bytes]:
    """Serves one AWS request through the fault rules and the client-token cache."""
    if entry is None:
        return app(environ, start_response)
    service, op, region, account = entry["service"], entry["action"], entry["region"], entry["account"]
    fired = FAULTS.draw(service, op, region) if FAULTS.profiles else []
    latency = sum(r.latency_ms for r in fired if r.kind == "latency")
    fault = next((r.kind for r in fired if r.kind not in _COMBINABLE), None)
    stale = any(r.kind == "stale_describe" for r in fired)
    if latency:
        entry["latencyMs"] = latency
        time.sleep(latency / 1000.0)
    if fault in ("throttle", "500", "503"):
        entry["fault"] = fault
        status, headers, body = error_response(fault, environ, service)
        start_response(status, headers)
        return [body]
    if fault == "reset":
        entry["fault"] = "reset"
        if reset_connection(environ):
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        fault = None  # no raw socket: answered normally (documented)

    is_ecs_json = service == "ecs" and environ.get("HTTP_X_AMZ_TARGET")
    req: dict[str, Any] = {}
    if is_ecs_json and op in ("DescribeServices", "UpdateService", "CreateService", "RunTask"):
        try:
            req = json.loads(_read_body(environ) or b"{}")
        except ValueError:
            req = {}

    # A stale DescribeServices: the view the client last saw before the update, once.
    if is_ecs_json and op == "DescribeServices" and len(req.get("services") or []) == 1:
        key = (account, region, _service_key(req["services"][0]))
        with FAULTS.lock:
            trigger = FAULTS.stale.pop(key, None)
            view = FAULTS.views.get(key)
        if trigger == "CreateService" or (trigger and view):
            entry["fault"] = "stale_describe"
            if trigger == "CreateService":
                arn = f"arn:aws:ecs:{region}:{account}:service/{req.get('cluster', 'default')}/{key[2]}"
                data = json.dumps({"services": [], "failures": [{"arn": arn, "reason": "MISSING"}]}).encode()
                status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
            else:
                status, headers, data = view  # type: ignore[misc]
            start_response(status, headers)
            return [data]

    # The same clientToken and parameters: the first answer again.
    token_key = None
    if is_ecs_json and op in _TOKEN_OPERATIONS and isinstance(req.get("clientToken"), str) and req["clientToken"]:
        token_key = (account, region, op, req["clientToken"])
        with FAULTS.lock:
            cached = FAULTS.tokens.get(token_key)
        if cached is not None:
            params, answer = cached
            if params == _canonical(req):
                entry["idempotent"] = "replayed"
                status, headers, data = answer
            else:
                entry["idempotent"] = "mismatch"
                data = json.dumps({"__type": "InvalidParameterException",
                                   "message": "The client token was already used with different parameters."}).encode()
                status, headers = "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
            if fault == "lost_response":
                entry["fault"] = "lost_response"
                reset_connection(environ)
            start_response(status, headers)
            return [data]

    if not (FAULTS.profiles or token_key is not None or (is_ecs_json and op == "DescribeServices")):
        return app(environ, start_response)
    status, headers, data = _capture(app, environ)
    ok = status.startswith("2")
    if ok:
        FAULTS.succeeded(op, region)
    if ok and op == "DescribeServices" and len(req.get("services") or []) == 1:
        with FAULTS.lock:
            FAULTS.views[(account, region, _service_key(req["services"][0]))] = (status, headers, data)
    if ok and token_key is not None:
        with FAULTS.lock:
            FAULTS.tokens[token_key] = (_canonical(req), (status, headers, data))
    if ok and stale:
        name = req.get("service") if op == "UpdateService" else req.get("serviceName")
        if name:
            entry["armed"] = "stale_describe"
            with FAULTS.lock:
                FAULTS.stale[(account, region, _service_key(name))] = op
    if fault == "lost_response":
        entry["fault"] = "lost_response"
        if reset_connection(environ):
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
    start_response(status, headers)
    return [data]
