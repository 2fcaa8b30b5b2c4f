"""CodeInterpreterSession objects in every state the operator writes, made by the real state machine.

Each object's status comes out of `decide()` fed the observation that leads there, so the
health check is tested against what the operator actually writes, not against hand-made
samples. `integrations/argocd/testdata/` holds static copies of these (Argo CD's test format
needs files); a test checks that each file still shows the phase and reason made here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1 import (
    BUILTIN_INTERPRETER,
    FINALIZER,
    DeletionPolicy,
    RestartPolicy,
    SessionSpec,
    SessionStatus,
)
from agentcore_operator.api.v1alpha1.types import format_time
from agentcore_operator.controller.observations import (
    CallFailed,
    InterpreterMissing,
    InterpreterSeen,
    Observation,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
)
from agentcore_operator.controller.state_machine import ResourceView, decide
from agentcore_operator.runtime.errors import ApiError, ErrorKind

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
CREATED = NOW - timedelta(seconds=30)
NAMESPACE, NAME = "default", "analysis"
UID = "6c1f0d9e-3b8a-4f5e-9d2c-7a4b1e0f3c21"
SESSION = "01JDA7R4N6X0Q2W8V5K3M9T1ZC"
REGION = "us-east-1"
CUSTOM = "datasci_vpc-a1b2c3d4e5"
TIMEOUT = 900


@dataclass(frozen=True)
class State:
    """One sample: the object, and the health Argo CD should give it."""

    name: str
    obj: dict[str, Any]
    health: str  # Healthy, Progressing or Degraded


def spec(
    identifier: str = BUILTIN_INTERPRETER, policy: DeletionPolicy = DeletionPolicy.DELETE
) -> SessionSpec:
    return SessionSpec(identifier, f"{NAMESPACE}-{NAME}", TIMEOUT, REGION, policy)


def view(session_spec: SessionSpec | None, **changes: Any) -> ResourceView:
    base = ResourceView(
        uid=UID, namespace=NAMESPACE, name=NAME, generation=1, spec=session_spec, has_finalizer=True
    )
    return replace(base, **changes)


def step(
    resource: ResourceView, status: SessionStatus, observation: Observation | None, at: datetime = NOW
) -> SessionStatus:
    return decide(resource, status, observation, at).status


def failed(kind: ErrorKind, operation: str, code: str, message: str) -> CallFailed:
    return CallFailed(ApiError(kind, operation, code, message))


def body(
    status: SessionStatus | dict[str, Any] | None,
    *,
    session_spec: SessionSpec | None = None,
    raw_spec: dict[str, Any] | None = None,
    generation: int = 1,
    deleting: bool = False,
    released: bool = False,
) -> dict[str, Any]:
    """The object as `kubectl get -o yaml` (and Argo CD's cache) would show it."""
    used = session_spec or spec()
    metadata: dict[str, Any] = {
        "name": NAME,
        "namespace": NAMESPACE,
        "uid": UID,
        "generation": generation,
        "creationTimestamp": format_time(CREATED - timedelta(seconds=1)),
        "finalizers": [FINALIZER],
    }
    if deleting:
        metadata["deletionTimestamp"] = format_time(NOW)
        # Argo CD prunes with foreground propagation: its finalizer can outlive the operator's.
        metadata["finalizers"] = [*(() if released else (FINALIZER,)), "foregroundDeletion"]
    out: dict[str, Any] = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": metadata,
        "spec": raw_spec
        or {
            "codeInterpreterIdentifier": used.code_interpreter_identifier,
            "sessionTimeoutSeconds": used.session_timeout_seconds,
            "deletionPolicy": used.deletion_policy.value,
            **_restart_fields(used),
        },
    }
    if isinstance(status, SessionStatus):
        out["status"] = status.to_dict()
    elif status is not None:
        out["status"] = status
    return out


def _restart_fields(used: SessionSpec) -> dict[str, Any]:
    if not used.restarts:
        return {}
    fields: dict[str, Any] = {"restartPolicy": used.restart_policy.value}
    if used.renew_before_seconds:
        fields |= {
            "renewBeforeSeconds": used.renew_before_seconds,
            "renewGraceSeconds": used.renew_grace_seconds,
        }
    return fields


def restart_states() -> list[State]:
    """restartPolicy Always: a renewal keeps the resource Healthy; a restart is Progressing."""
    always = replace(spec(), restart_policy=RestartPolicy.ALWAYS)
    renewing = replace(always, renew_before_seconds=120, renew_grace_seconds=30)
    builtin = view(renewing)
    started = step(builtin, step(builtin, SessionStatus(), None), SessionStarted(SESSION, CREATED))
    ready = step(builtin, started, SessionSeen(SESSION, "READY", CREATED))
    renew_at = CREATED + timedelta(seconds=TIMEOUT - 120)
    successor = "01JDA7R4N6X0Q2W8V5K3M9T1ZD"
    starting_successor = step(builtin, ready, None, at=renew_at)
    draining = step(
        builtin,
        step(builtin, starting_successor, SessionStarted(successor, renew_at), at=renew_at),
        SessionSeen(successor, "READY", renew_at),
        at=renew_at,
    )
    expires = CREATED + timedelta(seconds=TIMEOUT)
    restarting = step(
        view(always), ready, SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=expires), at=expires
    )
    backoff = step(view(always), ready, SessionMissing(SESSION), at=CREATED + timedelta(seconds=20))
    return [
        State("ready-renewing", body(starting_successor, session_spec=renewing), "Healthy"),
        State("ready-draining-predecessor", body(draining, session_spec=renewing), "Healthy"),
        State("starting-restart", body(restarting, session_spec=always), "Progressing"),
        State("pending-restart-backoff", body(backoff, session_spec=always), "Progressing"),
    ]


def states() -> list[State]:
    """Every phase, and every Ready reason worth its own health or message."""
    custom = spec(CUSTOM)
    builtin, on_custom = view(spec()), view(custom)
    empty = SessionStatus()

    checking = step(on_custom, empty, None)
    not_ready = step(on_custom, checking, InterpreterSeen("CREATING"))
    pending_throttled = step(
        on_custom,
        checking,
        failed(ErrorKind.THROTTLED, "GetCodeInterpreter", "ThrottlingException", "Rate exceeded"),
    )
    quota = step(replace(builtin, start_blocked=True), empty, None)
    quota_answer = step(
        builtin,
        step(builtin, empty, None),
        failed(
            ErrorKind.QUOTA_EXCEEDED,
            "StartCodeInterpreterSession",
            "ServiceQuotaExceededException",
            "The maximum number of concurrent sessions has been reached",
        ),
    )
    starting = step(builtin, empty, None)
    started = step(builtin, starting, SessionStarted(SESSION, CREATED))
    starting_throttled = step(
        builtin,
        started,
        failed(ErrorKind.THROTTLED, "GetCodeInterpreterSession", "ThrottlingException", "Rate exceeded"),
    )
    ready = step(builtin, started, SessionSeen(SESSION, "READY", CREATED))
    expires = CREATED + timedelta(seconds=TIMEOUT)
    expired = step(
        builtin, ready, SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=expires), at=expires
    )
    stopped_elsewhere = step(
        builtin,
        ready,
        SessionSeen(SESSION, "TERMINATED", CREATED, last_updated_at=NOW + timedelta(minutes=5)),
    )
    deleting = replace(builtin, deleting=True, generation=2)
    stopping = step(deleting, ready, None)
    stop_failed = step(
        deleting,
        stopping,
        failed(
            ErrorKind.ACCESS_DENIED,
            "StopCodeInterpreterSession",
            "AccessDeniedException",
            "not authorized to perform: bedrock-agentcore:StopCodeInterpreterSession",
        ),
    )
    stopped = step(deleting, stopping, SessionStopped(SESSION))
    # Only reachable when the API server skipped the CRD's validation (it rejects this spec).
    bad_spec = {"codeInterpreterIdentifier": BUILTIN_INTERPRETER, "sessionTimeoutSeconds": 30}
    invalid_spec = step(
        view(None, spec_error="spec.sessionTimeoutSeconds 30 is outside 60..28800"), empty, None
    )
    interpreter_failed = step(on_custom, checking, InterpreterSeen("CREATE_FAILED", "subnet has no free IPs"))
    interpreter_missing = step(on_custom, checking, InterpreterMissing())
    invalid_request = step(
        builtin,
        starting,
        failed(
            ErrorKind.INVALID,
            "StartCodeInterpreterSession",
            "ValidationException",
            "sessionTimeoutSeconds must be at most 28800",
        ),
    )
    access_denied = step(
        builtin,
        starting,
        failed(
            ErrorKind.ACCESS_DENIED,
            "StartCodeInterpreterSession",
            "AccessDeniedException",
            "not authorized to perform: bedrock-agentcore:StartCodeInterpreterSession",
        ),
    )
    # The user switched deletionPolicy to Retain (generation 2); the operator has not looked yet.
    retained = spec(policy=DeletionPolicy.RETAIN)
    unknown = {**ready.to_dict(), "phase": "Hibernating"}

    return [
        State("no-status", body(None), "Progressing"),
        State("stale-generation", body(ready, session_spec=retained, generation=2), "Progressing"),
        State("pending-checking-interpreter", body(checking, session_spec=custom), "Progressing"),
        State("pending-interpreter-not-ready", body(not_ready, session_spec=custom), "Progressing"),
        State("pending-throttled", body(pending_throttled, session_spec=custom), "Progressing"),
        State("pending-quota", body(quota), "Progressing"),
        State("pending-quota-exceeded", body(quota_answer), "Progressing"),
        State("starting", body(starting), "Progressing"),
        State("starting-session-id", body(started), "Progressing"),
        State("starting-throttled", body(starting_throttled), "Progressing"),
        State("ready", body(ready), "Healthy"),
        State("stopping", body(stopping, generation=2, deleting=True), "Progressing"),
        State("stopping-stop-failed", body(stop_failed, generation=2, deleting=True), "Degraded"),
        State("terminated-expired", body(expired), "Degraded"),
        State("terminated-stopped-elsewhere", body(stopped_elsewhere), "Degraded"),
        State(
            "terminated-deleting", body(stopped, generation=2, deleting=True, released=True), "Progressing"
        ),
        State("failed-invalid-spec", body(invalid_spec, raw_spec=bad_spec), "Degraded"),
        State("failed-interpreter-failed", body(interpreter_failed, session_spec=custom), "Degraded"),
        State("failed-interpreter-not-found", body(interpreter_missing, session_spec=custom), "Degraded"),
        State("failed-invalid-request", body(invalid_request), "Degraded"),
        State("failed-access-denied", body(access_denied), "Degraded"),
        State("unknown-phase", body(unknown), "Progressing"),
        *restart_states(),
    ]
