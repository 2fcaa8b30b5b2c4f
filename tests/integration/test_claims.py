"""CodeInterpreterSessionClaim end to end: the real operator, the emulated cluster, the AgentCore emulator.

Claims bind free pooled sessions (warm), or start one (cold), and the children's labels,
the claims' status and AgentCore's own session table must agree: no session bound to two
claims, none lost.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator

from .conftest import eventually
from .pools import (
    apply,
    children,
    claim_manifest,
    claims,
    free_ready,
    make_pool,
    pool_manifest,
    reason,
    status,
)
from .test_permissions_used import operator_requests


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
    metrics = operator.operator.metrics.registry
    assert metrics.get_sample_value("agentcore_claims_bound_total", {"launch": "warm"}) == 1
    assert metrics.get_sample_value("agentcore_claim_time_to_ready_seconds_count", {"launch": "warm"}) == 1
    assert metrics.get_sample_value("agentcore_claim_time_to_ready_seconds_sum", {"launch": "warm"}) < 5

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


def test_with_none_free_a_claim_starts_its_own_session_cold(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    make_pool(cluster, "empty", 0, sessionTimeoutSeconds=600, deletionPolicy="Delete")
    apply(cluster, [claim_manifest("cold", "empty")])
    body = eventually(lambda: bound(cluster, "cold"), message="cold Bound")
    state = status(body)
    assert state["launchType"] == "Cold"
    child = cluster.get("codeinterpretersessions", "default", state["sessionName"])
    assert child is not None
    assert state["sessionName"].startswith("cold-") and len(state["sessionName"]) == len("cold-") + 5
    assert child["metadata"]["labels"] == {
        "team": "tests",
        "agentcore.dev/pool": "empty",
        "agentcore.dev/pool-state": "bound",
        "agentcore.dev/claim": "cold",
    }
    assert child["spec"]["sessionTimeoutSeconds"] == 600
    assert child["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
    events = [e["reason"] for e in cluster.events("default") if e["involvedObject"]["name"] == "cold"]
    assert events[:2] == ["Starting", "Bound"]
    metrics = operator.operator.metrics.registry
    assert metrics.get_sample_value("agentcore_claims_bound_total", {"launch": "cold"}) == 1
    assert metrics.get_sample_value("agentcore_claim_time_to_ready_seconds_count", {"launch": "cold"}) == 1


def test_a_claim_on_a_missing_pool_waits_and_binds_when_it_appears(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, [claim_manifest("early", "later")])
    eventually(lambda: reason(claim(cluster, "early")) == "PoolNotFound", message="PoolNotFound")
    assert status(claim(cluster, "early"))["phase"] == "Pending"
    apply(cluster, [pool_manifest("later", sessionTimeoutSeconds=600)])
    eventually(lambda: bound(cluster, "early"), message="early Bound once the pool exists")


def test_ttl_unbound_fails_the_claim_and_deletes_the_session_it_started(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    emulator.add_fault(operation="StartCodeInterpreterSession", error="ServiceQuotaExceededException")
    make_pool(cluster, "starved", 0, sessionTimeoutSeconds=600)
    apply(cluster, [claim_manifest("late", "starved", ttlSecondsUnbound=2)])
    body = eventually(
        lambda: reason(claim(cluster, "late")) == "Unbound" and claim(cluster, "late"), timeout=15
    )
    assert status(body)["phase"] == "Failed"
    assert "ttlSecondsUnbound" in status(body)["message"]
    eventually(lambda: children(cluster, "starved") == [], message="its cold child deleted")


def test_ttl_after_bound_deletes_the_claim_and_stops_its_session(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    make_pool(cluster, "short", 1, sessionTimeoutSeconds=600)
    eventually(lambda: len(free_ready(cluster, "short")) == 1)
    # 3 s, not 1: the claim is Bound only that long before it deletes itself, and a poll of a
    # busy cluster (two test workers on two cores) can take longer than a second.
    apply(cluster, [claim_manifest("brief", "short", ttlSecondsAfterBound=3)])
    session_id = status(eventually(lambda: bound(cluster, "brief"), interval=0.05))["sessionId"]
    eventually(lambda: claim(cluster, "brief") is None, timeout=15, message="the claim deleted itself")
    eventually(
        lambda: (
            next(s for s in emulator.sessions() if s["sessionId"] == session_id)["status"] == "TERMINATED"
        ),
        message="its session stopped",
    )


def test_bad_claims_are_refused_naming_the_field(cluster: ClusterHandle) -> None:
    both = claim_manifest("both", "p", ttlSecondsAfterBound=5, shutdownTime="2030-01-01T00:00:00Z")
    result = cluster.kubectl("apply", "-f", "-", input=json.dumps(both), check=False)
    assert result.returncode != 0
    assert "ttlSecondsAfterBound and shutdownTime are mutually exclusive" in result.stderr
    apply(cluster, [claim_manifest("moving", "p")])
    moved = cluster.kubectl(
        "patch", "cisc", "moving", "--type=merge", "-p", '{"spec":{"poolRef":{"name":"q"}}}', check=False
    )
    assert moved.returncode != 0 and "poolRef is immutable" in moved.stderr
    columns = cluster.kubectl("get", "cisc", "moving").stdout.split("\n")[0].split()
    assert columns == ["NAME", "POOL", "PHASE", "SESSION", "LAUNCH", "EXPIRES", "AGE"]
    assert "codeinterpretersessionclaim" in cluster.kubectl("get", "agentcore", "-o", "name").stdout


# -- the race: 100 claims at once against a pool of 20 -----------------------------------

RACE_POOL, RACE_CLAIMS, RACE_QUOTA, RACE_START_SECONDS = 20, 100, 60, 3.0
CLAIMS_PATH = "/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessionclaims"


@pytest.mark.parametrize(
    "emulator_config", [{"max_sessions": RACE_QUOTA, "start_delay": RACE_START_SECONDS}], indirect=True
)
def test_100_claims_at_once_against_a_pool_of_20(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """Exactly 20 bound warm (a session takes 3 s to start here, so the pool's refills come after
    every claim has been decided). The account has room for 40 more sessions, shared by the
    cold claims and the pool's refills: so 20 to 40 claims are served cold, and the rest wait
    for quota and fail Unbound by their TTL. No session is held by two claims, and the
    children's labels, the claims' status and AgentCore's sessions agree."""
    make_pool(cluster, "race", RACE_POOL, sessionTimeoutSeconds=900)
    eventually(lambda: len(free_ready(cluster, "race")) == RACE_POOL, timeout=30, message="the pool is Ready")
    manifests = [claim_manifest(f"r-{i:03}", "race", ttlSecondsUnbound=10) for i in range(RACE_CLAIMS)]
    with ThreadPoolExecutor(max_workers=25) as pool:  # at once: a create does not wait for the last
        answers = list(
            pool.map(lambda m: requests.post(cluster.url + CLAIMS_PATH, json=m, timeout=10), manifests)
        )
    assert all(answer.status_code == 201 for answer in answers)

    def settled() -> list[dict[str, Any]] | None:
        bodies = claims(cluster)
        done = [b for b in bodies if status(b).get("phase") in ("Bound", "Failed")]
        return bodies if len(done) == RACE_CLAIMS else None

    bodies = eventually(settled, timeout=40, interval=0.5, message="every claim Bound or Failed")
    launches = Counter(status(b).get("launchType") or reason(b) for b in bodies)
    assert launches["Warm"] == RACE_POOL, launches
    assert RACE_QUOTA - 2 * RACE_POOL <= launches["Cold"] <= RACE_QUOTA - RACE_POOL, launches
    assert launches["Cold"] + launches["Unbound"] == RACE_CLAIMS - RACE_POOL, launches

    by_claim = {b["metadata"]["name"]: b for b in bodies if status(b).get("phase") == "Bound"}
    session_ids = [status(b)["sessionId"] for b in by_claim.values()]
    assert len(set(session_ids)) == len(session_ids), "a session is bound to two claims"
    live = {s["sessionId"]: s for s in emulator.sessions() if s["status"] == "READY"}
    for name, body in by_claim.items():
        child = cluster.get("codeinterpretersessions", "default", status(body)["sessionName"])
        assert child is not None, name
        assert child["metadata"]["labels"]["agentcore.dev/claim"] == name
        assert child["metadata"]["labels"]["agentcore.dev/pool-state"] == "bound"
        assert child["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
        assert child["status"]["sessionId"] == status(body)["sessionId"]
        assert status(body)["sessionId"] in live, f"{name}: its session is not READY in AgentCore"
    undeclared, used = operator_requests(cluster)
    assert not undeclared, undeclared
    assert {
        ("patch", "agentcore.dev", "codeinterpretersessions"),
        ("create", "agentcore.dev", "codeinterpretersessions"),
        ("delete", "agentcore.dev", "codeinterpretersessions"),
        ("patch", "agentcore.dev", "codeinterpretersessionclaims/status"),
    } <= used

    # The Unbound claims' cold children are deleted: what is left of the pool is what the claims
    # hold and the pool's free refills; every READY session in AgentCore is one of those.
    def accounted() -> bool:
        kids = children(cluster, "race")
        held = {status(b)["sessionName"] for b in by_claim.values()}
        free = {
            b["metadata"]["name"]
            for b in kids
            if b["metadata"]["labels"]["agentcore.dev/pool-state"] == "free"
            and b["metadata"]["ownerReferences"][0]["kind"] == "CodeInterpreterSessionPool"
        }
        ready = {s["sessionId"] for s in emulator.sessions() if s["status"] == "READY"}
        sessions_of = {
            (b.get("status") or {}).get("sessionId") for b in kids if b["metadata"]["name"] in held | free
        }
        return {b["metadata"]["name"] for b in kids} == held | free and ready <= sessions_of

    eventually(accounted, timeout=20, message="every child held by one claim or free; no READY session stray")


def test_the_claim_example_binds(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "pools"
    cluster.kubectl("apply", "-f", str(examples / "warm-pool.yaml"))
    cluster.kubectl("apply", "-f", str(examples / "claim.yaml"))
    cluster.kubectl("wait", "--for=condition=Ready", "cisc/task-42", "--timeout=20s")
    assert status(bound(cluster, "task-42"))["sessionId"]
