"""What the AWS adapter saw: plain data handed to the state machine.

Each remote call ends in exactly one observation. Failures are observations too
(`CallFailed`, already classified), so the state machine decides on errors the same way
it decides on answers, and the adapter never decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentcore_operator.runtime.errors import ApiError

SESSION_READY = "READY"
SESSION_TERMINATED = "TERMINATED"

INTERPRETER_READY = "READY"
INTERPRETER_CREATING = "CREATING"


@dataclass(frozen=True)
class InterpreterSeen:
    """GetCodeInterpreter answered (status is one of the control plane's enum, or unknown)."""

    status: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class InterpreterMissing:
    """GetCodeInterpreter said ResourceNotFoundException."""


@dataclass(frozen=True)
class SessionStarted:
    """StartCodeInterpreterSession returned a session (new, or the same one for a known token)."""

    session_id: str
    created_at: datetime


@dataclass(frozen=True)
class SessionSeen:
    """Get or a List sweep reported the session.

    `status` is None while AgentCore reports no status yet (the session is still starting);
    any value other than READY and TERMINATED is unknown and treated as "not ready yet".
    """

    session_id: str
    status: str | None
    created_at: datetime
    last_updated_at: datetime | None = None


@dataclass(frozen=True)
class SessionMissing:
    """Get or Stop said ResourceNotFoundException: the session is gone."""

    session_id: str


@dataclass(frozen=True)
class SessionUnconfirmed:
    """A List sweep did not find this Ready session among the READY ones: check it."""

    session_id: str


@dataclass(frozen=True)
class SessionStopped:
    """StopCodeInterpreterSession succeeded."""

    session_id: str
    last_updated_at: datetime | None = None


@dataclass(frozen=True)
class CallFailed:
    """A call failed; `error.kind` says how."""

    error: ApiError


@dataclass(frozen=True)
class Exported:
    """The export ConfigMap now holds the wanted data; the pass then waits as it meant to."""

    fingerprint: str
    requeue_after: float | None = None
    backoff: bool = False


@dataclass(frozen=True)
class ExportRefused:
    """The export ConfigMap exists and is not ours (ExportConflict), or could not be written."""

    fingerprint: str
    reason: str
    message: str
    requeue_after: float | None = None
    backoff: bool = False


@dataclass(frozen=True)
class ResourceDeleted:
    """The resource was deleted (ttlSecondsAfterFinished): the deletion pass comes with its event.

    `failure` says why it could not be (it is tried again after a back-off).
    """

    failure: str | None = None


Observation = (
    InterpreterSeen
    | InterpreterMissing
    | SessionStarted
    | SessionSeen
    | SessionMissing
    | SessionUnconfirmed
    | SessionStopped
    | CallFailed
    | Exported
    | ExportRefused
    | ResourceDeleted
)
