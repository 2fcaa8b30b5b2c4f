"""Sessions on a CodeInterpreter by reference, and the mounts a session starts with.

The session decision's row "codeInterpreterRef not Ready" (controller/state_machine.py),
how a reference is resolved from the CodeInterpreter's status (interpreters/references.py),
and which sessions hold an interpreter (in-use protection). Plain data, nothing mocked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from agentcore_operator.api.v1alpha1 import DeletionPolicy, Phase, SessionSpec, SessionStatus, SpecError
from agentcore_operator.controller.observations import InterpreterSeen
from agentcore_operator.controller.state_machine import ResourceView, StartSession, client_token, decide
from agentcore_operator.controller.store import Store
from agentcore_operator.interpreters.references import (
    interpreter_keys_of,
    resolve_ref,
    sessions_using,
    users_of,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
UID = "3f0c1e2d-4b5a-6978-8a9b-0c1d2e3f4a5b"
EFS = {
    "efsConfiguration": {
        "fileSystemArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
        "accessPointArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
        "mountPath": "/mnt/efs",
    }
}
CERT = {
    "location": {
        "secretsManager": {"secretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbC"}
    }
}
ID = "team_tools-a1b2c3d4e5"


def session_body(name: str = "s", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "team", "name": name, "uid": UID}, "spec": spec}


def ref_spec(**extra: Any) -> SessionSpec:
    return SessionSpec.from_resource(
        session_body(codeInterpreterRef={"name": "tools"}, **extra), default_region="us-east-1"
    )


def interpreter(phase: str | None, *, deleting: bool = False, region: str = "eu-west-1") -> dict[str, Any]:
    status: dict[str, Any] = {"codeInterpreterId": ID, "region": region, "message": "it is being created"}
    if phase:
        status["phase"] = phase
        status["conditions"] = [
            {"type": "Ready", "reason": "Creating" if phase != "Ready" else "InterpreterReady"}
        ]
    meta: dict[str, Any] = {"namespace": "team", "name": "tools"}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T00:00:00Z"
    return {"metadata": meta, "status": status}


def view(spec: SessionSpec, waiting: str | None) -> ResourceView:
    return ResourceView(UID, "team", "s", 1, spec, interpreter_ref_waiting=waiting)


def test_a_reference_is_read_and_leaves_the_identifier_to_be_resolved() -> None:
    spec = ref_spec(certificates=[CERT], filesystemConfigurations=[EFS])
    assert spec.code_interpreter_ref == "tools" and spec.code_interpreter_identifier == ""
    assert spec.certificates == (CERT,) and spec.filesystem_configurations == (EFS,)


def test_a_reference_and_an_identifier_together_are_refused() -> None:
    with pytest.raises(SpecError, match="mutually exclusive"):
        SessionSpec.from_resource(
            session_body(codeInterpreterRef={"name": "t"}, codeInterpreterIdentifier=ID),
            default_region="us-east-1",
        )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (None, "does not exist in namespace team"),
        (interpreter(None), "not reconciled yet"),
        (interpreter("Creating"), "it is Creating (Creating: it is being created)"),
        (interpreter("Ready", deleting=True), "being deleted"),
    ],
)
def test_an_interpreter_not_ready_is_waited_for_with_its_state(
    body: dict[str, Any] | None, words: str
) -> None:
    spec, waiting = resolve_ref(ref_spec(), "team", lambda namespace, name: body)
    assert waiting is not None and words in waiting and spec.code_interpreter_identifier == ""


def test_a_ready_interpreter_gives_its_id_and_region() -> None:
    spec, waiting = resolve_ref(ref_spec(), "team", lambda namespace, name: interpreter("Ready"))
    assert waiting is None and (spec.code_interpreter_identifier, spec.region) == (ID, "eu-west-1")


def test_pending_on_the_reference_asks_nothing_and_waits_for_the_watch() -> None:
    d = decide(
        view(ref_spec(), "waiting for CodeInterpreter tools: it is Creating"), SessionStatus(), None, NOW
    )
    assert d.action is None and d.requeue_after is None  # the interpreter's watch queues it again
    condition = d.status.condition("Ready")
    assert d.status.phase is Phase.PENDING and condition is not None
    assert condition.reason == "InterpreterRefNotReady" and "Creating" in condition.message


def test_once_ready_the_session_starts_on_the_interpreters_id_with_its_mounts() -> None:
    spec, _ = resolve_ref(
        ref_spec(certificates=[CERT], filesystemConfigurations=[EFS]),
        "team",
        lambda n, m: interpreter("Ready"),
    )
    d = decide(view(spec, None), SessionStatus(phase=Phase.PENDING), None, NOW)
    # A custom interpreter is checked first, then started on.
    assert d.action is not None and getattr(d.action, "interpreter_id", None) == ID
    started = decide(view(spec, None), d.status, InterpreterSeen("READY"), NOW)
    assert started.action == StartSession(
        "eu-west-1", ID, "team-s", 900, client_token(UID, "start"), (CERT,), (EFS,)
    )
    assert started.status.code_interpreter_identifier == ID


def test_a_start_replayed_after_a_crash_sends_the_same_mounts() -> None:
    spec, _ = resolve_ref(ref_spec(filesystemConfigurations=[EFS]), "team", lambda n, m: interpreter("Ready"))
    recorded = SessionStatus(
        phase=Phase.STARTING,
        code_interpreter_identifier=ID,
        region="eu-west-1",
        session_name="team-s",
        session_timeout_seconds=900,
        pending_start_token=client_token(UID, "start"),
        unanswered_starts=1,
    )
    # Even with the interpreter gone from the cache (waiting again), the replay is what was sent.
    d = decide(view(replace(spec, code_interpreter_identifier=""), "it does not exist"), recorded, None, NOW)
    assert isinstance(d.action, StartSession)
    assert (d.action.interpreter, d.action.filesystem_configurations) == (ID, (EFS,))


def test_in_use_counts_the_sessions_that_hold_the_interpreter() -> None:
    store = Store()
    bodies = {
        "live": {"phase": "Ready", "sessionId": "S1"},
        "pending": {"phase": "Pending"},
        "ended": {"phase": "Terminated", "sessionId": "S2"},
        "never-started": {"phase": "Failed"},
        "failed-with-a-session": {"phase": "Failed", "sessionId": "S3"},
    }
    for name, status in bodies.items():
        store.put({**session_body(name, codeInterpreterRef={"name": "tools"}), "status": status})
    store.put(session_body("other", codeInterpreterRef={"name": "another"}))
    store.put(session_body("by-id", codeInterpreterIdentifier=ID))
    assert users_of(store, "team", "tools") == ("failed-with-a-session", "live", "pending")
    assert sorted(k[1] for k in sessions_using(store, interpreter("Ready"))) == sorted(bodies)
    assert interpreter_keys_of(session_body(codeInterpreterRef={"name": "tools"})) == [("team", "tools")]
    assert interpreter_keys_of(session_body(codeInterpreterIdentifier=ID)) == []


def test_the_policy_still_decides_for_a_referencing_session() -> None:
    assert ref_spec(deletionPolicy="Retain").deletion_policy is DeletionPolicy.RETAIN
