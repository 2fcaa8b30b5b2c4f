"""The classic discovery documents (`/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`),
as kubectl and client-go read them to map kinds to resources: every served kind, with its
`status` and (custom resources with a CRD scale subresource) `scale` subresources."""

from __future__ import annotations

from typing import Any

from agentcore_operator.local.cluster import scale
from agentcore_operator.local.cluster.resources import Registry


def api_versions(host: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }


def group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_groups(registry: Registry) -> dict[str, Any]:
    groups = [group(name, versions) for name, versions in sorted(registry.groups().items())]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(registry: Registry, group_name: str, version: str) -> dict[str, Any]:
    resources = []
    for resource_type in sorted(registry.in_group_version(group_name, version), key=lambda t: t.plural):
        resources.append(resource_type.api_resource())
        if resource_type.status_subresource:
            resources.append(
                {
                    "name": f"{resource_type.plural}/status",
                    "singularName": "",
                    "namespaced": resource_type.namespaced,
                    "kind": resource_type.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource_type.scale is not None:
            resources.append(scale.api_resource(resource_type))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group_name}/{version}" if group_name else version,
        "resources": resources,
    }
