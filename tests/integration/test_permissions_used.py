"""Every request the running operator sends to the API server is one its RBAC grants.

The chart's RBAC is tested against manager/permissions.py; this closes the loop from the
other side: a new API call in the code fails here until it is declared (and granted).
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.manager.permissions import PERMISSIONS

from .conftest import StartOperator, eventually, session_manifest


def verb_and_resource(method: str, path: str, query: str) -> tuple[str, str, str, str | None]:
    """(verb, api group, resource[/subresource], namespace) of one request, as RBAC sees it."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        group, rest = parts[1], parts[3:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    verb = {
        "GET": "get"
        if named
        else ("watch" if "watch=true" in query.lower() or "watch=1" in query else "list"),
        "POST": "create",
        "PATCH": "patch",
        "PUT": "update",
        "DELETE": "delete",
    }[method]
    return verb, group, resource, namespace


def test_the_operator_uses_only_declared_permissions(
    cluster: ClusterHandle, emulator: EmulatorHandle, start_operator: StartOperator
) -> None:
    with start_operator(orphan_sweep_interval=0.3, leader_elect=True):
        for name in ("perm-a", "perm-b"):
            cluster.kubectl("apply", "-f", "-", input=json.dumps(session_manifest(name)))
        eventually(
            lambda: all(
                ((cluster.get("codeinterpretersessions", "default", n) or {}).get("status") or {}).get(
                    "phase"
                )
                == "Ready"
                for n in ("perm-a", "perm-b")
            ),
            message="both Ready",
        )
        cluster.kubectl("delete", "codeinterpretersession", "perm-a", "--timeout=20s")
        pool = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSessionPool",
            "metadata": {"name": "perm-pool", "namespace": "default"},
            "spec": {"replicas": 1, "template": {"spec": {}}},
        }
        cluster.kubectl("apply", "-f", "-", input=json.dumps(pool))
        eventually(
            lambda: (
                (
                    (cluster.get("codeinterpretersessionpools", "default", "perm-pool") or {}).get("status")
                    or {}
                ).get("readyReplicas")
                == 1
            ),
            message="the pool's session Ready",
        )
        cluster.kubectl("patch", "cisp", "perm-pool", "--type", "merge", "-p", '{"spec":{"replicas":0}}')
        eventually(
            lambda: (
                not [
                    s
                    for s in cluster.objects("codeinterpretersessions", "default")
                    if s["metadata"]["name"].startswith("perm-pool-")
                ]
            ),
            message="the pool's session deleted",
        )
        time.sleep(1.0)  # ledger flushes and an orphan sweep or two

    cluster.drop_watches()  # watch requests are logged when their stream ends
    time.sleep(0.3)
    allowed: set[tuple[str, str, str]] = {
        (verb, p.api_group, resource) for p in PERMISSIONS for resource in p.resources for verb in p.verbs
    }
    used: set[tuple[str, str, str]] = set()
    undeclared: list[Any] = []
    for request in cluster.requests():
        if "kubectl" in request["user_agent"]:
            continue  # the test's own kubectl, not the operator
        segments = request["path"].strip("/").split("/")
        depth = {"api": 2, "apis": 3}.get(segments[0])
        if depth is None or len(segments) <= depth:
            continue  # discovery and other non-resource URLs, readable by every client
        verb, group, resource, _ = verb_and_resource(request["method"], request["path"], request["query"])
        used.add((verb, group, resource))
        if (verb, group, resource) not in allowed:
            undeclared.append((request["method"], request["path"], request["user_agent"]))
    assert not undeclared, undeclared
    # The run exercised the operator's main permissions (the check above saw real traffic).
    assert {
        ("patch", "agentcore.dev", "codeinterpretersessions/status"),
        ("create", "", "events"),
        ("watch", "agentcore.dev", "codeinterpretersessions"),
        ("create", "", "configmaps"),
        ("update", "coordination.k8s.io", "leases"),
        ("create", "agentcore.dev", "codeinterpretersessions"),
        ("delete", "agentcore.dev", "codeinterpretersessions"),
        ("watch", "agentcore.dev", "codeinterpretersessionpools"),
        ("patch", "agentcore.dev", "codeinterpretersessionpools/status"),
    } <= used
