"""OpenAPI schemas for the CRDs, read from the botocore model of the AgentCore APIs.

The members the CRDs take from an AWS request (networkConfiguration, certificates,
filesystemConfigurations, tags) are not retyped from the documentation: this module
turns the model's shapes into structural schemas (patterns anchored, lengths and counts,
enums, required members, a union as a CEL rule, descriptions from the model's own
documentation). tests/unit/test_model_schema.py checks that the CRDs carry exactly
what it produces, so a newer model shows up as a failing test, not as a silent drift.
"""

from __future__ import annotations

import html
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

CONTROL_PLANE = "bedrock-agentcore-control"
DATA_PLANE = "bedrock-agentcore"
DESCRIPTION_LIMIT = 300


def member_shape(service: str, operation: str, member: str) -> Shape:
    """The shape of one input member of an operation."""
    model = botocore.session.get_session().get_service_model(service)
    input_shape = model.operation_model(operation).input_shape
    assert input_shape is not None
    return input_shape.members[member]


def openapi(shape: Shape) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a botocore shape (as a CRD's openAPIV3Schema holds it)."""
    meta = shape.metadata
    out: dict[str, Any] = {}
    description = _description(shape)
    if isinstance(shape, StructureShape):
        out["type"] = "object"
        if description:
            out["description"] = description
        required = [name for name in shape.required_members if name in shape.members]
        if required:
            out["required"] = required
        out["properties"] = {name: openapi(member) for name, member in shape.members.items()}
        if shape.metadata.get("union"):
            names = list(shape.members)
            if len(names) == 1:
                out["required"] = names
            else:
                out["x-kubernetes-validations"] = [
                    {
                        "rule": " + ".join(f"(has(self.{n}) ? 1 : 0)" for n in names) + " == 1",
                        "message": f"exactly one of {', '.join(names)} must be set",
                    }
                ]
        return out
    if isinstance(shape, ListShape):
        out["type"] = "array"
        if description:
            out["description"] = description
        if "min" in meta:
            out["minItems"] = meta["min"]
        if "max" in meta:
            out["maxItems"] = meta["max"]
        out["items"] = openapi(shape.member)
        return out
    if isinstance(shape, MapShape):
        out["type"] = "object"
        if description:
            out["description"] = description
        if "min" in meta and meta["min"] > 0:
            out["minProperties"] = meta["min"]
        if "max" in meta:
            out["maxProperties"] = meta["max"]
        out["additionalProperties"] = openapi(shape.value)
        key = openapi(shape.key)
        rules = []
        if "pattern" in key:
            rules.append(
                {
                    "rule": f"self.all(k, k.matches(r'{key['pattern']}'))",
                    "message": "a key has invalid characters",
                }
            )
        if "maxLength" in key:
            rules.append(
                {"rule": f"self.all(k, size(k) <= {key['maxLength']})", "message": "a key is too long"}
            )
        if "minLength" in key:
            rules.append({"rule": f"self.all(k, size(k) >= {key['minLength']})", "message": "a key is empty"})
        if rules:
            out["x-kubernetes-validations"] = rules
        return out
    if isinstance(shape, StringShape):
        out["type"] = "string"
        if description:
            out["description"] = description
        if shape.enum:
            out["enum"] = list(shape.enum)
        if "min" in meta and meta["min"] > 0:
            out["minLength"] = meta["min"]
        if "max" in meta:
            out["maxLength"] = meta["max"]
        if "pattern" in meta:
            out["pattern"] = f"^{meta['pattern']}$"
        return out
    if shape.type_name == "boolean":
        return {"type": "boolean", **({"description": description} if description else {})}
    if shape.type_name in ("integer", "long"):
        out = {"type": "integer"}
        if "min" in meta:
            out["minimum"] = meta["min"]
        if "max" in meta:
            out["maximum"] = meta["max"]
        return out
    raise ValueError(f"no OpenAPI mapping for shape {shape.name} of type {shape.type_name}")


def _description(shape: Shape) -> str | None:
    """The model's documentation of a shape as one plain sentence or two."""
    text = shape.documentation or ""
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) > DESCRIPTION_LIMIT:
        cut = text[:DESCRIPTION_LIMIT]
        text = cut[: cut.rfind(". ") + 1] if ". " in cut else cut.rstrip() + "..."
    return text


def member_schema(service: str, operation: str, member: str) -> dict[str, Any]:
    return openapi(member_shape(service, operation, member))


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    # python -m agentcore_operator.api.v1alpha1.model_schema bedrock-agentcore-control \
    #     CreateCodeInterpreter networkConfiguration   -> the YAML to paste into a CRD
    import sys

    import yaml

    service_name, operation_name, member_name = sys.argv[1:4]
    print(
        yaml.safe_dump(member_schema(service_name, operation_name, member_name), sort_keys=False, width=110)
    )
