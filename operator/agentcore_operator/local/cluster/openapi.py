"""The OpenAPI documents: v3 per group-version, and the whole v2 document.

kubectl reads v3 for `explain` and server-side field validation; it reads v2, in protobuf
only, to validate a `kind: List` client-side (`kubectl get -o yaml > x; kubectl apply -f x`),
and Argo CD reads v2 to build its cluster cache. Custom resources publish their CRD's
schema, turned into v2 as the apiextensions server does; built-in kinds publish definitions
made from the protobuf field table (protobuf_schema.py), which names every field of their
API types.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from agentcore_operator.local.cluster.protobuf import PACKAGE_GROUP_VERSIONS, fields_of
from agentcore_operator.local.cluster.protobuf_schema import MESSAGES
from agentcore_operator.local.cluster.resources import ResourceType

JSON = "application/json"
TITLE = "Kubernetes (agentcore-operator emulated cluster)"
VERSION = "v1.34.0"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"
PACKAGE_PREFIXES = {"meta.v1": META, **{p: f"io.k8s.api.{p}" for p in PACKAGE_GROUP_VERSIONS}}
# Types whose JSON form is not their message's: what the real document defines for them.
SPECIAL_DEFINITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "Time": (f"{META}.Time", {"type": "string", "format": "date-time"}),
    "MicroTime": (f"{META}.MicroTime", {"type": "string", "format": "date-time"}),
    "IntOrString": (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        {"type": "string", "format": "int-or-string"},
    ),
    "Quantity": ("io.k8s.apimachinery.pkg.api.resource.Quantity", {"type": "string"}),
    "FieldsV1": (f"{META}.FieldsV1", {"type": "object"}),
    "RawExtension": ("io.k8s.apimachinery.pkg.runtime.RawExtension", {"type": "object"}),
}
SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "bool": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
}
# What the apiextensions server leaves out of a CRD schema for v2, which cannot say it.
V2_DROPPED = ("nullable", "oneOf", "anyOf", "not", "allOf", "x-kubernetes-validations")


def definition_name(resource_type: ResourceType, kind: str | None = None) -> str:
    """io.k8s.api.core.v1.Secret, dev.agentcore.v1alpha1.CodeInterpreterSession."""
    group = resource_type.group
    reversed_group = ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"
    if not resource_type.custom:
        package = _package_of(resource_type)
        if package is not None:
            return f"{PACKAGE_PREFIXES[package]}.{kind or resource_type.kind}"
    return f"{reversed_group}.{resource_type.version}.{kind or resource_type.kind}"


def _package_of(resource_type: ResourceType) -> str | None:
    for package, group_version in PACKAGE_GROUP_VERSIONS.items():
        if group_version == resource_type.group_version and f"{package}.{resource_type.kind}" in MESSAGES:
            return package
    return None


def _gvk(resource_type: ResourceType, kind: str | None = None) -> list[dict[str, str]]:
    return [
        {"group": resource_type.group, "version": resource_type.version, "kind": kind or resource_type.kind}
    ]


def _type_meta_properties() -> dict[str, Any]:
    return {
        "apiVersion": {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object.",
        },
        "kind": {"type": "string", "description": "Kind is a string value representing the REST resource."},
    }


# -- v3 ------------------------------------------------------------------------------------------


def v3_document(group: str, version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    schemas_out: dict[str, Any] = {
        OBJECT_META: {
            "type": "object",
            "description": "Standard object metadata.",
            "x-kubernetes-preserve-unknown-fields": True,
        }
    }
    paths: dict[str, Any] = {}
    for resource_type in types:
        gvk = {"group": group, "version": version, "kind": resource_type.kind}
        reversed_group = ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"
        name = f"{reversed_group}.{version}.{resource_type.kind}"
        body: dict[str, Any] = (
            copy.deepcopy(resource_type.schema)
            if resource_type.schema
            else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        body.setdefault("properties", {})
        body["properties"]["metadata"] = {
            "description": "Standard object's metadata.",
            "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
        }
        body["x-kubernetes-group-version-kind"] = [gvk]
        schemas_out[name] = body
        base = f"/apis/{group}/{version}" if group else "/api/v1"
        scope = "/namespaces/{namespace}" if resource_type.namespaced else ""
        operation = {
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            ],
            "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"content": {JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}}},
        }
        paths[f"{base}{scope}/{resource_type.plural}/{{name}}"] = {
            "get": dict(operation, **{"x-kubernetes-action": "get"}),
            "put": dict(operation, **{"x-kubernetes-action": "put"}),
            "patch": dict(operation, **{"x-kubernetes-action": "patch"}),
            "delete": dict(operation, **{"x-kubernetes-action": "delete"}),
        }
        paths[f"{base}{scope}/{resource_type.plural}"] = {
            "post": dict(operation, **{"x-kubernetes-action": "post"}),
            "get": dict(operation, **{"x-kubernetes-action": "list"}),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {"schemas": schemas_out},
    }


# -- v2 ------------------------------------------------------------------------------------------


def v2_document(types: Iterable[ResourceType]) -> dict[str, Any]:
    """The swagger 2.0 document: definitions for every served kind and what they reference."""
    definitions: dict[str, Any] = {}
    for resource_type in types:
        if resource_type.custom:
            _add_custom(definitions, resource_type)
        elif _package_of(resource_type) is not None:
            _add_builtin(definitions, resource_type)
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": {},
        "definitions": dict(sorted(definitions.items())),
    }


def _add_custom(definitions: dict[str, Any], resource_type: ResourceType) -> None:
    body = v2_schema(resource_type.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    if not body.get("x-kubernetes-preserve-unknown-fields"):  # else any field goes, metadata too
        properties = body.setdefault("properties", {})
        properties.update(_type_meta_properties())
        properties["metadata"] = {
            "description": "Standard object's metadata.",
            "$ref": f"#/definitions/{OBJECT_META}",
        }
    body["x-kubernetes-group-version-kind"] = _gvk(resource_type)
    definitions[definition_name(resource_type)] = body
    list_kind = f"{resource_type.kind}List"
    definitions[definition_name(resource_type, list_kind)] = {
        "type": "object",
        "required": ["items"],
        "properties": {
            **_type_meta_properties(),
            "items": {"type": "array", "items": {"$ref": f"#/definitions/{definition_name(resource_type)}"}},
            "metadata": {"$ref": f"#/definitions/{META}.ListMeta"},
        },
        "x-kubernetes-group-version-kind": _gvk(resource_type, list_kind),
    }
    _add_message(definitions, "meta.v1.ObjectMeta")
    _add_message(definitions, "meta.v1.ListMeta")


def v2_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's structural v3 schema as v2 can hold it (the apiextensions server's conversion):
    no nullable, oneOf/anyOf/not/allOf or CEL rules; a nullable or unknown-preserving node keeps
    neither items nor properties, and a nullable one no type, so kubectl accepts null and
    unknown fields there."""
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in V2_DROPPED}
    if "properties" in out:
        out["properties"] = {name: v2_schema(child) for name, child in out["properties"].items()}
        nullable = {name for name, child in schema["properties"].items() if child.get("nullable")}
        if nullable and "required" in out:
            out["required"] = [name for name in out["required"] if name not in nullable]
            if not out["required"]:
                del out["required"]
    if isinstance(out.get("items"), dict):
        out["items"] = v2_schema(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = v2_schema(out["additionalProperties"])
    if schema.get("nullable"):
        for key in ("type", "items", "properties"):
            out.pop(key, None)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("items", None)
        out.pop("properties", None)
    if out.get("type") == "array" and "items" not in out:
        del out["type"]
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    return out


def _add_builtin(definitions: dict[str, Any], resource_type: ResourceType) -> None:
    package = _package_of(resource_type)
    assert package is not None
    for kind in (resource_type.kind, f"{resource_type.kind}List"):
        name = _add_message(definitions, f"{package}.{kind}")
        definitions[name]["properties"].update(_type_meta_properties())
        definitions[name]["x-kubernetes-group-version-kind"] = _gvk(resource_type, kind)


def _definition_of(message: str) -> str:
    package, _, kind = message.rpartition(".")
    return f"{PACKAGE_PREFIXES[package]}.{kind}"


def _add_message(definitions: dict[str, Any], message: str) -> str:
    name = _definition_of(message)
    if name in definitions:
        return name
    properties: dict[str, Any] = {}
    definitions[name] = {"type": "object", "properties": properties}
    for field in fields_of(message):
        if field.mode == "i":
            inlined = _add_message(definitions, field.type)
            properties.update(definitions[inlined]["properties"])
            continue
        if field.mode == "m":
            _key_type, value_type = field.type.split(":")
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": _type_schema(definitions, value_type),
            }
        elif field.mode == "r":
            schema = {"type": "array", "items": _type_schema(definitions, field.type)}
        else:
            schema = _type_schema(definitions, field.type)
        properties[field.name] = schema
    return name


def _type_schema(definitions: dict[str, Any], type_: str) -> dict[str, Any]:
    if type_ in SCALAR_SCHEMAS:
        return dict(SCALAR_SCHEMAS[type_])
    if type_ in SPECIAL_DEFINITIONS:
        name, body = SPECIAL_DEFINITIONS[type_]
        definitions.setdefault(name, dict(body))
        return {"$ref": f"#/definitions/{name}"}
    return {"$ref": f"#/definitions/{_add_message(definitions, type_)}"}
