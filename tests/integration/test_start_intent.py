"""A Start that AgentCore carried out but whose answer was lost, then AccessDenied, then a delete.

The known edge case of issue 14 (and the leak of issue 19): the first Start creates a
session and answers 500; the replay with the same token is refused (AccessDenied), so the
id stays unknown; then the resource is deleted. Either way of deleting must end with no
session left running:
- a normal delete: the finalizer holds the resource until a replay reveals the session,
  which is then stopped (status.pendingStartToken);
- a forced delete (finalizer stripped): the ledger's Start intent, written before the
  Start, lets the orphan sweep replay the Start and stop what it returns.
"""

from __future__ import annotations

import json
import logging

import pytest
import requests
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import SharedClock

from .conftest import StartOperator, eventually, session_manifest

START = "StartCodeInterpreterSession"


def lose_the_first_answer_then_deny(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation=START, error="InternalServerException", latency_after=True, count=1)
    emulator.add_fault(operation=START, error="AccessDeniedException")


def apply(cluster: ClusterHandle, manifest: dict[str, object]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def status_of(cluster: ClusterHandle, name: str) -> dict[str, object]:
    bodies = {b["metadata"]["name"]: b for b in cluster.objects("codeinterpretersessions", "default")}
    return dict((bodies.get(name) or {}).get("status") or {})


def ready_sessions(emulator: EmulatorHandle) -> list[str]:
    return [s["sessionId"] for s in emulator.sessions() if s["status"] == "READY"]


def ledger_intents(cluster: ClusterHandle) -> list[str]:
    return [
        key
        for cm in cluster.objects("configmaps", "default", group="", version="v1")
        for key, value in (cm.get("data") or {}).items()
        if "intent" in json.loads(value)
    ]


def test_a_normal_delete_waits_until_the_lost_session_is_found_and_stopped(
    cluster: ClusterHandle,
    emulator: EmulatorHandle,
    start_operator: StartOperator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lose_the_first_answer_then_deny(emulator)
    with start_operator(orphan_sweep_interval=3600) as running:
        apply(cluster, session_manifest("lost", sessionTimeoutSeconds=3600))
        eventually(lambda: emulator.call_count(START, "AccessDeniedException") >= 2, message="replays denied")
        assert len(ready_sessions(emulator)) == 1  # created by the Start whose answer was lost
        status = status_of(cluster, "lost")
        assert "sessionId" not in status and status["pendingStartToken"]
        uid = cluster.objects("codeinterpretersessions", "default")[0]["metadata"]["uid"]
        cluster.kubectl("delete", "codeinterpretersession", "lost", "--wait=false")
        eventually(
            lambda: status_of(cluster, "lost").get("phase") == "Stopping", message="held while unresolved"
        )
        assert "deletionPolicy to Retain" in str(status_of(cluster, "lost").get("message"))
        assert len(ready_sessions(emulator)) == 1
        access_back = requests.delete(f"{emulator.endpoint_url}/_emulator/faults", timeout=5)
        access_back.raise_for_status()
        eventually(lambda: not status_of(cluster, "lost"), timeout=30, message="resource released")
        assert ready_sessions(emulator) == []
        assert emulator.call_count("StopCodeInterpreterSession", "Success") == 1
        # A crash before the ledger heard that the intent was resolved leaves it behind: the
        # sweep finds the session already stopped, and says nothing alarming about it.
        stale = {"token": f"start-{uid}", "uid": uid, "namespace": "default", "name": "lost"}
        stale |= {
            "region": "us-east-1",
            "interpreter": "aws.codeinterpreter.v1",
            "session_name": "default-lost",
        }
        stale |= {"timeout_seconds": 3600, "policy": "Delete"}
        ledger = running.operator.ledger
        assert ledger is not None
        running.call_async(ledger.flush)  # the release's own writes land first, not after ours
        patch = {"data": {stale["token"]: json.dumps({"intent": stale})}}
        shard = next(
            cm["metadata"]["name"]
            for cm in cluster.objects("configmaps", "default", group="", version="v1")
            if (cm["metadata"].get("labels") or {}).get("agentcore.dev/ledger") == "sessions"
        )
        cluster.kubectl("patch", "configmap", shard, "--type=merge", "-p", json.dumps(patch))
        caplog.set_level(logging.DEBUG, logger="agentcore_operator.orphans")
        orphans = running.operator.orphans
        assert orphans is not None
        report = running.call_async(orphans.sweep_once)
    assert (report.stopped, report.ended, report.failed) == (0, 1, 0)
    assert [
        r for r in caplog.records if r.name.startswith("agentcore") and r.levelno >= logging.WARNING
    ] == []
    assert ledger_intents(cluster) == []


def test_a_forced_delete_leaves_the_intent_that_the_orphan_sweep_resolves(
    cluster: ClusterHandle, emulator: EmulatorHandle, start_operator: StartOperator, clock: SharedClock
) -> None:
    lose_the_first_answer_then_deny(emulator)
    with start_operator(orphan_sweep_interval=3600):
        apply(cluster, session_manifest("forced", sessionTimeoutSeconds=3600))
        eventually(lambda: emulator.call_count(START, "AccessDeniedException") >= 1, message="replay denied")
        assert ledger_intents(cluster) != []  # written before the first Start was sent
    lost = ready_sessions(emulator)
    assert len(lost) == 1
    # Operator down: someone strips the finalizer and deletes the resource.
    cluster.kubectl(
        "patch",
        "codeinterpretersession",
        "forced",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
    )
    cluster.kubectl("delete", "codeinterpretersession", "forced")
    requests.delete(f"{emulator.endpoint_url}/_emulator/faults", timeout=5).raise_for_status()
    clock.advance(60)  # the sweep comes a minute later: the lost session is clearly older than it
    with start_operator(orphan_sweep_interval=3600) as running:
        orphans = running.operator.orphans
        assert orphans is not None
        report = running.call_async(orphans.sweep_once)
        stopped = running.operator.metrics.orphans_stopped._value.get()
    assert (report.stopped, report.failed) == (1, 0)
    assert stopped == 1
    assert ready_sessions(emulator) == []
    assert ledger_intents(cluster) == []
    assert emulator.call_count(START, "Success") == 1  # the replay returned the lost session, made none
