"""The REST-JSON wire protocol of both AgentCore planes, read from the botocore model.

Routes, member locations, constraints and enums all come from the service models that
ship with botocore, so the emulator speaks exactly the protocol boto3 speaks, and a new
model version changes the emulator without anyone retyping shapes from the docs.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

DATA_PLANE = "bedrock-agentcore"
CONTROL_PLANE = "bedrock-agentcore-control"
SIGNING_NAME = "bedrock-agentcore"  # both planes sign with it (model metadata signingName)

DATA_OPERATIONS = (
    "StartCodeInterpreterSession",
    "GetCodeInterpreterSession",
    "ListCodeInterpreterSessions",
    "StopCodeInterpreterSession",
    "InvokeCodeInterpreter",
)
CONTROL_OPERATIONS = (
    "GetCodeInterpreter",
    "ListCodeInterpreters",
    "CreateCodeInterpreter",
    "DeleteCodeInterpreter",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)


class AwsError(Exception):
    """An error the service answers with: a modeled code, its HTTP status, a message."""

    def __init__(self, code: str, message: str, status: int, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


def load_models() -> dict[str, ServiceModel]:
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in (DATA_PLANE, CONTROL_PLANE)}


def interpreter_id_pattern() -> str:
    """The control plane's codeInterpreterId pattern: what a seeded interpreter's id must match."""
    shape = load_models()[CONTROL_PLANE].operation_model("GetCodeInterpreter").input_shape
    assert shape is not None
    return str(shape.members["codeInterpreterId"].metadata["pattern"])


@dataclass(frozen=True)
class Route:
    service: str
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]

    @property
    def name(self) -> str:
        return str(self.operation.name)


def _compile_uri(template: str) -> re.Pattern[str]:
    """`/code-interpreters/{id}/sessions/start` -> a regex over the raw (undecoded) path."""
    path = template.split("?", 1)[0]
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            label = part[1:-1]
            greedy = label.endswith("+")
            regex += f"(?P<{label.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class Protocol:
    """Routes requests to operations and converts between HTTP and the model's shapes."""

    def __init__(self, models: Mapping[str, ServiceModel] | None = None) -> None:
        self.models = dict(models or load_models())
        self.routes: list[Route] = []
        for service, names in ((DATA_PLANE, DATA_OPERATIONS), (CONTROL_PLANE, CONTROL_OPERATIONS)):
            model = self.models[service]
            for name in names:
                op = model.operation_model(name)
                self.routes.append(Route(service, op, op.http["method"], _compile_uri(op.http["requestUri"])))
        # Longer templates first, so `/code-interpreters/{id}` never shadows a sessions route.
        self.routes.sort(key=lambda r: -len(r.pattern.pattern))

    def operation(self, name: str) -> OperationModel:
        for route in self.routes:
            if route.name == name:
                return route.operation
        raise KeyError(name)

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(raw_path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def parse_input(
        self, route: Route, labels: Mapping[str, str], query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """Gather members from URI, query string, headers and JSON body, then validate them."""
        shape = route.operation.input_shape
        params: dict[str, Any] = {}
        if shape is None:
            return params
        query_pairs = parse_qsl(query, keep_blank_values=True)
        query_values = dict(query_pairs)
        payload: dict[str, Any] = {}
        if body.strip():
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise AwsError(
                    "SerializationException", f"Request body is not valid JSON: {exc}", 400
                ) from exc
            if not isinstance(decoded, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object", 400)
            payload = decoded
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri":
                if wire_name in labels:
                    params[name] = labels[wire_name]
            elif location == "querystring" and member.type_name == "list":
                # A list member repeats its key (?tagKeys=a&tagKeys=b), as botocore sends it.
                repeated = [v for k, v in query_pairs if k == wire_name]
                if repeated:
                    params[name] = repeated
            elif location == "querystring":
                if wire_name in query_values:
                    params[name] = _coerce_scalar(member, query_values[wire_name], name)
            elif location == "header":
                value = headers.get(wire_name)
                if value is not None:
                    params[name] = value
            elif name in payload:
                params[name] = payload[name]
        try:
            validate(shape, params)
        except AwsError as error:
            raise _as_modelled(route, error, labels) from None
        return params

    def render_output(self, route: Route, result: Mapping[str, Any]) -> bytes:
        shape = route.operation.output_shape
        if shape is None:
            return b"{}"
        return json.dumps(serialize(shape, result)).encode()

    def status_code(self, route: Route) -> int:
        return int(route.operation.http.get("responseCode", 200))

    def error_status(self, route: Route | None, code: str, default: int) -> int:
        """The HTTP status the model gives an error code (ThrottlingException -> 429 ...)."""
        if route is not None:
            for error in route.operation.error_shapes:
                if error.name == code:
                    return int(error.metadata.get("error", {}).get("httpStatusCode", default))
        return default


def _as_modelled(route: Route, error: AwsError, labels: Mapping[str, str]) -> AwsError:
    """A validation failure, answered with an error the operation's model lists.

    GetCodeInterpreter lists no ValidationException (its documentation names only
    ServiceQuotaExceeded, AccessDenied, ResourceNotFound, Throttling and InternalServer), so
    an id outside the model's pattern gets the one listed answer that fits: no resource has
    that id, 404 ResourceNotFoundException.
    """
    listed = {shape.name for shape in route.operation.error_shapes}
    if "ValidationException" in listed or "ResourceNotFoundException" not in listed:
        return error
    names = ", ".join(labels.values()) or "the requested resource"
    return AwsError("ResourceNotFoundException", f"Resource not found: {names}", 404)


def render_error(error: AwsError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    """The rest-json error wire format: the code in x-amzn-ErrorType, the message in the body."""
    body: dict[str, Any] = {"message": error.message}
    body.update(error.extra)
    headers = {
        "x-amzn-ErrorType": f"{error.code}:http://internal.amazon.com/coral/com.amazonaws.bedrockagentcore/",
        "x-amzn-RequestId": request_id,
        "Content-Type": "application/json",
    }
    return error.status, headers, json.dumps(body).encode()


def _coerce_scalar(shape: Shape, raw: str, name: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as exc:
            raise validation_error(
                [(name, f"Value '{raw}' at '{name}' failed to satisfy constraint: Member must be a number")]
            ) from exc
    if shape.type_name == "boolean":
        return raw == "true"
    return raw


def validation_error(problems: list[tuple[str, str]]) -> AwsError:
    """ValidationException as AWS words it: "N validation error(s) detected: ..."."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(text for _, text in problems)
    return AwsError(
        "ValidationException",
        message,
        400,
        reason="FieldValidationFailed",
        fieldList=[{"name": name, "message": text} for name, text in problems],
    )


# Java's Unicode classes, which some models (STS's tag keys) use and Python's re lacks: the
# nearest Python classes, a little wider (\w also takes "_" and marks, \s also line breaks).
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


@functools.lru_cache(maxsize=256)
def model_pattern(pattern: str) -> re.Pattern[str]:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def validate(shape: StructureShape, params: Mapping[str, Any]) -> None:
    problems: list[tuple[str, str]] = []
    _check_structure(shape, params, "", problems)
    if problems:
        raise validation_error(problems)


def _check_structure(shape: Shape, value: Any, path: str, problems: list[tuple[str, str]]) -> None:
    if not isinstance(value, Mapping):
        problems.append((path, f"Value at '{path}' failed to satisfy constraint: Member must be a structure"))
        return
    assert isinstance(shape, StructureShape)
    for required in shape.required_members:
        if value.get(required) is None:
            where = f"{path}.{required}" if path else required
            problems.append(
                (where, f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
            )
    if shape.metadata.get("union"):
        chosen = [name for name, v in value.items() if name in shape.members and v is not None]
        if len(chosen) != 1:
            where = path or shape.name
            problems.append(
                (
                    where,
                    f"Value at '{where}' failed to satisfy constraint: Union must have exactly one member set",
                )
            )
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None or member_value is None:
            continue  # unknown members are ignored, as AWS's JSON deserialiser does
        _check_value(member, member_value, f"{path}.{name}" if path else name, problems)


def _check_value(shape: Shape, value: Any, path: str, problems: list[tuple[str, str]]) -> None:
    meta = shape.metadata
    prefix = f"Value '{value}' at '{path}' failed to satisfy constraint: Member must"
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path, problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append((path, f"{prefix} be a string"))
            return
        if "min" in meta and len(value) < meta["min"]:
            problems.append((path, f"{prefix} have length greater than or equal to {meta['min']}"))
        if "max" in meta and len(value) > meta["max"]:
            problems.append((path, f"{prefix} have length less than or equal to {meta['max']}"))
        if "pattern" in meta and not model_pattern(meta["pattern"]).fullmatch(value):
            problems.append((path, f"{prefix} satisfy regular expression pattern: {meta['pattern']}"))
        enum = meta.get("enum")
        if enum and value not in enum:
            problems.append((path, f"{prefix} satisfy enum value set: [{', '.join(enum)}]"))
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((path, f"{prefix} be a number"))
            return
        if "min" in meta and value < meta["min"]:
            problems.append((path, f"{prefix} have value greater than or equal to {meta['min']}"))
        if "max" in meta and value > meta["max"]:
            problems.append((path, f"{prefix} have value less than or equal to {meta['max']}"))
    elif kind == "list":
        if not isinstance(value, list):
            problems.append((path, f"{prefix} be a list"))
            return
        if "min" in meta and len(value) < meta["min"]:
            problems.append((path, f"{prefix} have length greater than or equal to {meta['min']}"))
        if "max" in meta and len(value) > meta["max"]:
            problems.append((path, f"{prefix} have length less than or equal to {meta['max']}"))
        for index, item in enumerate(value):
            _check_value(shape.member, item, f"{path}.{index + 1}.member", problems)  # type: ignore[attr-defined]
    elif kind == "map":
        if not isinstance(value, Mapping):
            problems.append((path, f"{prefix} be a map"))
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append((path, f"{prefix} be a boolean"))


def serialize(shape: Shape, value: Any) -> Any:
    """Model-shaped JSON: timestamps in the member's `timestampFormat`, blobs base64, None dropped."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            member_value = value.get(name) if isinstance(value, Mapping) else None
            if member_value is not None:
                out[member.serialization.get("name", name)] = serialize(member, member_value)
        return out
    if kind == "list":
        return [serialize(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {key: serialize(shape.value, item) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    return value


def format_timestamp(value: datetime | float, timestamp_format: str) -> float | str:
    """rest-json's default is epoch seconds; both AgentCore models declare iso8601 on every
    timestamp, which AWS sends as UTC with milliseconds (`2025-07-16T00:00:00.000Z`)."""
    moment = value if isinstance(value, datetime) else epoch_to_datetime(float(value))
    if timestamp_format == "iso8601":
        millis = round(moment.timestamp() * 1000)  # to the nearest millisecond, as AWS sends
        utc = datetime.fromtimestamp(millis // 1000, UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"
    if timestamp_format == "rfc822":
        return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return moment.timestamp()


def epoch_to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def encode_token(payload: Mapping[str, Any]) -> str:
    """An opaque pagination token: callers must not (and need not) read it."""
    return base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise AwsError("ValidationException", "Invalid nextToken", 400, reason="CannotParse") from exc
    if not isinstance(decoded, dict):
        raise AwsError("ValidationException", "Invalid nextToken", 400, reason="CannotParse")
    return decoded


def token_position(decoded: Mapping[str, Any], key: str) -> int:
    """A page position from a decoded token; a forged one is a 400, never a crash."""
    value = decoded.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AwsError("ValidationException", "Invalid nextToken", 400, reason="CannotParse")
    return value
