"""Pools for the claim tests: a pool object and its free children, made the way contract.md says a pool does.

Until the pool controller (issue 17's other half) is on main, the tests create the pool
object from a stand-in CRD (tests/fixtures/pool-crd) and its children themselves: sessions
labelled `agentcore.dev/pool: <pool>`, `agentcore.dev/pool-state: free`, owned by the pool
(controller, blockOwnerDeletion). The operator starts them like any session.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentcore_operator.local.cluster.testing import REPO, ClusterHandle, running_cluster

POOL_CRD = Path(__file__).resolve().parents[1] / "fixtures" / "pool-crd"
GROUP_VERSION = "agentcore.dev/v1alpha1"


def crd_dirs(tmp: Path) -> Path:
    """crds/ plus the stand-in pool CRD, unless crds/ has the real one."""
    target = tmp / "crds"
    target.mkdir(parents=True, exist_ok=True)
    for crd in (REPO / "crds").glob("*.yaml"):
        shutil.copy(crd, target / crd.name)
    for crd in POOL_CRD.glob("*.yaml"):
        if not (target / crd.name).exists():
            shutil.copy(crd, target / crd.name)
    return target


def cluster_with_pools(tmp: Path) -> Iterator[ClusterHandle]:
    with running_cluster(crd_dirs(tmp)) as handle:
        yield handle


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


def free_child(pool: dict[str, Any], index: int) -> dict[str, Any]:
    meta = pool["metadata"]
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "CodeInterpreterSession",
        "metadata": {
            "name": f"{meta['name']}-{index:05}",
            "namespace": meta["namespace"],
            "labels": {"agentcore.dev/pool": meta["name"], "agentcore.dev/pool-state": "free"},
            "ownerReferences": [
                {
                    "apiVersion": GROUP_VERSION,
                    "kind": "CodeInterpreterSessionPool",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": dict(pool["spec"]["template"]["spec"]),
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
