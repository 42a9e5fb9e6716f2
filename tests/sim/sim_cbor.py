"""Smithy RPC v2 CBOR in front of moto, for services moto answers only in JSON.

aws-sdk-rust's CloudWatch client (1.140) speaks only `smithy-rpc-v2-cbor`
(`POST /service/GraniteServiceVersion20100801/operation/GetMetricData`, `smithy-protocol: rpc-v2-cbor`,
a CBOR body); moto 5.2.5 has no CBOR codec and answers such a request as an S3 bucket named
`service`. This bridge decodes the request with botocore's own CBOR parser, hands moto the same
operation in the awsJson 1.0 protocol it does serve (`X-Amz-Target: GraniteServiceVersion20100801.Op`),
and encodes moto's answer back to CBOR with botocore's serializer and the operation's output shape,
as the protocol specifies: timestamps as tag 1 epoch seconds, errors as a map with `__type` and
`message` and the HTTP status kept. Only the services in `BRIDGED` are touched.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import threading
from typing import Any, Callable, Iterable

from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

# Credential-scope service name → botocore service name, for the services bridged.
BRIDGED = {"monitoring": "cloudwatch"}

_PATH = re.compile(r"^/service/([^/]+)/operation/([A-Za-z0-9]+)$")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def _service(environ: dict[str, Any]) -> str | None:
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def _model(service: str) -> Any:
    with _MODELS_LOCK:
        if service not in _MODELS:
            import botocore.session

            _MODELS[service] = botocore.session.get_session().get_service_model(service)
        return _MODELS[service]


def _decode(raw: bytes) -> Any:
    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(raw))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(f"cannot bridge {type(value).__name__}")


def _fit(value: Any, shape: Any) -> Any:
    """`value` with only what `shape` declares (moto adds keys the model lacks)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _fit(v, shape.members[k]) for k, v in value.items() if k in shape.members and v is not None}
    if kind == "list" and isinstance(value, list):
        return [_fit(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _fit(v, shape.value) for k, v in value.items()}
    return value


def _encode(value: Any, shape: Any) -> bytes:
    out = bytearray()
    RpcV2CBORSerializer()._serialize_data_item(out, _fit(value, shape), shape)
    return bytes(out)


def _encode_error(data: dict[str, Any]) -> bytes:
    """An error document: a CBOR map of strings (`__type`, `message`)."""
    out = bytearray()
    ser = RpcV2CBORSerializer()
    fields = {"__type": str(data.get("__type", "InternalFailure")), "message": str(data.get("message", data.get("Message", "")))}
    ser._serialize_type_map(out, fields, _StringMap(), None)
    return bytes(out)


class _StringShape:
    type_name = "string"
    serialization: dict[str, Any] = {}


class _StringMap:
    """Just enough of a botocore map shape of strings to strings for the serializer."""

    type_name = "map"
    key = _StringShape()
    value = _StringShape()
    serialization: dict[str, Any] = {}


class Bridge:
    """WSGI app: CBOR requests for `BRIDGED` services go to `app` as awsJson 1.0, and back."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        m = _PATH.match(environ.get("PATH_INFO", ""))
        service = BRIDGED.get(_service(environ) or "")
        if not m or service is None or environ.get("HTTP_SMITHY_PROTOCOL") != "rpc-v2-cbor":
            return self.app(environ, start_response)
        target, operation = m.groups()
        size = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(size) if size else b""
        params = _decode(raw) if raw else {}
        body = json.dumps(params, default=_json_default).encode()
        env = dict(environ)
        env.pop("HTTP_SMITHY_PROTOCOL", None)
        env.update({
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "HTTP_X_AMZ_TARGET": f"{target}.{operation}",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        })
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda _: None

        chunks = self.app(env, capture)
        try:
            out = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status = answer.get("status", "500 Internal Server Error")
        data = json.loads(out) if out.strip() else {}
        if int(status.split()[0]) < 300:
            shape = _model(service).operation_model(operation).output_shape
            payload = _encode(data, shape) if shape is not None else b""
        else:
            payload = _encode_error(data)
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(payload)))]
        headers += [(k, v) for k, v in answer.get("headers", []) if k.lower() in ("x-amzn-requestid", "x-amzn-query-error")]
        start_response(status, headers)
        return [payload]
