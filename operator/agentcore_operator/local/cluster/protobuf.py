"""Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) for the built-in kinds.

client-go's typed clients speak protobuf to built-in kinds: `kubectl create namespace`,
`kubectl create secret` and Helm's release storage (a Secret) send it and ask for it first.
A real API server accepts it for every built-in kind and answers in it when the client lists
it first; custom resources stay JSON-only (415 for a protobuf body).

The wire format: `k8s\\0`, then a `runtime.Unknown` message whose `typeMeta` names the
apiVersion and kind and whose `raw` is the object's own message. Watch streams frame each
`meta.v1.WatchEvent` with a 4-byte big-endian length and no magic; the event's object is an
enveloped message again. The codec converts between messages and the JSON dicts the store
holds, from the table in protobuf_schema.py; no generated code and no protobuf runtime.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from agentcore_operator.local.cluster.protobuf_schema import MESSAGES

PROTOBUF = "application/vnd.kubernetes.protobuf"
WATCH_STREAM = f"{PROTOBUF};stream=watch"
MAGIC = b"k8s\x00"

# API group of each package in the table; meta.v1's kinds travel as "v1".
PACKAGE_GROUP_VERSIONS = {
    "core.v1": "v1",
    "apps.v1": "apps/v1",
    "rbac.v1": "rbac.authorization.k8s.io/v1",
    "policy.v1": "policy/v1",
    "coordination.v1": "coordination.k8s.io/v1",
    "events.v1": "events.k8s.io/v1",
    "admissionregistration.v1": "admissionregistration.k8s.io/v1",
    "autoscaling.v1": "autoscaling/v1",
}
META_KINDS = {"Status", "DeleteOptions", "WatchEvent"}

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
SCALARS = {"string", "bytes", "bool", "int32", "int64"}
LENGTH_TYPES = {"string", "bytes"}


class ProtobufError(ValueError):
    """Bytes that are not a Kubernetes protobuf message, or an object the table cannot encode."""


@dataclass(frozen=True)
class Field:
    number: int
    name: str
    type: str
    mode: str

    @property
    def is_map(self) -> bool:
        return self.mode == "m"


@cache
def fields_of(message: str) -> tuple[Field, ...]:
    try:
        spec = MESSAGES[message]
    except KeyError:
        raise ProtobufError(f"no protobuf schema for {message}") from None
    fields = []
    for entry in spec.split(", "):
        number, name, type_, mode = entry.split(" ")
        fields.append(Field(int(number), name, type_, mode))
    return tuple(fields)


def message_for(api_version: str, kind: str) -> str | None:
    """The table's message for an apiVersion and kind, or None (custom resources, unknown kinds)."""
    if kind in META_KINDS:
        return f"meta.v1.{kind}"
    for package, group_version in PACKAGE_GROUP_VERSIONS.items():
        if group_version == api_version and f"{package}.{kind}" in MESSAGES:
            return f"{package}.{kind}"
    return None


def accepts_protobuf_first(accept: str) -> bool:
    """True when the Accept header's first media type is protobuf, as client-go's typed clients send it."""
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first == PROTOBUF


# -- the wire ------------------------------------------------------------------------------------


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative ints travel as their 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _wire_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Field number -> every value on the wire, in order (repeated fields and last-wins alike)."""
    found: dict[int, list[int | bytes]] = {}
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == VARINT:
            value, position = _read_varint(data, position)
        elif wire_type == LENGTH:
            length, position = _read_varint(data, position)
            if position + length > len(data):
                raise ProtobufError(f"field {number} is longer than its message")
            value = data[position : position + length]
            position += length
        elif wire_type == FIXED64:
            value, position = int.from_bytes(data[position : position + 8], "little"), position + 8
        elif wire_type == FIXED32:
            value, position = int.from_bytes(data[position : position + 4], "little"), position + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} for field {number}")
        if number == 0:
            raise ProtobufError("field number 0")
        found.setdefault(number, []).append(value)
    if position != len(data):
        raise ProtobufError("truncated message")
    return found


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, LENGTH) + varint(len(payload)) + payload


# -- values with their own JSON form -------------------------------------------------------------


def _format_time(seconds: int, nanos: int, micro: bool) -> str:
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=(nanos // 1000) if micro else 0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ProtobufError(f"a time must be an RFC 3339 string, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProtobufError(f"invalid time {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment.replace(microsecond=0)
    return int(whole.timestamp()), moment.microsecond * 1000


def _decode_special(type_: str, payload: bytes) -> Any:
    wire = _wire_fields(payload)

    def number(n: int) -> int:
        value = wire.get(n, [0])[-1]
        return _signed(value) if isinstance(value, int) else 0

    def text(n: int) -> bytes:
        value = wire.get(n, [b""])[-1]
        return value if isinstance(value, bytes) else b""

    if type_ in ("Time", "MicroTime"):
        if not payload:
            return None  # Go's zero time, which JSON writes as null
        return _format_time(number(1), number(2), micro=type_ == "MicroTime")
    if type_ == "IntOrString":
        return text(3).decode() if number(1) == 1 else number(2)
    if type_ == "Quantity":
        return text(1).decode()
    if type_ == "FieldsV1":
        return json.loads(text(1) or b"{}")
    if type_ == "RawExtension":
        raw = text(1)
        if raw.startswith(MAGIC):
            return decode_object(raw)
        return json.loads(raw) if raw else None
    raise ProtobufError(f"unknown type {type_}")


def _encode_special(type_: str, value: Any) -> bytes:
    if type_ in ("Time", "MicroTime"):
        if value is None:
            return b""
        seconds, nanos = _parse_time(value)
        if type_ == "Time":
            nanos = 0  # metav1.Time travels in whole seconds, as its JSON does
        return tag(1, VARINT) + varint(seconds) + tag(2, VARINT) + varint(nanos)
    if type_ == "IntOrString":
        value = 0 if value is None else value
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ProtobufError(f"expected an integer or a string, not {value!r}")
        if isinstance(value, str):
            return (
                tag(1, VARINT) + varint(1) + tag(2, VARINT) + varint(0) + length_delimited(3, value.encode())
            )
        return tag(1, VARINT) + varint(0) + tag(2, VARINT) + varint(value) + length_delimited(3, b"")
    if type_ == "Quantity":
        return length_delimited(1, ("0" if value is None else str(value)).encode())
    if type_ == "FieldsV1":
        return length_delimited(1, json.dumps(value, separators=(",", ":")).encode())
    if type_ == "RawExtension":
        if value is None:
            return b""
        return length_delimited(1, json.dumps(value, separators=(",", ":")).encode())
    raise ProtobufError(f"unknown type {type_}")


# -- messages <-> JSON dicts ---------------------------------------------------------------------


def _zero(type_: str) -> Any:
    return {"string": "", "bytes": "", "bool": False, "int32": 0, "int64": 0}[type_]


def _decode_value(type_: str, raw: int | bytes) -> Any:
    if type_ in SCALARS:
        if type_ == "string":
            if not isinstance(raw, bytes):
                raise ProtobufError("expected a string")
            return raw.decode("utf-8", errors="replace")
        if type_ == "bytes":
            if not isinstance(raw, bytes):
                raise ProtobufError("expected bytes")
            return base64.b64encode(raw).decode()
        if not isinstance(raw, int):
            raise ProtobufError(f"expected a {type_}")
        return bool(raw) if type_ == "bool" else _signed(raw)
    if not isinstance(raw, bytes):
        raise ProtobufError(f"expected a {type_} message")
    if type_ in MESSAGES:
        return decode_message(type_, raw)
    return _decode_special(type_, raw)


def _decode_packed(type_: str, raw: int | bytes) -> list[Any]:
    if isinstance(raw, int) or type_ in LENGTH_TYPES or type_ not in SCALARS:
        return [_decode_value(type_, raw)]
    values, position = [], 0
    while position < len(raw):
        value, position = _read_varint(raw, position)
        values.append(_decode_value(type_, value))
    return values


def decode_message(message: str, data: bytes) -> dict[str, Any]:
    """A message as the JSON dict Go's encoder would write for the same object."""
    wire = _wire_fields(data)
    out: dict[str, Any] = {}
    for field in fields_of(message):
        values = wire.get(field.number)
        if not values:
            continue
        if field.mode == "r":
            out[field.name] = [item for raw in values for item in _decode_packed(field.type, raw)]
        elif field.is_map:
            key_type, value_type = field.type.split(":")
            entries: dict[str, Any] = {}
            for raw in values:
                if not isinstance(raw, bytes):
                    raise ProtobufError(f"{field.name}: a map entry must be a message")
                entry = _wire_fields(raw)
                key = _decode_value(key_type, entry.get(1, [b""])[-1])
                default: int | bytes = 0 if value_type in ("bool", "int32", "int64") else b""
                entries[key] = _decode_value(value_type, entry.get(2, [default])[-1])
            out[field.name] = entries
        elif field.mode == "i":
            out.update(_decode_value(field.type, values[-1]))
        else:
            value = _decode_value(field.type, values[-1])
            if field.mode == "v" and field.type in SCALARS and value == _zero(field.type):
                continue  # omitempty
            out[field.name] = value
    return out


def _encode_scalar(type_: str, value: Any, where: str) -> tuple[int, bytes]:
    if type_ == "string":
        if not isinstance(value, str):
            raise ProtobufError(f"{where}: expected a string, not {value!r}")
        return LENGTH, varint(len(value.encode())) + value.encode()
    if type_ == "bytes":
        try:
            decoded = base64.b64decode(value, validate=True) if value else b""
        except (ValueError, TypeError) as exc:
            raise ProtobufError(f"{where}: expected base64, not {value!r}") from exc
        return LENGTH, varint(len(decoded)) + decoded
    if type_ == "bool":
        if not isinstance(value, bool):
            raise ProtobufError(f"{where}: expected a boolean, not {value!r}")
        return VARINT, varint(int(value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtobufError(f"{where}: expected an integer, not {value!r}")
    return VARINT, varint(value)


def _encode_value(number: int, type_: str, value: Any, where: str) -> bytes:
    if type_ in SCALARS:
        wire_type, payload = _encode_scalar(type_, value, where)
        return tag(number, wire_type) + payload
    if type_ in MESSAGES:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ProtobufError(f"{where}: expected an object, not {value!r}")
        return length_delimited(number, encode_message(type_, value, where))
    return length_delimited(number, _encode_special(type_, value))


def encode_message(message: str, obj: dict[str, Any], where: str = "") -> bytes:
    """A JSON dict as Go would marshal the same object (unknown keys are left out, as Go drops them)."""
    out = bytearray()
    for field in fields_of(message):
        path = f"{where}.{field.name}" if where else field.name
        if field.mode == "i":
            out += _encode_value(field.number, field.type, obj, path)
            continue
        value = obj.get(field.name)
        if field.mode == "r":
            if value is None:
                continue
            if not isinstance(value, list):
                raise ProtobufError(f"{path}: expected a list, not {value!r}")
            for item in value:
                out += _encode_value(field.number, field.type, item, path)
        elif field.is_map:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ProtobufError(f"{path}: expected a map, not {value!r}")
            key_type, value_type = field.type.split(":")
            for key in sorted(value):
                entry = _encode_value(1, key_type, key, path) + _encode_value(2, value_type, value[key], path)
                out += length_delimited(field.number, entry)
        elif field.mode == "p":
            if value is not None:
                out += _encode_value(field.number, field.type, value, path)
        else:
            if value is None and field.type in SCALARS:
                value = _zero(field.type)
            out += _encode_value(field.number, field.type, value, path)
    return bytes(out)


# -- the envelope --------------------------------------------------------------------------------


def _unknown(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = length_delimited(1, api_version.encode()) + length_delimited(2, kind.encode())
    return (
        MAGIC
        + length_delimited(1, type_meta)
        + length_delimited(2, raw)
        + length_delimited(3, b"")
        + length_delimited(4, b"")
    )


def type_of(data: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw message) of an enveloped object."""
    if not data.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\0")
    unknown = _wire_fields(data[len(MAGIC) :])
    type_meta_raw = unknown.get(1, [b""])[-1]
    raw = unknown.get(2, [b""])[-1]
    encoding = unknown.get(3, [b""])[-1]
    if not isinstance(type_meta_raw, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown envelope")
    if encoding:
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    type_meta = _wire_fields(type_meta_raw)
    api_version = type_meta.get(1, [b""])[-1]
    kind = type_meta.get(2, [b""])[-1]
    if not isinstance(api_version, bytes) or not isinstance(kind, bytes):
        raise ProtobufError("malformed typeMeta")
    return api_version.decode(), kind.decode(), raw


def decode_object(data: bytes) -> dict[str, Any]:
    """An enveloped object (`k8s\\0` + runtime.Unknown) as a JSON dict with apiVersion and kind."""
    api_version, kind, raw = type_of(data)
    message = message_for(api_version, kind)
    if message is None:
        raise ProtobufError(f"no protobuf schema for {kind} in {api_version or 'no apiVersion'}")
    try:
        return {"apiVersion": api_version, "kind": kind, **decode_message(message, raw)}
    except ProtobufError:
        raise
    except (ValueError, OverflowError, OSError, RecursionError) as exc:  # bad JSON in raw fields, times
        raise ProtobufError(f"invalid {kind}: {exc}") from exc


def encode_object(obj: dict[str, Any]) -> bytes:
    """A JSON dict with apiVersion and kind as an enveloped message; ProtobufError if the table lacks it."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    message = message_for(api_version, kind)
    if message is None:
        raise ProtobufError(f"no protobuf schema for {kind} in {api_version}")
    return _unknown(api_version, kind, encode_message(message, obj))


def encode_watch_event(kind: str, obj: dict[str, Any]) -> bytes:
    """One frame of a protobuf watch stream: length, then a bare meta.v1.WatchEvent."""
    event = length_delimited(1, kind.encode()) + length_delimited(2, length_delimited(1, encode_object(obj)))
    return struct.pack(">I", len(event)) + event
