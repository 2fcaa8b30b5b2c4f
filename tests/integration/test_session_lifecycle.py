"""The product's promises, end to end: kubectl -> emulated cluster -> operator -> AgentCore emulator.

Every assertion is on something a user or AWS would see: the resource's status through the
API server, what kubectl prints, and the emulator's own session table.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from agentcore_operator.local.agentcore import FaultRule, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator, SharedClock

from .conftest import StartOperator, eventually, session_manifest

CUSTOM = "datasci_vpc-a1b2c3d4e5"


def apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def status_of(cluster: ClusterHandle, name: str, namespace: str = "default") -> dict[str, Any]:
    body = cluster.get("codeinterpretersessions", namespace, name) or {}
    return dict(body.get("status") or {})


def wait_phase(cluster: ClusterHandle, name: str, phase: str, timeout: float = 20.0) -> dict[str, Any]:
    return eventually(
        lambda: (s := status_of(cluster, name)) and s.get("phase") == phase and s,
        timeout=timeout,
        message=f"{name} phase {phase}",
    )


def wait_event(cluster: ClusterHandle, reason: str) -> None:
    """Events follow the status write they describe: wait for them rather than race them."""
    eventually(
        lambda: reason in [e["reason"] for e in cluster.events("default")],
        timeout=10,
        message=f"{reason} event",
    )


def ready_reason(status: dict[str, Any]) -> str | None:
    return next((c["reason"] for c in status.get("conditions", []) if c["type"] == "Ready"), None)


def emulator_sessions(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return emulator.sessions()


def test_create_goes_ready_with_the_emulators_session_id(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("first", sessionTimeoutSeconds=3600))
    status = wait_phase(cluster, "first", "Ready")

    sessions = emulator_sessions(emulator)
    assert [s["sessionId"] for s in sessions] == [status["sessionId"]]
    assert sessions[0]["name"] == "default-first"
    assert sessions[0]["sessionTimeoutSeconds"] == 3600
    assert status["codeInterpreterIdentifier"] == "aws.codeinterpreter.v1"
    assert status["region"] == "us-east-1"
    assert ready_reason(status) == "SessionReady"
    assert status["observedGeneration"] == 1
    assert "expiresAt" in status and "createdAt" in status
    wait_event(cluster, "Started")
    wait_event(cluster, "Ready")
    cluster.kubectl("wait", "--for=condition=Ready", "codeinterpretersession/first", "--timeout=5s")


def test_expiry_turns_the_resource_terminated(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    apply(cluster, session_manifest("short", sessionTimeoutSeconds=60))
    wait_phase(cluster, "short", "Ready")
    clock.advance(61)
    status = wait_phase(cluster, "short", "Terminated")
    assert ready_reason(status) == "SessionExpired"
    wait_event(cluster, "Expired")
    # Never restarted: a terminated session stays the only one.
    assert len(emulator_sessions(emulator)) == 1


def test_out_of_band_stop_turns_the_resource_terminated(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("victim"))
    session_id = wait_phase(cluster, "victim", "Ready")["sessionId"]
    emulator.client().stop_code_interpreter_session(
        codeInterpreterIdentifier="aws.codeinterpreter.v1", sessionId=session_id
    )
    status = wait_phase(cluster, "victim", "Terminated")
    assert ready_reason(status) == "SessionStopped"
    wait_event(cluster, "StoppedOutOfBand")
    assert len(emulator_sessions(emulator)) == 1


def test_delete_stops_the_session_and_releases_the_resource(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("doomed"))
    session_id = wait_phase(cluster, "doomed", "Ready")["sessionId"]
    cluster.kubectl("delete", "codeinterpretersession", "doomed", "--timeout=20s")
    assert cluster.get("codeinterpretersessions", "default", "doomed") is None
    (session,) = emulator_sessions(emulator)
    assert session["sessionId"] == session_id and session["status"] == "TERMINATED"
    wait_event(cluster, "Stopped")


def test_retain_leaves_the_session_running(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("kept", deletionPolicy="Retain"))
    wait_phase(cluster, "kept", "Ready")
    cluster.kubectl("delete", "codeinterpretersession", "kept", "--timeout=20s")
    (session,) = emulator_sessions(emulator)
    assert session["status"] == "READY"
    wait_event(cluster, "Retained")


def test_deletion_policy_can_switch_to_retain_after_creation(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("switch"))
    wait_phase(cluster, "switch", "Ready")
    cluster.kubectl(
        "patch",
        "codeinterpretersession",
        "switch",
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Retain"}}',
    )
    eventually(
        lambda: status_of(cluster, "switch").get("observedGeneration") == 2, message="observedGeneration 2"
    )
    cluster.kubectl("delete", "codeinterpretersession", "switch", "--timeout=20s")
    (session,) = emulator_sessions(emulator)
    assert session["status"] == "READY"


def test_operator_restart_mid_start_makes_exactly_one_session(
    cluster: ClusterHandle, emulator: EmulatorHandle, start_operator: StartOperator
) -> None:
    """The operator stops while AgentCore has started the session but before it heard back.

    A clean stop lets the Start in flight finish and records it (issue 14: graceful
    shutdown), so the next life confirms the session and replays nothing. A crash at that
    moment (the replay by clientToken) is covered by the SIGKILL churn in test_reliability."""
    emulator.emulator.add_fault(
        FaultRule("StartCodeInterpreterSession", latency=3.0, latency_after=True, count=1)
    )
    with start_operator():
        apply(cluster, session_manifest("restarted"))
        eventually(lambda: len(emulator_sessions(emulator)) == 1, message="AgentCore started it")
        assert status_of(cluster, "restarted").get("phase") == "Starting"
        assert "sessionId" not in status_of(cluster, "restarted")
    recorded = status_of(cluster, "restarted").get("sessionId")
    with start_operator():
        status = wait_phase(cluster, "restarted", "Ready")
    sessions = emulator_sessions(emulator)
    assert [s["sessionId"] for s in sessions] == [status["sessionId"]] == [recorded]
    assert emulator.call_count("StartCodeInterpreterSession", "Success") == 1


@pytest.mark.parametrize(
    "emulator_config", [{"interpreters": {CUSTOM: InterpreterSeed(create_delay=120.0)}}], indirect=True
)
def test_custom_interpreter_creating_then_ready_goes_pending_then_ready(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    apply(cluster, session_manifest("custom", codeInterpreterIdentifier=CUSTOM))
    pending = wait_phase(cluster, "custom", "Pending")
    eventually(lambda: ready_reason(status_of(cluster, "custom")) == "InterpreterNotReady", message="reason")
    assert emulator_sessions(emulator) == []
    assert pending.get("sessionId") is None
    clock.advance(121)
    status = wait_phase(cluster, "custom", "Ready")
    (session,) = emulator_sessions(emulator)
    assert session["codeInterpreterIdentifier"] == CUSTOM and session["sessionId"] == status["sessionId"]


@pytest.mark.parametrize(
    "emulator_config",
    [{"interpreters": {CUSTOM: InterpreterSeed(failure_reason="VPC subnet subnet-0abc has no free IPs")}}],
    indirect=True,
)
def test_create_failed_interpreter_fails_the_resource_with_the_reason(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("doomed-interp", codeInterpreterIdentifier=CUSTOM))
    status = wait_phase(cluster, "doomed-interp", "Failed")
    assert ready_reason(status) == "InterpreterFailed"
    assert "no free IPs" in status["message"]
    assert emulator.call_count("StartCodeInterpreterSession") == 0


@pytest.mark.parametrize("emulator_config", [{"max_sessions": 2}], indirect=True)
def test_quota_exceeded_sessions_wait_then_start_when_capacity_frees(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    for name in ("q-1", "q-2"):
        apply(cluster, session_manifest(name))
        wait_phase(cluster, name, "Ready")
    apply(cluster, session_manifest("q-3"))
    waiting = wait_phase(cluster, "q-3", "Pending")
    eventually(lambda: ready_reason(status_of(cluster, "q-3")) == "QuotaExceeded", message="QuotaExceeded")
    assert "sessionId" not in waiting
    cluster.kubectl("delete", "codeinterpretersession", "q-1", "--timeout=20s")
    wait_phase(cluster, "q-3", "Ready")
    # Waiting did not hammer Start: a refused Start or two, not one per poll.
    assert emulator.call_count("StartCodeInterpreterSession", "ServiceQuotaExceededException") <= 3


def test_sweeps_replace_per_session_gets(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    names = [f"swept-{i}" for i in range(5)]
    for name in names:
        apply(cluster, session_manifest(name, sessionTimeoutSeconds=3600))
    for name in names:
        wait_phase(cluster, name, "Ready")
    gets = emulator.call_count("GetCodeInterpreterSession")
    lists = emulator.call_count("ListCodeInterpreterSessions")
    time.sleep(2.6)  # about five sweeps at the 0.5 s test interval
    assert emulator.call_count("GetCodeInterpreterSession") == gets
    swept = emulator.call_count("ListCodeInterpreterSessions") - lists
    assert 3 <= swept <= 7  # one List per sweep serves all five sessions
