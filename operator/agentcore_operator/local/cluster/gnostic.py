"""The OpenAPI v2 document as gnostic's `openapi.v2.Document` protobuf message.

kubectl asks for `/openapi/v2` only as `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
and unmarshals the body as that message whatever the Content-Type says, so JSON would not do.
Field numbers are those of gnostic-models' openapiv2/OpenAPIv2.proto (proto3: zero values are
left out). Values of any type (defaults, enums, vendor extensions) travel as YAML text in
`Any.yaml`, which is how gnostic itself carries them.
"""

from __future__ import annotations

import struct
from typing import Any

import yaml

from agentcore_operator.local.cluster.protobuf import FIXED64, VARINT, length_delimited, tag, varint

# What kubectl asks for, and what the API server answers with: Go's mime parser refuses the '@'.
ACCEPTED_MEDIA_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
MEDIA_TYPE = ACCEPTED_MEDIA_TYPES[1]


def wanted(accept: str) -> bool:
    """True when the Accept header's first choice is the protobuf document."""
    return accept.split(",")[0].split(";")[0].strip() in ACCEPTED_MEDIA_TYPES


# Schema fields by kind of value: JSON key -> field number.
SCHEMA_STRINGS = {"$ref": 1, "format": 2, "title": 3, "description": 4, "pattern": 13, "discriminator": 26}
SCHEMA_DOUBLES = {"multipleOf": 6, "maximum": 7, "minimum": 9}
SCHEMA_BOOLS = {"exclusiveMaximum": 8, "exclusiveMinimum": 10, "uniqueItems": 16, "readOnly": 27}
SCHEMA_INTS = {
    "maxLength": 11,
    "minLength": 12,
    "maxItems": 14,
    "minItems": 15,
    "maxProperties": 17,
    "minProperties": 18,
}
SCHEMA_DEFAULT, SCHEMA_REQUIRED, SCHEMA_ENUM, SCHEMA_ADDITIONAL = 5, 19, 20, 21
SCHEMA_TYPE, SCHEMA_ITEMS, SCHEMA_ALL_OF, SCHEMA_PROPERTIES = 22, 23, 24, 25
SCHEMA_EXAMPLE, SCHEMA_EXTENSIONS = 30, 31


def _string(number: int, value: str) -> bytes:
    return length_delimited(number, value.encode()) if value else b""


def _any(value: Any) -> bytes:
    """gnostic's Any: the value as YAML text (field 2)."""
    return _string(2, yaml.safe_dump(value, default_flow_style=False, sort_keys=False))


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + length_delimited(2, _any(value))


def _named_schema(name: str, schema: dict[str, Any]) -> bytes:
    return _string(1, name) + length_delimited(2, encode_schema(schema))


def encode_schema(schema: dict[str, Any]) -> bytes:
    fields: list[tuple[int, bytes]] = []
    for key, value in schema.items():
        if key in SCHEMA_STRINGS and isinstance(value, str):
            fields.append((SCHEMA_STRINGS[key], _string(SCHEMA_STRINGS[key], value)))
        elif key in SCHEMA_DOUBLES and isinstance(value, int | float) and value:
            number = SCHEMA_DOUBLES[key]
            fields.append((number, tag(number, FIXED64) + struct.pack("<d", float(value))))
        elif key in SCHEMA_BOOLS and value is True:
            fields.append((SCHEMA_BOOLS[key], tag(SCHEMA_BOOLS[key], VARINT) + varint(1)))
        elif key in SCHEMA_INTS and isinstance(value, int) and value:
            fields.append((SCHEMA_INTS[key], tag(SCHEMA_INTS[key], VARINT) + varint(value)))
        elif key == "default":
            fields.append((SCHEMA_DEFAULT, length_delimited(SCHEMA_DEFAULT, _any(value))))
        elif key == "example":
            fields.append((SCHEMA_EXAMPLE, length_delimited(SCHEMA_EXAMPLE, _any(value))))
        elif key == "required" and isinstance(value, list):
            fields.extend((SCHEMA_REQUIRED, _string(SCHEMA_REQUIRED, str(v))) for v in value)
        elif key == "enum" and isinstance(value, list):
            fields.extend((SCHEMA_ENUM, length_delimited(SCHEMA_ENUM, _any(v))) for v in value)
        elif key == "additionalProperties":
            item = length_delimited(1, encode_schema(value)) if isinstance(value, dict) else b""
            if isinstance(value, bool):
                item = tag(2, VARINT) + varint(int(value))
            fields.append((SCHEMA_ADDITIONAL, length_delimited(SCHEMA_ADDITIONAL, item)))
        elif key == "type":
            types = value if isinstance(value, list) else [value]
            type_item = b"".join(_string(1, str(t)) for t in types)
            fields.append((SCHEMA_TYPE, length_delimited(SCHEMA_TYPE, type_item)))
        elif key == "items" and isinstance(value, dict):
            fields.append(
                (SCHEMA_ITEMS, length_delimited(SCHEMA_ITEMS, length_delimited(1, encode_schema(value))))
            )
        elif key == "allOf" and isinstance(value, list):
            fields.extend((SCHEMA_ALL_OF, length_delimited(SCHEMA_ALL_OF, encode_schema(v))) for v in value)
        elif key == "properties" and isinstance(value, dict):
            named = b"".join(length_delimited(1, _named_schema(n, s)) for n, s in value.items())
            fields.append((SCHEMA_PROPERTIES, length_delimited(SCHEMA_PROPERTIES, named)))
        elif key.startswith("x-"):
            fields.append((SCHEMA_EXTENSIONS, length_delimited(SCHEMA_EXTENSIONS, _named_any(key, value))))
    fields.sort(key=lambda field: field[0])  # stable: repeated fields keep their order
    return b"".join(encoded for _, encoded in fields)


def encode_document(document: dict[str, Any]) -> bytes:
    """swagger (1), info (2), paths (8, empty: no client reads v2 paths from us), definitions (9)."""
    info = document.get("info") or {}
    encoded_info = _string(1, info.get("title", "")) + _string(2, info.get("version", ""))
    definitions = b"".join(
        length_delimited(1, _named_schema(name, schema))
        for name, schema in (document.get("definitions") or {}).items()
    )
    return (
        _string(1, document.get("swagger", "2.0"))
        + length_delimited(2, encoded_info)
        + length_delimited(8, b"")
        + length_delimited(9, definitions)
    )
