"""CodeInterpreterSessionClaim end to end: the real operator, the emulated cluster, the AgentCore emulator.

Claims bind free pooled sessions (warm), or start one (cold), and the children's labels,
the claims' status and AgentCore's own session table must agree: no session bound to two
claims, none lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator

from .conftest import eventually
from .pools import (
    apply,
    children,
    claim_manifest,
    claims,
    cluster_with_pools,
    free_ready,
    make_pool,
    pool_manifest,
    reason,
    status,
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterHandle]:
    yield from cluster_with_pools(tmp_path)


def claim(cluster: ClusterHandle, name: str) -> dict[str, Any] | None:
    return cluster.get("codeinterpretersessionclaims", "default", name)


def bound(cluster: ClusterHandle, name: str) -> dict[str, Any] | None:
    body = claim(cluster, name)
    return body if status(body).get("phase") == "Bound" else None


def new_operations(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> set[str]:
    return {
        op for op, outcomes in after.items() if sum(outcomes.values()) != sum((before.get(op) or {}).values())
    }


def test_a_claim_binds_a_free_ready_session_with_two_writes_and_no_agentcore_call(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    make_pool(cluster, "p", 2, sessionTimeoutSeconds=900)
    eventually(lambda: len(free_ready(cluster, "p")) == 2, message="two free Ready children")
    # The pool refills what the claim takes: its Start is held back here, so every AgentCore call
    # counted until the claim is Bound would be the claim's.
    emulator.add_fault(operation="StartCodeInterpreterSession", latency=5.0)
    calls_before = emulator.calls()
    requests_before = len(cluster.requests())

    apply(cluster, [claim_manifest("c1", "p", ttlSecondsUnbound=30)])
    body = eventually(lambda: bound(cluster, "c1"), message="c1 Bound")

    state = status(body)
    assert state["launchType"] == "Warm"
    assert reason(body) == "Bound"
    child = cluster.get("codeinterpretersessions", "default", state["sessionName"])
    assert child is not None
    labels = child["metadata"]["labels"]
    assert {
        "agentcore.dev/pool": "p",
        "agentcore.dev/pool-state": "bound",
        "agentcore.dev/claim": "c1",
    }.items() <= labels.items()
    (owner,) = child["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CodeInterpreterSessionClaim",
        "c1",
        body["metadata"]["uid"],
    )
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    assert state["sessionId"] == child["status"]["sessionId"]
    assert state["expiresAt"] == child["status"]["expiresAt"]
    # No AgentCore call on the way (the sweep's Lists may run meanwhile), and the operator's
    # writes to bind: one merge patch of the child, one status patch of the claim (the pool's
    # writes for its replacement child are the pool's).
    assert new_operations(emulator.calls(), calls_before) <= {"ListCodeInterpreterSessions"}
    writes = [
        (r["method"], r["path"])
        for r in cluster.requests()[requests_before:]
        if r["method"] in ("PATCH", "POST", "PUT", "DELETE")
        and "agentcore-operator" in r["user_agent"]
        and (
            "/codeinterpretersessionclaims/" in r["path"]
            or r["path"].endswith(f"/{child['metadata']['name']}")
        )
    ]
    assert sorted(writes) == sorted(
        [
            (
                "PATCH",
                f"/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessions/{child['metadata']['name']}",
            ),
            (
                "PATCH",
                "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessionclaims/c1/status",
            ),
        ]
    ), writes

    # Deleting the claim: GC deletes the child, whose finalizer stops the session.
    cluster.kubectl("delete", "codeinterpretersessionclaim", "c1", "--wait=false")
    eventually(
        lambda: cluster.get("codeinterpretersessions", "default", state["sessionName"]) is None,
        message="the bound child is garbage-collected",
    )
    eventually(
        lambda: (
            next(s for s in emulator.sessions() if s["sessionId"] == state["sessionId"])["status"]
            == "TERMINATED"
        ),
        message="its session stopped",
    )
