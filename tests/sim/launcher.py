#!/usr/bin/env python3
"""cortado's local AWS simulator: moto 5.2.5 in-process, patched, plus /_cortado/ control endpoints.

    $(bash tests/sim/setup.sh) tests/sim/launcher.py [--port N] [--progress poll|time] [--step-seconds S]
                                                     [--no-stdin-watch]

Prints one line `READY http://127.0.0.1:PORT` when the server answers; stops at stdin EOF (unless
--no-stdin-watch), SIGTERM or SIGINT. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sim_models  # noqa: E402  (before moto: one parse of each botocore model per process)

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.core.responses import BaseResponse  # noqa: E402
from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

import sim_cbor  # noqa: E402
import sim_codedeploy  # noqa: E402
import sim_daemons  # noqa: E402
import sim_deployments  # noqa: E402
import sim_ecs  # noqa: E402
import sim_express  # noqa: E402
import sim_faults  # noqa: E402
import sim_seed  # noqa: E402
import sim_validate  # noqa: E402
from sim_common import CLOCK  # noqa: E402

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_RPC_V2 = re.compile(r"^/service/[^/]+/operation/([^/?]+)")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CallLog:
    """Every AWS request the server received: service (signing name), action, region, account, and
    the fault injected into it (`fault`, `latencyMs`, `armed`, `idempotent`; see sim_faults.py)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.current = threading.local()  # the record of the request this thread is serving

    def record(self, environ: dict[str, Any]) -> dict[str, str] | None:
        if sim_seed.SEED_USER_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return None
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _SCOPE.search(
            "Credential=" + (parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential") or [""])[0]
        )
        region, service = scope.groups() if scope else ("", "")
        entry = {
            "service": service,
            "action": _action(environ),
            "region": region,
            "account": environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID,
            "time": time.time(),
        }
        resource = _resource(environ, service, entry["action"])
        if resource:
            entry["resource"] = resource
        with self.lock:
            self.calls.append(entry)
        return entry


def _s3_object_action(entry: dict[str, Any], method: str, path: str) -> str:
    """moto answers some object requests (conditional PUT/DELETE) without resolving an action name."""
    if entry.get("service") != "s3" or path.strip("/").count("/") < 1:
        return ""
    return {"PUT": "PutObject", "DELETE": "DeleteObject", "GET": "GetObject", "HEAD": "HeadObject"}.get(method, "")


def _resource(environ: dict[str, Any], service: str, action: str) -> str:
    """What a call acted on, where tests need it: an S3 call's path, an ECS service change's service."""
    if service == "s3":
        return environ.get("PATH_INFO", "")
    if service == "ecs" and action in ("UpdateService", "CreateService", "DeleteService"):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return ""
        name = doc.get("service") or doc.get("serviceName") or ""
        return f"{doc.get('cluster', 'default')}/{name}"
    return ""


def _action(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    path = environ.get("PATH_INFO", "")
    m = _RPC_V2.match(path)
    if m:
        return m.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    return ""  # REST protocols: filled in from moto's own routing, see _patch_action_capture()


CALLS = CallLog()
CONDITIONAL_WRITES = threading.Lock()


def _patch_kms_digest() -> None:
    """KMS Sign with MessageType=DIGEST signs the given digest as the hash; moto hashes it again."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
    from moto.kms.responses import KmsResponse

    original = KmsResponse.sign
    algorithms = {"ECDSA_SHA_256": hashes.SHA256, "ECDSA_SHA_384": hashes.SHA384, "ECDSA_SHA_512": hashes.SHA512}

    def sign(self: KmsResponse) -> str:
        algorithm = algorithms.get(self._get_param("SigningAlgorithm") or "")
        if self._get_param("MessageType") != "DIGEST" or algorithm is None:
            return original(self)
        import base64

        key = self.kms_backend.describe_key(self._get_param("KeyId"))
        digest = self._get_param("Message")
        if isinstance(digest, str):
            digest = digest.encode("utf-8")
        signature = key.private_key.private_key.sign(digest, ec.ECDSA(asym_utils.Prehashed(algorithm())))
        return json.dumps({"KeyId": key.arn, "Signature": base64.b64encode(signature).decode(), "SigningAlgorithm": self._get_param("SigningAlgorithm")})

    KmsResponse.sign = sign  # type: ignore[method-assign]


def _patch_action_capture() -> None:
    """REST services (S3...) have no action in the request; take the one moto's router resolves."""
    original = BaseResponse._get_action

    def _get_action(self: BaseResponse) -> str:
        action = original(self)
        entry = getattr(CALLS.current, "entry", None)
        if entry is not None and not entry["action"] and action:
            entry["action"] = action
        return action

    BaseResponse._get_action = _get_action  # type: ignore[method-assign]


class Middleware:
    """Serves /_cortado/* and records calls; everything else goes to moto unchanged."""

    def __init__(self, app: WSGIApp, base_url: Callable[[], str]):
        # CloudWatch in aws-sdk-rust speaks only CBOR, which moto lacks (sim_cbor.py).
        self.app, self.base_url = sim_cbor.Bridge(app), base_url

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_cortado/"):
            return self.control(environ, start_response, path[len("/_cortado/") :].rstrip("/"))
        entry = None if path.startswith("/moto-api") else CALLS.record(environ)
        if entry is not None:
            refused = sim_validate.inspect(environ, entry)  # records `body` and `invalid` (sim_validate.py)
            if refused is not None:
                status, headers, data = refused
                start_response(status, headers)
                return [data]
        CALLS.current.entry = entry
        conditional = environ.get("REQUEST_METHOD") in ("PUT", "DELETE") and (
            "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ)
        try:
            if conditional:
                # S3 decides a conditional write atomically; moto checks, then writes, unlocked, so
                # two racing PUTs with If-None-Match: * could both succeed. Serialise them.
                with CONDITIONAL_WRITES:
                    result = list(sim_faults.handle(self.app, environ, start_response, entry))
            else:
                result = sim_faults.handle(self.app, environ, start_response, entry)
        finally:
            CALLS.current.entry = None
        if entry is not None and not entry["action"]:
            entry["action"] = _s3_object_action(entry, environ.get("REQUEST_METHOD", ""), path) or f"{environ.get('REQUEST_METHOD')} {path}"
        return result

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any], name: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        size = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(size) if size else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            if name == "seed" and method == "POST":
                status, payload = 200, sim_seed.seed(self.base_url(), body)
            elif name == "calls" and method in ("POST", "GET"):
                with CALLS.lock:
                    status, payload = 200, {"calls": list(CALLS.calls)}
            elif name == "calls" and method == "DELETE":
                with CALLS.lock:
                    CALLS.calls.clear()
                status, payload = 200, {"calls": []}
            elif name == "config":
                if method == "POST":
                    CLOCK.configure(body.get("progress"), body.get("stepSeconds"), body.get("minuteSteps"))
                    if "strict" in body:
                        sim_validate.set_mode(str(body["strict"]), body.get("region"))
                status, payload = 200, {**CLOCK.as_dict(), "strict": sim_validate.MODE}
            elif name == "faults" and method == "POST":
                status, payload = 200, sim_faults.FAULTS.configure(body)
            elif name == "faults" and method == "GET":
                status, payload = 200, sim_faults.FAULTS.as_dict()
            elif name == "faults" and method == "DELETE":
                region = (parse_qs(environ.get("QUERY_STRING", "")).get("region") or [body.get("region")])[0]
                status, payload = 200, sim_faults.FAULTS.clear(region)
            elif name == "overlaps":
                status, payload = 200, {"overlaps": dict(sim_ecs.OVERLAPS)}
            elif name == "health":
                status, payload = 200, {"status": "ok"}
            else:
                status, payload = 404, {"error": f"no such endpoint: {method} /_cortado/{name}"}
        except sim_seed.AlreadySeeded as e:
            status, payload = 409, {"error": str(e)}
        except ValueError as e:
            status, payload = 400, {"error": str(e)}
        except Exception as e:  # a seed that hits an AWS error, etc.
            status, payload = 500, {"error": f"{type(e).__name__}: {e}"}
        data = json.dumps(payload, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


# The dispatcher with its services' Flask apps: made ahead in a fork server, so that every simulator
# forked from it starts with them (see fork_server()).
_DISPATCHER: DomainDispatcherApplication | None = None

# The services the tests use: imported, their botocore models parsed and their Flask apps made once
# in a fork server instead of once per simulator.
WARM_SERVICES = ("ecs", "ec2", "iam", "sts", "logs", "ecr", "elbv2", "ssm", "secretsmanager", "cloudformation",
                 "applicationautoscaling", "s3", "codedeploy", "cloudwatch", "kms", "lambda", "servicediscovery",
                 "autoscaling")


class SimServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = Middleware(_DISPATCHER or DomainDispatcherApplication(create_backend_app), self.url)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.1)

    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def _warm_up() -> None:
    """Import the services tests touch first, so their first call does not pay the lazy import."""
    import importlib

    for name in ("ec2", "iam", "sts", "logs", "ecr", "elbv2", "ssm", "secretsmanager", "cloudformation",
                 "applicationautoscaling", "s3"):
        try:
            importlib.import_module(f"moto.{name}.responses")
            importlib.import_module(f"moto.{name}.urls")
        except Exception:
            pass


def _preload() -> None:
    """What a simulator would otherwise do lazily on its first calls, done once before forking:
    the services' modules, their botocore models and regions, and their Flask apps."""
    global _DISPATCHER
    import importlib

    from moto.core.base_backend import AccountSpecificBackend
    from moto.core.utils import get_service_model

    _warm_up()
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for name in WARM_SERVICES:
        try:
            importlib.import_module(f"moto.{name}.models")
            dispatcher.app_instances[name] = create_backend_app(name)  # type: ignore[arg-type]
        except Exception:
            pass
    for name in ("ecs", "ec2", "iam", "sts", "logs", "ecr", "elbv2", "ssm", "secretsmanager", "cloudformation",
                 "application-autoscaling", "s3", "codedeploy", "monitoring", "kms", "lambda", "servicediscovery"):
        try:
            get_service_model(name)
            AccountSpecificBackend.get_session().get_available_regions(name)
        except Exception:
            pass
    _DISPATCHER = dispatcher


def serve(args: argparse.Namespace, out: Any, until_eof: Callable[[], None] | None) -> None:
    """Runs one simulator: READY URL on `out`, then serves until a signal or `until_eof` returns."""
    server = SimServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    url = server.url()
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/_cortado/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.02)
    out.write(f"READY {url}\n")
    out.flush()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if until_eof is not None:
        def watch() -> None:
            until_eof()
            stop.set()

        threading.Thread(target=watch, daemon=True).start()
    if not args.no_warm_up and _DISPATCHER is None:
        threading.Thread(target=_warm_up, daemon=True).start()
    while not stop.wait(0.5):
        pass
    server._server_ready_event.clear()
    if server._server:
        server._server.shutdown()
    sys.stdout.flush()
    os._exit(0)  # request threads may still hold moto locks; do not wait for them


def _reap(wait_seconds: float = 0) -> None:
    """Reaps the ended simulators; with `wait_seconds`, waits that long for the rest to end."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)


def fork_server(args: argparse.Namespace) -> int:
    """A simulator per connection to the Unix socket `args.fork_server`, forked from this process.

    Every test process needs a simulator of its own, and each one used to spend seconds of CPU
    importing moto and parsing botocore models before its first answer (tests/sim/README.md,
    "Cost"). This process does that once; each connection gets a forked child with a fresh state
    on a port of its own, which writes `READY URL` to the connection and lives until the test
    process closes it. It ends when its standard input does (its parent, scripts/run-tests.py).
    Single-threaded, so that forking is safe.
    """
    import random
    import selectors
    import socket

    _preload()
    # Children are reaped here, not by the kernel (SIG_IGN): so their CPU time counts in this
    # process's, which scripts/run-tests.py reports as the simulators' share of the run.
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(args.fork_server):
        os.unlink(args.fork_server)
    listener.bind(args.fork_server)
    listener.listen(64)
    print(f"FORK-SERVER {args.fork_server}", flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(sys.stdin.buffer, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is not listener:
                if not sys.stdin.buffer.read1(65536):
                    listener.close()
                    os.unlink(args.fork_server)
                    _reap(wait_seconds=10)
                    return 0
                continue
            conn, _ = listener.accept()
            if os.fork() == 0:
                sel.close()
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                random.seed()  # each simulator its own ids, as when each was started alone
                out = conn.makefile("w")

                def until_eof() -> None:
                    try:
                        while conn.recv(65536):
                            pass
                    except OSError:
                        pass

                serve(args, out, until_eof)
            conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--progress", choices=("poll", "time"), default="poll",
                    help="poll: one step per Describe call (default); time: one step per --step-seconds")
    ap.add_argument("--step-seconds", type=float, default=1.0, help="step length in time mode (default 1.0)")
    ap.add_argument("--no-stdin-watch", action="store_true", help="do not exit at stdin EOF (signals only)")
    ap.add_argument("--access-log", action="store_true", help="log every request to stderr (werkzeug)")
    ap.add_argument("--no-warm-up", action="store_true", help="do not pre-import service modules after READY")
    ap.add_argument("--fork-server", metavar="SOCKET",
                    help="serve a fresh simulator, forked from this process, to each connection to this Unix socket")
    args = ap.parse_args()
    CLOCK.configure(args.progress, args.step_seconds)
    if not args.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    sim_ecs.install()
    sim_deployments.install()
    sim_daemons.install()
    sim_express.install()
    sim_codedeploy.install()
    _patch_action_capture()
    _patch_kms_digest()

    if args.fork_server:
        return fork_server(args)

    def stdin_eof() -> None:
        try:
            while sys.stdin.buffer.read1(65536):
                pass
        except (OSError, ValueError):
            pass

    serve(args, sys.stdout, None if args.no_stdin_watch else stdin_eof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
