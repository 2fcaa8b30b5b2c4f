"""Pools and claims for the claim tests: manifests, and reads of what the API server holds."""

from __future__ import annotations

import json
from typing import Any

from agentcore_operator.local.cluster.testing import ClusterHandle

GROUP_VERSION = "agentcore.dev/v1alpha1"


def apply(cluster: ClusterHandle, manifests: list[dict[str, Any]]) -> None:
    if manifests:
        cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests))


def pool_manifest(
    name: str, namespace: str = "default", replicas: int = 0, **template_spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "minRemainingSeconds": 60,
            "template": {"metadata": {"labels": {"team": "tests"}}, "spec": template_spec},
        },
    }


def claim_manifest(name: str, pool: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "CodeInterpreterSessionClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"poolRef": {"name": pool}, **spec},
    }


def make_pool(cluster: ClusterHandle, name: str, free: int, **template_spec: Any) -> dict[str, Any]:
    """A pool of `free` sessions (the pool controller starts them); returns the pool."""
    apply(cluster, [pool_manifest(name, replicas=free, **template_spec)])
    pool = cluster.get("codeinterpretersessionpools", "default", name)
    assert pool is not None
    return pool


def children(cluster: ClusterHandle, pool: str, namespace: str = "default") -> list[dict[str, Any]]:
    return [
        body
        for body in cluster.objects("codeinterpretersessions", namespace)
        if (body["metadata"].get("labels") or {}).get("agentcore.dev/pool") == pool
    ]


def free_ready(cluster: ClusterHandle, pool: str) -> list[dict[str, Any]]:
    return [
        body
        for body in children(cluster, pool)
        if body["metadata"]["labels"].get("agentcore.dev/pool-state") == "free"
        and (body.get("status") or {}).get("phase") == "Ready"
    ]


def claims(cluster: ClusterHandle, namespace: str = "default") -> list[dict[str, Any]]:
    return cluster.objects("codeinterpretersessionclaims", namespace)


def status(body: dict[str, Any] | None) -> dict[str, Any]:
    return dict((body or {}).get("status") or {})


def reason(body: dict[str, Any] | None) -> str | None:
    conditions = status(body).get("conditions") or []
    return next((c.get("reason") for c in conditions if c.get("type") == "Ready"), None)
