"""The scale subresource of custom resources (CRD `subresources.scale`), as the apiextensions
server serves it: `GET/PUT/PATCH .../{name}/scale` speak `autoscaling/v1` `Scale`.

A Scale is read from the custom resource: `spec.replicas` from `specReplicasPath` (0 when
absent), `status.replicas` from `statusReplicasPath` (0 when absent), `status.selector`
from `labelSelectorPath` (a string; empty when the CRD names none or the object has none),
and the object's name, namespace, uid, resourceVersion and creationTimestamp. A write takes
only the Scale's `spec.replicas` (validated as the API server does: `Scale.autoscaling "p" is
invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`) and sets it at
`specReplicasPath` in the custom resource, which is then written as any update is (schema,
admission, resourceVersion, generation, managedFields with `subresource: scale`); a
`metadata.resourceVersion` in the Scale is a precondition (409 when stale). Patches (JSON
merge, JSON patch, strategic merge as a built-in kind) apply to the Scale document. A Table
has the API server's columns for scale: Name, Desired, Available.
"""

from __future__ import annotations

import copy
from typing import Any

from agentcore_operator.local.cluster import tables
from agentcore_operator.local.cluster.errors import ApiError, bad_request
from agentcore_operator.local.cluster.patch import PatchError, json_patch, merge_patch
from agentcore_operator.local.cluster.resources import ResourceType

API_VERSION = "autoscaling/v1"
PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)


def api_resource(resource_type: ResourceType) -> dict[str, Any]:
    """The discovery entry of `<plural>/scale`."""
    return {
        "name": f"{resource_type.plural}/scale",
        "singularName": "",
        "namespaced": resource_type.namespaced,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }


def _path(path: str) -> list[str]:
    return [part for part in path.split(".") if part]


def _read(body: dict[str, Any], path: str) -> Any:
    node: Any = body
    for part in _path(path):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def of(resource_type: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
    """The Scale of a custom resource."""
    assert resource_type.scale is not None
    spec_path, status_path, selector_path = resource_type.scale
    meta = body.get("metadata") or {}
    scale_meta = {
        key: meta[key]
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if meta.get(key)
    }
    replicas = _read(body, spec_path)
    status_replicas = _read(body, status_path)
    selector = _read(body, selector_path) if selector_path else None
    status: dict[str, Any] = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": API_VERSION,
        "metadata": scale_meta,
        "spec": {"replicas": replicas} if isinstance(replicas, int) and replicas else {},
        "status": status,
    }


def patched(current_scale: dict[str, Any], content_type: str, raw: bytes) -> dict[str, Any]:
    """The Scale a PATCH asks for."""
    import json

    if content_type not in PATCH_TYPES:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}",
        )
    try:
        patch = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc
    result: Any
    if content_type == "application/json-patch+json":
        try:
            result = json_patch(current_scale, patch)
        except PatchError as exc:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
            ) from exc
    elif isinstance(patch, dict):
        result = merge_patch(current_scale, patch)  # Scale has no lists: strategic merge is a merge here
    else:
        raise bad_request("a merge patch must be a JSON object")
    if not isinstance(result, dict):
        raise bad_request("the patched Scale must be an object")
    return result


def written(
    resource_type: ResourceType, current: dict[str, Any], scale: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The custom resource with the Scale's replicas, and the resourceVersion precondition."""
    assert resource_type.scale is not None
    name = current["metadata"]["name"]
    if scale.get("kind", "Scale") != "Scale" or scale.get("apiVersion", API_VERSION) != API_VERSION:
        raise bad_request(
            f"the API version in the data ({scale.get('apiVersion')}) does not match the expected API version "
            f"({API_VERSION})"
        )
    meta = scale.get("metadata") or {}
    if meta.get("name", name) != name:
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
        )
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    problem = None
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        problem = f"Invalid value: {replicas!r}: must be an integer"
    elif replicas < 0:
        problem = f"Invalid value: {replicas}: must be greater than or equal to 0"
    if problem is not None:
        raise ApiError(
            422,
            "Invalid",
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: {problem}',
            {
                "name": name,
                "group": "autoscaling",
                "kind": "Scale",
                "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": "spec.replicas"}],
            },
        )
    new = copy.deepcopy(current)
    node = new
    *parents, leaf = _path(resource_type.scale[0])
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = replicas
    return new, meta.get("resourceVersion") or None


def table(resource_type: ResourceType, scale: dict[str, Any]) -> dict[str, Any]:
    """The API server's Table for a Scale: Name, Desired, Available."""
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": scale["metadata"].get("resourceVersion", "")},
        "columnDefinitions": [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": "Name must be unique within a namespace.",
                "priority": 0,
            },
            {
                "name": "Desired",
                "type": "integer",
                "format": "",
                "description": "desired number of instances for the scaled object.",
                "priority": 0,
            },
            {
                "name": "Available",
                "type": "integer",
                "format": "",
                "description": "actual number of observed instances of the scaled object.",
                "priority": 0,
            },
        ],
        "rows": [
            {
                "cells": [
                    scale["metadata"]["name"],
                    scale["spec"].get("replicas", 0),
                    scale["status"].get("replicas", 0),
                ],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": scale["metadata"],
                },
            }
        ],
    }


wants_table = tables.wants_table
