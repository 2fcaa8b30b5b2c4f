"""The session state machine: one pure function from (resource, status, observation) to a decision.

`decide()` does no I/O and reads no clock: the reconcile loop (runtime/reconcile.py, bound
to sessions in controller/reconciler.py) calls it, performs the one action it returns, and feeds the outcome back in as the next observation,
until the decision is to wait. Every row below is a unit test in tests/unit/.

Not deleting (metadata.deletionTimestamp unset):

| phase now            | observation this pass              | action              | next phase / Ready reason        |
|----------------------|------------------------------------|---------------------|----------------------------------|
| (no session yet)     | spec invalid                       | -                   | Failed / InvalidSpec             |
| not terminal         | - (finalizer missing)              | AddFinalizer        | unchanged                        |
| none, Pending        | - (codeInterpreterRef not Ready)   | - (its watch queues)| Pending / InterpreterRefNotReady |
| none, Pending        | - (custom interpreter)             | CheckInterpreter    | Pending / CheckingInterpreter    |
| none, Pending        | - (built-in interpreter)           | Start *             | Starting / Starting              |
| Pending              | InterpreterSeen READY              | Start *             | Starting / Starting              |
| Pending              | InterpreterSeen CREATING or other  | wait 10 s           | Pending / InterpreterNotReady    |
| Pending              | InterpreterSeen CREATE_FAILED...   | -                   | Failed / InterpreterFailed       |
| Pending              | InterpreterMissing                 | -                   | Failed / InterpreterNotFound     |
| none, Pending        | - (a Start unresolved, see below)  | Start * (replay)    | Starting / Starting              |
| Starting, no id      | - (resume after a crash)           | Start * (same token)| Starting                         |
| Starting             | SessionStarted                     | wait 1 s (settle)   | Starting (id recorded) [Started] |
| Starting, id recorded| - < 1 s after createdAt (written   | wait the settle, 1 s| Starting                         |
|                      |   to the second): an early pass    |                     |                                  |
| Starting             | - / SessionSeen without status     | Read / wait 2 s     | Starting                         |
| Starting, Ready      | SessionSeen READY                  | wait until expiry   | Ready / SessionReady [Ready]     |
| Ready                | - before expiresAt                 | wait until expiry   | Ready                            |
| Ready                | - at expiresAt, SessionUnconfirmed | Read                | Ready                            |
| any live             | SessionSeen TERMINATED, Missing    | -                   | Terminated / SessionExpired      |
|                      |                                    |                     |   or SessionStopped [Expired or  |
|                      |                                    |                     |   StoppedOutOfBand]              |
| Terminated           | anything, restartPolicy Never      | - (never restarted) | Terminated                       |
| Failed (terminal)    | anything                           | -                   | Failed                           |
| Failed (retryable)   | - (backoff elapsed)                | as if Pending/Ready | (retry)                          |
| any                  | CallFailed Throttled, 5xx, Conflict| wait, backoff       | phase kept / Throttled ...       |
| any                  | CallFailed QuotaExceeded           | wait >= 30 s        | Pending / QuotaExceeded          |
| none, Pending        | - (start_blocked: quota reached)   | - (gate requeues)   | Pending / QuotaExceeded          |
| any but Ready        | CallFailed AccessDenied            | wait >= 60 s        | Failed / AccessDenied (retried)  |
| any                  | CallFailed Invalid, NotFound start | -                   | Failed / InvalidRequest ...      |

The namespace's limits (its AgentCoreAccessPolicy, `resource.tenancy.limits`), checked before a
new session's Start (a first Start, or a restart; not a replay of an unresolved Start, not a
renewal's successor, which replaces a live session):

| record / view                                | action              | next phase / Ready reason                 |
|----------------------------------------------|---------------------|-------------------------------------------|
| interpreter (id, ARN, or codeInterpreterRef  | - (a policy change  | Failed / InterpreterNotAllowed [Warning]  |
|   name) not in allowedInterpreters           |   requeues)         |   (not final: decided again then)         |
| sessionTimeoutSeconds > maxSessionTimeout... | - (ditto)           | Failed / TimeoutNotAllowed [Warning]      |
| namespace_live >= maxSessions                | - (a session of the | Pending / NamespaceLimitReached           |
|                                              |   namespace ending  |   [NamespaceLimitReached]                 |
|                                              |   requeues)         |                                           |
| within the limits                            | Start * (account =  | Starting; status.accountId recorded       |
|                                              |   tenancy's)        |                                           |

Every call about a session goes to the account in `status.accountId` (Get, Stop, a replayed
Start, a successor's Start), whoever binds the namespace by then.

Deleting (finalizer held):

| situation                                   | action                     | next phase / reason          |
|---------------------------------------------|----------------------------|------------------------------|
| deletionPolicy Retain                       | RemoveFinalizer [Retained] | unchanged                    |
| no session id, no Start unresolved          | RemoveFinalizer            | unchanged                    |
| a Start unresolved (see below)              | Start * (replay, same token| then Stop                    |
|                                             | and parameters)            |                              |
| replay refused, a Start still unresolved    | wait, backoff (>= 60 s if  | Stopping / the error's kind: |
|                                             | denied) [the error's kind] | how to let go (Retain)       |
| replay refused, nothing unresolved any more | RemoveFinalizer            | unchanged                    |
| Terminated                                  | RemoveFinalizer            | unchanged                    |
| session live                                | Stop *                     | Stopping / Stopping          |
| SessionStopped, Missing, Seen TERMINATED    | RemoveFinalizer [Stopped]  | Terminated / Stopped         |
| Stop throttled, 5xx                         | wait, backoff              | Stopping / Throttled ...     |
| Stop denied or invalid                      | wait >= 30 s [StopFailed]  | Stopping / StopFailed: how   |
|                                             |                            | to let go (deletionPolicy)   |

restartPolicy Always, renewal and handover (issue 12). The first session's Start token is
`start-<uid>` as before; the n-th successor's is `restart-n-<uid>`, with n = restartCount,
persisted with pendingStartToken before the Start (the unresolved-Start rules below apply to
a successor's Start too). Each session is stopped with its own token, `stop-<id>-<uid>`.

| phase now / record          | observation this pass             | action              | next / Handover, Ready reason     |
|-----------------------------|-----------------------------------|---------------------|-----------------------------------|
| Ready, renewal not due      | -                                 | wait until min(renewal point, expiry, predecessor stop) | Ready |
| Ready, now >= expiresAt -   | - (no predecessor draining, no    | Start * (successor, | Ready; restartCount+1 /           |
|   renewBeforeSeconds        |   RestartBackOff pending)         |   next token)       |   Handover True StartingSuccessor |
| Ready, successor unresolved | -                                 | Start * (replay)    | Ready                             |
| Ready                       | SessionStarted (other id)         | wait 1 s (settle)   | nextSessionId recorded [Started]  |
| Ready, nextSessionId        | -                                 | Read (successor)    | Ready                             |
| Ready, nextSessionId        | SessionSeen successor READY       | wait                | Ready: sessionId = successor,     |
|                             |                                   |                     |   previousSessionId = old,        |
|                             |                                   |                     |   previousSessionStopAt = now +   |
|                             |                                   |                     |   grace / DrainingPredecessor     |
|                             |                                   |                     |   [Restarted old -> new]          |
| Ready, nextSessionId        | successor TERMINATED or Missing   | wait (back-off)     | Handover False RestartBackOff     |
|                             |                                   |                     |   [RestartBackOff]                |
| Ready, draining, due        | -                                 | Stop * (previous)   | Ready                             |
| any, draining               | previous Stopped/Missing/TERMINATED| Read (the session) | previousSessionStopAt cleared /   |
|                             |                                   |                     |   Handover False Complete         |
| any live, draining          | the session ends                  | Stop * (previous)   | (then the rows below)             |
| any live, Always or a       | the session ends (TERMINATED,     | Read (successor)    | Starting: successor takes over    |
|   successor known           |   Missing, Stopped) with next id  |                     |   [Expired/..., Restarted]        |
| any live, Always            | the session ends, a successor     | Start * (replay)    | Starting                          |
|                             |   Start unresolved                |                     |                                   |
| any live, Always            | the session ends >= 60 s after    | Start * (next token)| Starting, restartCount+1          |
|                             |   it was created                  |                     |   [Expired or StoppedOutOfBand]   |
| any live, Always            | the session ends < 60 s after it  | wait back-off (10 s | Pending / RestartBackOff,         |
|                             |   was created                     |   doubling to 300 s)|   restartAfter [RestartBackOff]   |
| Pending / RestartBackOff    | - before restartAfter             | wait                | Pending                           |
| Terminated, Always          | - (switched to Always)            | Start * (next token)| Starting                          |

Deleting during a handover: a successor's unresolved Start is replayed (same token) and its
session stopped; then nextSessionId is stopped, then a draining predecessor, then the session.
The finalizer stays while any of them may be live (the session's Stop answered while another
remains only requeues).

After the decision, when it waits (no action), and not deleting:

| record                                       | action                            | then                     |
|----------------------------------------------|-----------------------------------|--------------------------|
| spec.export.configMapName, `exported` not the| ExportConfigMap (the wait it meant| Exported: recorded,      |
|   fingerprint of (name, sessionId if Ready,  |   to make rides on it)            |   Exported True; refused |
|   interpreter, region, expiresAt, phase)     |                                   |   (not ours): recorded,  |
|                                              |                                   |   Exported False         |
|                                              |                                   |   ExportConflict         |
|                                              |                                   |   [ExportConflict]       |
| Terminated or final Failed, ttl set          | finishedAt stamped; wait ttl      |                          |
| finishedAt + ttlSecondsAfterFinished passed  | DeleteResource (uid precondition) | [Deleted]; the deletion  |
|                                              |                                   |   pass follows           |

A Start whose answer was lost (issue 19):

| Start's answer (per attempt)                  | status.pendingStartToken / unansweredStarts      |
|-----------------------------------------------|--------------------------------------------------|
| (before sending: persisted with the Start)    | the token / +1                                   |
| SessionStarted                                | cleared / 0, sessionId recorded                  |
| 5xx, timeout, unknown error, or a crash       | kept / kept: that attempt may have acted         |
| Throttled, AccessDenied, QuotaExceeded,       | kept / -1 (cleared at 0): this attempt did       |
|   Conflict                                    |   nothing; an earlier lost one is not settled    |
| InvalidRequest, NotFound                      | cleared / 0: the same parameters never started   |
|                                               |   one, or the interpreter and its sessions are   |
|                                               |   gone                                           |
| (a status without the count, phase Starting,  | counted as 1 unanswered attempt                  |
|   no id: written by an older operator)        |                                                  |

A Start is unresolved while no id is known and unansweredStarts > 0. Until it is resolved
the resource is never let go (but under Retain): the replay with the same token returns the
session the lost attempt created (AgentCore ignores a repeated token and answers as before),
or starts one, which is then stopped. Only a failure of the Start itself counts; a failed
GetCodeInterpreter settles nothing.

`*` marks mutating calls: the wiring persists the status before sending them, so a crash
after the call leaves a record that a call may have happened (pendingStartToken), and the
deterministic clientToken makes the retried Start return the same session.
`[X]` is the Kubernetes event posted on that transition. A call retried after a warning
(Throttled, QuotaExceeded, AccessDenied, StopFailed, ...) keeps that reason on the Ready
condition until it succeeds, so a retry is no new transition and posts no second event.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from agentcore_operator.api.v1alpha1 import (
    DeletionPolicy,
    Phase,
    SessionSpec,
    SessionStatus,
)
from agentcore_operator.api.v1alpha1.types import format_time
from agentcore_operator.controller.observations import (
    INTERPRETER_CREATING,
    INTERPRETER_READY,
    SESSION_READY,
    SESSION_TERMINATED,
    CallFailed,
    Exported,
    ExportRefused,
    InterpreterMissing,
    InterpreterSeen,
    Observation,
    ResourceDeleted,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
    SessionUnconfirmed,
)
from agentcore_operator.runtime.conditions import on_transition, ready_reason, with_condition, with_ready
from agentcore_operator.runtime.decision import AddFinalizer, EventNote, RemoveFinalizer
from agentcore_operator.runtime.decision import Decision as GenericDecision
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.tenancy.index import UNBOUND, NamespaceTenancy

READY = "Ready"
HANDOVER = "Handover"
EXPORTED = "Exported"
RESTART_BACKOFF = "RestartBackOff"
EXPORT_CONFLICT = "ExportConflict"
NAMESPACE_LIMIT_REACHED = "NamespaceLimitReached"
INTERPRETER_NOT_ALLOWED = "InterpreterNotAllowed"
TIMEOUT_NOT_ALLOWED = "TimeoutNotAllowed"

# Ready-condition reasons after which nothing will change without the user acting.
TERMINAL_REASONS = frozenset(
    {"InvalidSpec", "InterpreterFailed", "InterpreterNotFound", ErrorKind.INVALID.value}
)
# Warning reasons whose call is retried: they stay on the condition during the retry.
RETRIED_REASONS = frozenset({kind.value for kind in ErrorKind} | {"StopFailed"})
INTERPRETER_FAILED_STATES = frozenset({"CREATE_FAILED", "DELETING", "DELETED", "DELETE_FAILED"})
CLIENT_TOKEN_MIN = 33
START_OPERATION = "StartCodeInterpreterSession"
# A Start refused with these was answered, so that attempt created nothing. It says nothing of
# an earlier attempt whose answer was lost: throttling and authorisation come before AgentCore
# looks at the token, and whether a quota check does is not documented.
ATTEMPT_REFUSED_KINDS = frozenset(
    {ErrorKind.THROTTLED, ErrorKind.ACCESS_DENIED, ErrorKind.QUOTA_EXCEEDED, ErrorKind.CONFLICT}
)
# These settle every attempt: the same parameters are invalid (so they always were), or the
# interpreter does not exist (and no session of it can be live).
NOTHING_STARTED_KINDS = frozenset({ErrorKind.INVALID, ErrorKind.NOT_FOUND})


# Times in a status are written to the second (format_time), as Kubernetes writes them.
STATUS_TIME_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class Timing:
    """Waits the state machine asks for; tests and benchmarks shorten them."""

    start_poll_seconds: float = 2.0
    # After a Start, the first Get waits this long: a session takes a moment to be READY, and
    # a Get sent at once mostly answers "not yet", doubling Gets when thousands start at once.
    start_settle_seconds: float = 1.0
    interpreter_poll_seconds: float = 10.0
    quota_retry_seconds: float = 30.0
    access_denied_retry_seconds: float = 60.0
    stop_failure_retry_seconds: float = 30.0
    expiry_slack_seconds: float = 1.0
    # A session that ends this soon after it was created is restarted only after a back-off
    # (RestartBackOff), doubling from the first to the cap, as a Pod's CrashLoopBackOff does.
    quick_end_seconds: float = 60.0
    restart_backoff_first_seconds: int = 10
    restart_backoff_cap_seconds: int = 300


DEFAULT_TIMING = Timing()


@dataclass(frozen=True)
class ResourceView:
    """The parts of a CodeInterpreterSession resource the decision depends on."""

    uid: str
    namespace: str
    name: str
    generation: int
    spec: SessionSpec | None
    spec_error: str | None = None
    deleting: bool = False
    has_finalizer: bool = True
    start_blocked: bool = False  # the region's session quota is known to be reached
    # Why the CodeInterpreter named by spec.codeInterpreterRef cannot be used yet (None: it is
    # Ready, and spec.code_interpreter_identifier holds its id, or no reference is made).
    interpreter_ref_waiting: str | None = None
    # The namespace's AgentCoreAccessPolicy binding (tenancy/index.py): the account a new
    # session starts in, and the namespace's limits.
    tenancy: NamespaceTenancy = UNBOUND
    # Live sessions (Starting, Ready, Stopping) of the namespace's other resources, Starts
    # being decided in this very moment included (the store cannot show those yet).
    namespace_live: int = 0


# Actions: the one thing to do next. The AWS ones carry every parameter of the call.
@dataclass(frozen=True)
class CheckInterpreter:
    region: str
    interpreter_id: str
    account: str = ""  # the 12-digit account to call in ("" or the operator's own: its own identity)


@dataclass(frozen=True)
class StartSession:
    region: str
    interpreter: str
    name: str
    timeout_seconds: int
    client_token: str
    certificates: tuple[dict[str, object], ...] = ()
    filesystem_configurations: tuple[dict[str, object], ...] = ()
    account: str = ""


@dataclass(frozen=True)
class ReadSession:
    region: str
    interpreter: str
    session_id: str
    account: str = ""


@dataclass(frozen=True)
class StopSession:
    region: str
    interpreter: str
    session_id: str
    client_token: str
    account: str = ""


@dataclass(frozen=True)
class ExportConfigMap:
    """Write spec.export.configMapName; `requeue_after`/`backoff` are the wait that follows."""

    namespace: str
    name: str
    owner_name: str
    owner_uid: str
    data: tuple[tuple[str, str], ...]
    fingerprint: str
    requeue_after: float | None = None
    backoff: bool = False


@dataclass(frozen=True)
class DeleteResource:
    """Delete the resource itself (ttlSecondsAfterFinished), preconditioned on its uid."""

    namespace: str
    name: str
    uid: str


KubeAction = ExportConfigMap | DeleteResource
Action = (
    CheckInterpreter
    | StartSession
    | ReadSession
    | StopSession
    | ExportConfigMap
    | DeleteResource
    | AddFinalizer
    | RemoveFinalizer
)
AwsAction = CheckInterpreter | StartSession | ReadSession | StopSession | ExportConfigMap | DeleteResource
MUTATING_ACTIONS = (StartSession, StopSession)
Decision = GenericDecision[SessionStatus, AwsAction]


def client_token(uid: str, purpose: str) -> str:
    """A deterministic idempotency token for a call about one resource.

    The same resource always sends the same token, so a Start retried after a crash
    (before its result was recorded) is recognised by AgentCore and creates nothing new.
    """
    base = re.sub(r"[^a-zA-Z0-9]+", "-", uid).strip("-") or "resource"
    token = f"{purpose}-{base}"
    if len(token) < CLIENT_TOKEN_MIN:
        token = f"{token}-{'0' * max(1, CLIENT_TOKEN_MIN - len(token) - 1)}"
    # The model's pattern ends on a letter or digit; cutting at 256 could leave a dash.
    return token[:256].rstrip("-")


def start_token(uid: str, restart: int) -> str:
    """The Start token of the resource's `restart`-th successor session (0: its first session).

    The first keeps the token of operators without restarts, so an upgrade mid-Start
    replays the same token.
    """
    return client_token(uid, "start" if restart == 0 else f"restart-{restart}")


def stop_token(uid: str, session_id: str) -> str:
    """A Stop token per session: a resource stops several over its life (renewals), and
    AgentCore refuses one token for two different Stop requests."""
    safe = re.sub(r"[^a-zA-Z0-9]+", "-", session_id).strip("-") or "session"
    return client_token(uid, f"stop-{safe}")


def decide(
    resource: ResourceView,
    status: SessionStatus,
    observation: Observation | None,
    now: datetime,
    timing: Timing = DEFAULT_TIMING,
) -> Decision:
    """The next action and the new status for one resource. Pure: see the module table."""
    status = replace(status, observed_generation=resource.generation)
    match observation:
        case Exported() | ExportRefused():
            return _export_answered(status, observation, now)
        case ResourceDeleted(failure=None):
            return Decision(None, status)
        case ResourceDeleted():
            return Decision(None, status, requeue_after=timing.start_poll_seconds, backoff=True)
    decision = _decide(resource, status, observation, now, timing)
    return _afterwards(resource, decision, now)


def _decide(
    resource: ResourceView,
    status: SessionStatus,
    observation: Observation | None,
    now: datetime,
    timing: Timing,
) -> Decision:
    if resource.deleting:
        return _deleting(resource, status, _about_this_session(observation, status), now, timing)
    handover = _about_other_session(resource, status, observation, now, timing)
    if handover is not None:
        return handover
    observation = _about_this_session(observation, status)
    if _draining(status) and (status.phase is Phase.TERMINATED or _terminally_failed(status)):
        return _stop_predecessor(resource, status, now)
    if status.phase is Phase.TERMINATED and resource.spec is not None and resource.spec.restarts:
        # Switched to restartPolicy Always after the session ended: it comes back.
        return _restart(resource, status, status, (), now, now, timing)
    if status.phase is Phase.TERMINATED or _terminally_failed(status):
        return Decision(None, status)
    if resource.spec is None and status.session_id is None:
        message = resource.spec_error or "the spec cannot be read"
        return _note(_set(status, Phase.FAILED, "InvalidSpec", message, now), "Warning")
    if not resource.has_finalizer:
        return Decision(AddFinalizer(), status)

    match observation:
        case CallFailed(error=error):
            return _on_error(_settle_start(status, error), error, now, timing)
        case InterpreterSeen(status=state) if state == INTERPRETER_READY:
            return _start(resource, status, now)
        case InterpreterSeen(status=state, failure_reason=why) if state in INTERPRETER_FAILED_STATES:
            spec = _spec(resource)
            message = f"code interpreter {spec.interpreter_id} is {state}" + (f": {why}" if why else "")
            return _note(_set(status, Phase.FAILED, "InterpreterFailed", message, now), "Warning")
        case InterpreterSeen(status=state):
            spec = _spec(resource)
            verb = "still being created" if state == INTERPRETER_CREATING else f"in state {state}"
            message = f"waiting for code interpreter {spec.interpreter_id}: it is {verb}"
            new = _set(status, Phase.PENDING, "InterpreterNotReady", message, now)
            return Decision(None, new, requeue_after=timing.interpreter_poll_seconds)
        case InterpreterMissing():
            message = f"code interpreter {_spec(resource).interpreter_id} does not exist"
            return _note(_set(status, Phase.FAILED, "InterpreterNotFound", message, now), "Warning")
        case SessionStarted() if (
            status.session_id is not None and observation.session_id != status.session_id
        ):
            return _successor_started(resource, status, observation, now, timing)
        case SessionStarted():
            return _started(status, observation, now, timing)
        case SessionSeen():
            return _seen(resource, status, observation, now, timing)
        case SessionMissing():
            return _gone(resource, status, None, now, timing)
        case SessionStopped(last_updated_at=when):
            return _gone(resource, status, when, now, timing)
        case SessionUnconfirmed():
            return Decision(_read(status), status)
        case None:
            return _next_step(resource, status, now, timing)
    raise AssertionError(f"unhandled observation {observation!r}")  # pragma: no cover


def _about_this_session(observation: Observation | None, status: SessionStatus) -> Observation | None:
    """Drop news of another session: a stale sweep hint can outlive a re-created resource."""
    match observation:
        case (
            SessionSeen(session_id=sid)
            | SessionMissing(session_id=sid)
            | SessionStopped(session_id=sid)
            | SessionUnconfirmed(session_id=sid)
        ) if sid not in (status.session_id, status.next_session_id, _draining_id(status)):
            return None
    return observation


def _draining_id(status: SessionStatus) -> str | None:
    return status.previous_session_id if _draining(status) else None


def _progress(
    status: SessionStatus, phase: Phase, reason: str, message: str, now: datetime, *, retrying: bool
) -> SessionStatus:
    """Set the phase for a call; a call retried after a warning keeps the warning's reason and
    message, so a retry is no new transition (no second event) and the user keeps the cause."""
    kept = _ready_reason(status)
    if retrying and kept in RETRIED_REASONS:
        return _set(status, phase, kept, status.message or message, now)
    return _set(status, phase, reason, message, now)


def _next_step(resource: ResourceView, status: SessionStatus, now: datetime, timing: Timing) -> Decision:
    """No fresh observation: work out what to ask AgentCore from what was recorded."""
    if status.session_id is None:
        spec = _spec(resource)
        if status.restart_after is not None and now < status.restart_after and not _unresolved(status):
            return Decision(None, status, requeue_after=(status.restart_after - now).total_seconds())
        starting = _unresolved(status) or status.phase is Phase.STARTING
        if resource.interpreter_ref_waiting is not None and not starting:
            message = resource.interpreter_ref_waiting
            return Decision(None, _set(status, Phase.PENDING, "InterpreterRefNotReady", message, now))
        if starting or spec.is_builtin:
            return _start(resource, status, now)
        refused = _refused_by_limits(resource, status, now)  # before asking AWS about the interpreter
        if refused is not None:
            return refused
        new = _progress(
            status,
            Phase.PENDING,
            "CheckingInterpreter",
            f"checking code interpreter {spec.interpreter_id}",
            now,
            retrying=status.phase is not Phase.STOPPING,
        )
        return Decision(CheckInterpreter(spec.region, spec.interpreter_id, resource.tenancy.account_id), new)
    if _draining(status) and status.previous_stop_at is not None and now >= status.previous_stop_at:
        return _stop_predecessor(resource, status, now)
    if status.next_session_id is not None:
        return Decision(_read(status, status.next_session_id), status)
    if _unresolved(status):
        return _renew(resource, status, now, timing)  # replay the successor's Start
    if _renewal_due(resource, status, now):
        return _renew(resource, status, now, timing)
    if status.phase is Phase.READY and status.expires_at is not None and now < status.expires_at:
        return Decision(None, status, requeue_after=_wake(resource, status, now, timing))
    settling = _settle_left(status, now, timing)
    if settling > 0:
        return Decision(None, status, requeue_after=settling)
    return Decision(_read(status), status)


def _settle_left(status: SessionStatus, now: datetime, timing: Timing) -> float:
    """The settle wait after a Start, for a pass that comes early; 0 when the settle is over.

    A pass can come before the wait is over: when the watch event of our own finalizer write
    beats the write's answer, say, the pass that sent the Start is followed at once by another.
    A Get then would only answer "not yet" (one more Get, and a status write). The status
    records the session's createdAt (AgentCore's clock) to the second, as Kubernetes writes
    times, so the session is up to a second younger than it says. A pass within that second
    is early and waits the whole settle (the session is no older than the pass). A later pass
    goes on: the timer's pass after the settle always comes later, and counting the second
    against it (as a first version did) held every session up to a second more. An early pass
    that falls just past the second (a session created late in its second) costs one Get.
    """
    if status.phase is not Phase.STARTING or status.session_id is None or status.created_at is None:
        return 0.0
    if now >= status.created_at + STATUS_TIME_RESOLUTION:
        return 0.0
    return timing.start_settle_seconds


# -- restarts and renewal (restartPolicy Always) ------------------------------------------------


def _draining(status: SessionStatus) -> bool:
    """A predecessor runs on (renewGraceSeconds) and is to be stopped at previous_stop_at."""
    return status.previous_session_id is not None and status.previous_stop_at is not None


def _renewal_due(resource: ResourceView, status: SessionStatus, now: datetime) -> bool:
    spec = resource.spec
    if spec is None or not spec.renews or status.phase is not Phase.READY or status.expires_at is None:
        return False
    if _draining(status) or (status.restart_after is not None and now < status.restart_after):
        return False  # one predecessor at a time: never a third session
    return now >= status.expires_at - timedelta(seconds=spec.renew_before_seconds)


def _wake(resource: ResourceView, status: SessionStatus, now: datetime, timing: Timing) -> float:
    """Seconds until the next thing due for a Ready session: its expiry, its renewal, or the
    stop of its predecessor."""

    def until(moment: datetime) -> float:
        return max(0.0, (moment - now).total_seconds())

    waits: list[float] = []
    if status.expires_at is not None:
        waits.append(until(status.expires_at) + timing.expiry_slack_seconds)
        spec = resource.spec
        if spec is not None and spec.renews and not _draining(status):
            renew_at = status.expires_at - timedelta(seconds=spec.renew_before_seconds)
            waits.append(until(max(renew_at, status.restart_after or renew_at)))
    if _draining(status) and status.previous_stop_at is not None:
        waits.append(until(status.previous_stop_at))
    return min(waits) if waits else timing.start_poll_seconds


def _handover(status: SessionStatus, active: bool, reason: str, message: str, now: datetime) -> SessionStatus:
    """The Handover condition: True while a successor starts or a predecessor drains."""
    return with_condition(status, HANDOVER, active, reason, message, now)


def _renew(resource: ResourceView, status: SessionStatus, now: datetime, timing: Timing) -> Decision:
    """Start the successor of a Ready session (or replay its Start, same token and parameters).

    The successor has the recorded parameters of the session it follows (all immutable in the
    spec) and its own token: the uid and its number. The status names the token before the
    Start is sent, as for a first Start, so a crash cannot lose the attempt.
    """
    replay = _unresolved(status)
    if resource.start_blocked and not replay:
        message = "the concurrent session quota is reached; the successor starts when a session ends"
        new = _handover(status, True, ErrorKind.QUOTA_EXCEEDED.value, message, now)
        return Decision(
            None, new, requeue_after=min(timing.quota_retry_seconds, _wake(resource, status, now, timing))
        )
    count = (status.restart_count or 0) + (0 if replay else 1)
    recorded = status.region and status.code_interpreter_identifier and status.session_name
    if recorded and status.session_timeout_seconds:
        region, interpreter = status.region or "", status.code_interpreter_identifier or ""
        name, timeout = status.session_name or "", status.session_timeout_seconds
    else:
        spec = _spec(resource)
        region, interpreter = spec.region, spec.code_interpreter_identifier
        name, timeout = spec.session_name, spec.session_timeout_seconds
    # A successor runs where its predecessor does: one resource's sessions share an account.
    account = status.account_id or resource.tenancy.account_id
    action = StartSession(
        region, interpreter, name, timeout, start_token(resource.uid, count), account=account
    )
    new = replace(
        status,
        restart_count=count,
        pending_start_token=action.client_token,
        unanswered_starts=_unanswered(status) + 1,
    )
    message = f"starting the successor of session {status.session_id} before it expires"
    return Decision(action, _handover(new, True, "StartingSuccessor", message, now))


def _successor_started(
    resource: ResourceView, status: SessionStatus, seen: SessionStarted, now: datetime, timing: Timing
) -> Decision:
    new = replace(status, next_session_id=seen.session_id, pending_start_token=None, unanswered_starts=0)
    message = f"successor session {seen.session_id} started, waiting for it to be ready"
    new = _handover(new, True, "StartingSuccessor", message, now)
    events = (
        EventNote("Normal", "Started", f"Started session {seen.session_id} to succeed {status.session_id}"),
    )
    return Decision(None, new, requeue_after=timing.start_settle_seconds, events=events)


def _about_other_session(
    resource: ResourceView,
    status: SessionStatus,
    observation: Observation | None,
    now: datetime,
    timing: Timing,
) -> Decision | None:
    """News of the successor being started or of the predecessor being stopped."""
    match observation:
        case (
            SessionSeen(session_id=sid) | SessionMissing(session_id=sid) | SessionStopped(session_id=sid)
        ) if sid == status.previous_session_id and sid != status.session_id:
            ended = not isinstance(observation, SessionSeen) or observation.status == SESSION_TERMINATED
            if not ended:
                return None
            return _predecessor_stopped(resource, status, now, timing)
        case SessionSeen(session_id=sid) if sid == status.next_session_id and sid != status.session_id:
            if observation.status == SESSION_READY:
                return _promote(resource, status, observation, now, timing)
            if observation.status == SESSION_TERMINATED:
                return _successor_lost(resource, status, now, timing)
            return Decision(
                None,
                status,
                requeue_after=min(timing.start_poll_seconds, _wake(resource, status, now, timing)),
            )
        case SessionMissing(session_id=sid) if sid == status.next_session_id and sid != status.session_id:
            return _successor_lost(resource, status, now, timing)
    return None


def _promote(
    resource: ResourceView, status: SessionStatus, seen: SessionSeen, now: datetime, timing: Timing
) -> Decision:
    """The successor is READY: it becomes the session; its predecessor drains, then is stopped."""
    old = status.session_id
    grace = resource.spec.renew_grace_seconds if resource.spec else 0
    timeout = status.session_timeout_seconds or 0
    expires_at = seen.created_at + timedelta(seconds=timeout)
    stop_at = now + timedelta(seconds=grace)
    new = replace(
        status,
        session_id=seen.session_id,
        next_session_id=None,
        previous_session_id=old,
        previous_stop_at=stop_at,
        created_at=seen.created_at,
        expires_at=expires_at,
        restart_after=None,
    )
    message = f"session {seen.session_id} is ready until {format_time(expires_at)}"
    new = _set(new, Phase.READY, "SessionReady", message, now, ready=True)
    new = _handover(
        new, True, "DrainingPredecessor", f"session {old} is stopped at {format_time(stop_at)}", now
    )
    note = EventNote("Normal", "Restarted", f"Renewed session {old} by {seen.session_id}")
    return Decision(None, new, requeue_after=_wake(resource, new, now, timing), events=(note,))


def _successor_lost(resource: ResourceView, status: SessionStatus, now: datetime, timing: Timing) -> Decision:
    """The successor ended before it was READY: try another after a back-off."""
    lost = status.next_session_id
    delay = _next_backoff(status, timing)
    new = replace(
        status,
        next_session_id=None,
        restart_backoff_seconds=delay,
        restart_after=now + timedelta(seconds=delay),
    )
    message = f"successor session {lost} ended before it was ready; the next try is in {delay} s"
    new = _handover(new, False, RESTART_BACKOFF, message, now)
    event = EventNote("Warning", RESTART_BACKOFF, message)
    return Decision(None, new, requeue_after=_wake(resource, new, now, timing), events=(event,))


def _stop_predecessor(resource: ResourceView, status: SessionStatus, now: datetime) -> Decision:
    return Decision(_stop_call(resource, status, status.previous_session_id or ""), status)


def _predecessor_stopped(
    resource: ResourceView, status: SessionStatus, now: datetime, timing: Timing
) -> Decision:
    new = replace(status, previous_stop_at=None)
    message = f"session {status.previous_session_id} stopped; session {status.session_id} took over"
    new = _handover(new, False, "Complete", message, now)
    if status.phase is not Phase.READY:
        return Decision(None, new, requeue_after=0.0 if status.phase is not Phase.TERMINATED else None)
    # The current session may have ended while its predecessor drained: look once.
    return Decision(_read(new), new)


def _next_backoff(status: SessionStatus, timing: Timing) -> int:
    previous = status.restart_backoff_seconds
    if previous is None:
        return timing.restart_backoff_first_seconds
    return min(timing.restart_backoff_cap_seconds, previous * 2)


def _restart(
    resource: ResourceView,
    status: SessionStatus,
    ended: SessionStatus,
    told: tuple[EventNote, ...],
    moment: datetime,
    now: datetime,
    timing: Timing,
) -> Decision:
    """The session ended and is replaced (restartPolicy Always, or a successor already started).

    `ended` is the status saying how it ended; the restart keeps its message in the event.
    """
    old = status.session_id
    base = replace(
        ended,
        session_id=None,
        previous_session_id=old,
        previous_stop_at=None,
        created_at=None,
        expires_at=None,
    )
    if status.next_session_id is not None:  # the successor takes over at once
        successor = status.next_session_id
        new = replace(base, session_id=successor, next_session_id=None)
        new = _set(
            new, Phase.STARTING, "Starting", f"session {old} ended; session {successor} takes over", now
        )
        new = _handover(new, False, "Complete", f"session {successor} replaced {old}", now)
        note = EventNote("Normal", "Restarted", f"Session {old} ended; restarted as {successor}")
        return Decision(_read(new), new, events=(*told, note))
    if _unresolved(status):  # the successor's Start is unresolved: replay it as the session's
        new = _handover(base, False, "Complete", f"session {old} ended before its successor was known", now)
        decision = _start(resource, new, now)
        return replace(decision, events=(*told, *decision.events))
    lived = (moment - status.created_at).total_seconds() if status.created_at else timing.quick_end_seconds
    new = replace(
        base, restart_count=(status.restart_count or 0) + 1, pending_start_token=None, unanswered_starts=0
    )
    if lived < timing.quick_end_seconds:
        delay = _next_backoff(status, timing)
        new = replace(new, restart_backoff_seconds=delay, restart_after=now + timedelta(seconds=delay))
        message = f"session {old} ended {int(lived)} s after it started; restarting in {delay} s"
        new = _set(new, Phase.PENDING, RESTART_BACKOFF, message, now)
        return Decision(
            None,
            new,
            requeue_after=float(delay),
            events=(*told, EventNote("Warning", RESTART_BACKOFF, message)),
        )
    new = replace(new, restart_backoff_seconds=None, restart_after=None)
    decision = _start(resource, new, now)
    return replace(decision, events=(*told, *decision.events))


def _start(resource: ResourceView, status: SessionStatus, now: datetime) -> Decision:
    """Start a session, or replay a Start whose answer was lost (same token, same parameters).

    The new status names the token and counts this attempt as unanswered; the wiring
    persists it before sending, so a crash during the call cannot lose the attempt.
    """
    fresh = not resource.deleting and not _unresolved(status)
    if fresh:
        refused = _refused_by_limits(resource, status, now)
        if refused is not None:
            return refused
    if resource.start_blocked and fresh:
        message = "the concurrent session quota is reached; waiting for a session to end"
        return Decision(None, _set(status, Phase.PENDING, ErrorKind.QUOTA_EXCEEDED.value, message, now))
    action = _start_call(resource, status)
    new = replace(
        _progress(
            status,
            Phase.STARTING,
            "Starting",
            f"starting a session on {action.interpreter}",
            now,
            retrying=status.phase is not Phase.STOPPING,
        ),
        code_interpreter_identifier=action.interpreter,
        region=action.region,
        session_name=action.name,
        session_timeout_seconds=action.timeout_seconds,
        pending_start_token=action.client_token,
        unanswered_starts=_unanswered(status) + 1,
        restart_after=None,
        account_id=action.account or None,
    )
    return Decision(action, new)


def _refused_by_limits(resource: ResourceView, status: SessionStatus, now: datetime) -> Decision | None:
    """The namespace's limits (its AgentCoreAccessPolicy), checked before a new session starts.

    A refused interpreter or timeout is Failed, not final: a policy change requeues the
    namespace's sessions and they are decided again. A full namespace waits in Pending and
    is requeued when one of its sessions ends (the wiring's count changes).
    """
    tenancy = resource.tenancy
    limits = tenancy.limits
    spec = _spec(resource)
    policy = f"AgentCoreAccessPolicy {tenancy.policy_name}"
    ref = spec.code_interpreter_ref
    if (ref is None or resource.interpreter_ref_waiting is None) and not limits.allows_interpreter(
        spec.code_interpreter_identifier, ref
    ):
        message = (
            f"interpreter {ref or spec.code_interpreter_identifier} is not in allowedInterpreters of "
            f"{policy} for namespace {resource.namespace}"
        )
        new = _set(status, Phase.FAILED, INTERPRETER_NOT_ALLOWED, message, now)
        return Decision(None, new, events=_warn(status, new))
    maximum = limits.max_session_timeout_seconds
    if maximum is not None and spec.session_timeout_seconds > maximum:
        message = (
            f"sessionTimeoutSeconds {spec.session_timeout_seconds} is over maxSessionTimeoutSeconds "
            f"{maximum} of {policy} for namespace {resource.namespace}"
        )
        new = _set(status, Phase.FAILED, TIMEOUT_NOT_ALLOWED, message, now)
        return Decision(None, new, events=_warn(status, new))
    most = limits.max_sessions
    if most is not None and resource.namespace_live >= most:
        message = (
            f"namespace {resource.namespace} has {resource.namespace_live} live sessions, the maxSessions "
            f"of {policy}; starts when one ends"
        )
        new = _set(status, Phase.PENDING, NAMESPACE_LIMIT_REACHED, message, now)
        note = EventNote("Normal", NAMESPACE_LIMIT_REACHED, message)
        return Decision(None, new, events=_transition_events(status, new, note))
    return None


def _start_call(resource: ResourceView, status: SessionStatus) -> StartSession:
    """A replay sends what the lost attempt sent (recorded in the status); a first Start, the spec."""
    token = start_token(resource.uid, status.restart_count or 0)
    interpreter, region = status.code_interpreter_identifier, status.region
    name, timeout = status.session_name, status.session_timeout_seconds
    mounts = (
        (resource.spec.certificates, resource.spec.filesystem_configurations) if resource.spec else ((), ())
    )
    if _unresolved(status) and interpreter and region and name and timeout:
        # A replay goes to the account the lost attempt went to, whoever binds the namespace now.
        account = status.account_id or ""
        return StartSession(region, interpreter, name, timeout, token, *mounts, account=account)
    spec = _spec(resource)
    return StartSession(
        region=spec.region,
        interpreter=spec.code_interpreter_identifier,
        name=spec.session_name,
        timeout_seconds=spec.session_timeout_seconds,
        client_token=token,
        certificates=spec.certificates,
        filesystem_configurations=spec.filesystem_configurations,
        account=resource.tenancy.account_id,
    )


def _unanswered(status: SessionStatus) -> int:
    """How many Starts of this resource may have created a session nobody has heard of.

    With a session, only a successor's Start (a renewal) can be unanswered.
    """
    if status.session_id is not None:
        if status.next_session_id is None and status.pending_start_token is not None:
            return status.unanswered_starts or 0
        return 0
    if status.unanswered_starts is not None:
        return status.unanswered_starts
    # An older operator recorded an attempt by the phase alone.
    return 1 if status.phase is Phase.STARTING else 0


def _unresolved(status: SessionStatus) -> bool:
    return _unanswered(status) > 0


def _can_replay(resource: ResourceView, status: SessionStatus) -> bool:
    recorded = status.code_interpreter_identifier and status.region and status.session_name
    return resource.spec is not None or bool(recorded and status.session_timeout_seconds)


def _settle_start(status: SessionStatus, error: ApiError) -> SessionStatus:
    """What a refused Start tells about the attempts whose answer was lost (see the kinds above)."""
    if error.operation != START_OPERATION or not _unresolved(status):
        return status
    if error.kind in NOTHING_STARTED_KINDS:
        return replace(status, pending_start_token=None, unanswered_starts=0)
    if error.kind in ATTEMPT_REFUSED_KINDS:
        left = _unanswered(status) - 1
        token = status.pending_start_token if left > 0 else None
        return replace(status, pending_start_token=token, unanswered_starts=left)
    return status  # a 5xx or a timeout: that attempt may have acted too


def _started(status: SessionStatus, seen: SessionStarted, now: datetime, timing: Timing) -> Decision:
    timeout = status.session_timeout_seconds or 0
    is_new = status.session_id != seen.session_id
    new = replace(
        _answered(status, seen),
        created_at=seen.created_at,
        expires_at=seen.created_at + timedelta(seconds=timeout),
    )
    message = f"session {seen.session_id} started, waiting for it to be ready"
    new = _set(new, Phase.STARTING, "Starting", message, now)
    events = (EventNote("Normal", "Started", f"Started session {seen.session_id}"),) if is_new else ()
    if is_new and status.previous_session_id is not None and status.restart_count:
        note = f"Session {status.previous_session_id} ended; restarted as {seen.session_id}"
        events = (EventNote("Normal", "Restarted", note),)
    return Decision(None, new, requeue_after=timing.start_settle_seconds, events=events)


def _answered(status: SessionStatus, started: SessionStarted) -> SessionStatus:
    """A Start answered: its session is known, so no attempt is left unresolved."""
    return replace(status, session_id=started.session_id, pending_start_token=None, unanswered_starts=0)


def _seen(
    resource: ResourceView, status: SessionStatus, seen: SessionSeen, now: datetime, timing: Timing
) -> Decision:
    if seen.status == SESSION_TERMINATED:
        return _gone(resource, status, seen.last_updated_at, now, timing)
    if seen.status != SESSION_READY:
        # Still starting (no status yet), or a status this operator does not know.
        state = "no status yet" if seen.status is None else f"unknown status {seen.status}"
        if status.phase is Phase.READY:
            return Decision(None, status, requeue_after=timing.start_poll_seconds)
        new = _set(status, Phase.STARTING, "Starting", f"session {seen.session_id} has {state}", now)
        return Decision(None, new, requeue_after=timing.start_poll_seconds)
    timeout = status.session_timeout_seconds or 0
    expires_at = seen.created_at + timedelta(seconds=timeout)
    new = replace(status, session_id=seen.session_id, created_at=seen.created_at, expires_at=expires_at)
    message = f"session {seen.session_id} is ready until {format_time(expires_at)}"
    new = _set(new, Phase.READY, "SessionReady", message, now, ready=True)
    events = _transition_events(
        status, new, EventNote("Normal", "Ready", f"Session {seen.session_id} is ready")
    )
    return Decision(None, new, requeue_after=_wake(resource, new, now, timing), events=events)


def _gone(
    resource: ResourceView,
    status: SessionStatus,
    last_updated_at: datetime | None,
    now: datetime,
    timing: Timing,
) -> Decision:
    """The session ended outside our deletion path: it expired, or someone stopped it."""
    moment = last_updated_at or now
    expired = status.expires_at is not None and moment >= status.expires_at - timedelta(seconds=1)
    session = status.session_id
    if expired:
        reason, event = (
            "SessionExpired",
            EventNote("Normal", "Expired", f"Session {session} reached its timeout"),
        )
        message = f"session {session} expired at {format_time(status.expires_at or moment)}"
    else:
        reason = "SessionStopped"
        event = EventNote(
            "Warning", "StoppedOutOfBand", f"Session {session} was stopped outside this resource"
        )
        message = f"session {session} was stopped outside Kubernetes; it will not be restarted"
    restarts = resource.spec is not None and resource.spec.restarts
    if _draining(status):
        # Its predecessor still runs: stop it first (never three sessions), then restart.
        return _stop_predecessor(resource, replace(status, previous_stop_at=now), now)
    if restarts or status.next_session_id is not None or _unresolved(status):
        message = message.replace("; it will not be restarted", "")
        ended = replace(status, message=message)
        return _restart(resource, status, ended, (event,), moment, now, timing)
    new = _set(status, Phase.TERMINATED, reason, message, now)
    return Decision(None, new, events=_transition_events(status, new, event))


def _on_error(status: SessionStatus, error: ApiError, now: datetime, timing: Timing) -> Decision:
    kind = error.kind
    detail = f"{error.operation} failed: {error.code}: {error.message}"
    if kind is ErrorKind.INVALID or (kind is ErrorKind.NOT_FOUND and status.session_id is None):
        reason = "InterpreterNotFound" if kind is ErrorKind.NOT_FOUND else kind.value
        return _note(_set(status, Phase.FAILED, reason, detail, now), "Warning")
    if kind is ErrorKind.QUOTA_EXCEEDED and status.session_id is None:
        new = _set(status, Phase.PENDING, kind.value, f"{detail}; will start when capacity frees up", now)
        return Decision(None, new, requeue_after=timing.quota_retry_seconds, backoff=True)
    if status.phase is Phase.READY:
        # The session is still usable: a failed expiry check is not news for the user.
        return Decision(None, status, backoff=True)
    if kind is ErrorKind.ACCESS_DENIED:
        new = _set(status, Phase.FAILED, kind.value, f"{detail}; retrying", now)
        return Decision(
            None,
            new,
            requeue_after=timing.access_denied_retry_seconds,
            backoff=True,
            events=_warn(status, new),
        )
    phase = status.phase if status.phase in (Phase.PENDING, Phase.STARTING) else Phase.PENDING
    if status.session_id is not None:
        phase = Phase.STARTING
    new = _set(status, phase, kind.value, f"{detail}; retrying", now)
    return Decision(None, new, backoff=True)


def _deleting(
    resource: ResourceView,
    status: SessionStatus,
    observation: Observation | None,
    now: datetime,
    timing: Timing,
) -> Decision:
    if not resource.has_finalizer:
        return Decision(None, status)
    session = status.session_id
    match observation:
        case (
            SessionStopped(session_id=sid) | SessionMissing(session_id=sid) | SessionSeen(session_id=sid)
        ) if session is not None and sid != session:
            ended = not isinstance(observation, SessionSeen) or observation.status == SESSION_TERMINATED
            return _other_stopped_on_delete(status, sid if ended else None)
        case SessionStopped() | SessionMissing():
            return _stopped(status, now)
        case SessionSeen(status=state) if state == SESSION_TERMINATED:
            return _stopped(status, now)
        case SessionStarted() if session is not None and observation.session_id != session:
            new = replace(
                status, next_session_id=observation.session_id, pending_start_token=None, unanswered_starts=0
            )
            return _stop(resource, new, now, observation.session_id)
        case SessionStarted():
            return _stop(resource, _answered(status, observation), now)
        case CallFailed(error=error) if (
            session is not None and error.operation == START_OPERATION and _unresolved(status)
        ):
            # The replayed Start of a successor was refused: settle what it tells, and retry.
            return _unresolved_on_delete(_settle_start(status, error), error, now, timing)
        case CallFailed(error=error) if session is None:
            # The replayed Start that was to reveal a possibly started session was refused.
            return _unresolved_on_delete(_settle_start(status, error), error, now, timing)
        case CallFailed(error=error):
            return _stop_failed(status, error, now, timing)

    policy = resource.spec.deletion_policy if resource.spec else DeletionPolicy.DELETE
    if policy is DeletionPolicy.RETAIN:
        live = session is not None and status.phase not in (Phase.TERMINATED, Phase.FAILED)
        note = EventNote("Normal", "Retained", f"Left session {session} running (deletionPolicy Retain)")
        return Decision(RemoveFinalizer(), status, events=(note,) if live else ())
    if session is not None and _unresolved(status) and _can_replay(resource, status):
        # A successor's Start may have gone through: learn its id (same token), then stop it.
        return _renew(resource, status, now, timing)
    if status.next_session_id is not None:
        return _stop(resource, status, now, status.next_session_id)
    if _draining(status):
        return _stop(resource, status, now, status.previous_session_id)
    if session is None:
        # A Start may have gone through before its answer was lost: ask again with the same
        # token to learn the id, then stop it.
        if _unresolved(status) and _can_replay(resource, status):
            return _start(resource, status, now)
        return Decision(RemoveFinalizer(), status)
    if status.phase is Phase.TERMINATED:
        return Decision(RemoveFinalizer(), status)
    return _stop(resource, status, now)


def _other_stopped_on_delete(status: SessionStatus, ended: str | None) -> Decision:
    """A successor or predecessor is stopped: forget it, and go on with the rest next pass."""
    new = status
    if ended is not None and ended == status.next_session_id:
        new = replace(new, next_session_id=None)
    if ended is not None and ended == status.previous_session_id:
        new = replace(new, previous_stop_at=None)
    return Decision(None, new, requeue_after=0.0)


def _unresolved_on_delete(status: SessionStatus, error: ApiError, now: datetime, timing: Timing) -> Decision:
    if not _unresolved(status):
        if status.session_id is not None:
            return Decision(None, status, requeue_after=0.0)  # go on with stopping the rest
        return Decision(RemoveFinalizer(), status)
    message = (
        f"{error}; retrying. A Start with clientToken {status.pending_start_token} may have created a "
        f"session, and the resource is kept until it is found and stopped; to let go of it and leave any "
        f"such session running until it expires, set spec.deletionPolicy to Retain"
    )
    floor = timing.access_denied_retry_seconds if error.kind is ErrorKind.ACCESS_DENIED else None
    new = _set(status, Phase.STOPPING, error.kind.value, message, now)
    return Decision(None, new, requeue_after=floor, backoff=True, events=_warn(status, new))


def _stopped(status: SessionStatus, now: datetime) -> Decision:
    session = status.session_id
    if status.next_session_id is not None or _draining(status) or _unresolved(status):
        # Never let go while another session of the resource may be live: stop those first.
        return Decision(None, status, requeue_after=0.0)
    new = _set(status, Phase.TERMINATED, "Stopped", f"session {session} stopped", now)
    return Decision(
        RemoveFinalizer(), new, events=(EventNote("Normal", "Stopped", f"Stopped session {session}"),)
    )


def _stop(
    resource: ResourceView, status: SessionStatus, now: datetime, session_id: str | None = None
) -> Decision:
    session = session_id or status.session_id or ""
    new = _progress(
        status,
        Phase.STOPPING,
        "Stopping",
        f"stopping session {session}",
        now,
        retrying=status.phase is Phase.STOPPING,
    )
    return Decision(_stop_call(resource, status, session), new)


def _stop_call(resource: ResourceView, status: SessionStatus, session_id: str) -> StopSession:
    """StopCodeInterpreterSession for one of the resource's sessions, where the status says it runs."""
    return StopSession(
        region=status.region or _spec(resource).region,
        interpreter=status.code_interpreter_identifier or _spec(resource).code_interpreter_identifier,
        session_id=session_id,
        client_token=stop_token(resource.uid, session_id),
        account=status.account_id or "",
    )


def _stop_failed(status: SessionStatus, error: ApiError, now: datetime, timing: Timing) -> Decision:
    detail = f"StopCodeInterpreterSession failed: {error.code}: {error.message}"
    if error.kind is ErrorKind.NOT_FOUND:
        return _stopped(status, now)  # nothing left to stop
    transient = (
        ErrorKind.THROTTLED,
        ErrorKind.UNAVAILABLE,
        ErrorKind.UNKNOWN,
        ErrorKind.CONFLICT,
        ErrorKind.QUOTA_EXCEEDED,
    )
    if error.kind in transient:
        new = _set(status, Phase.STOPPING, error.kind.value, f"{detail}; retrying", now)
        return Decision(None, new, backoff=True)
    message = (
        f"{detail}. The resource is kept until the session is stopped; to let go of it and leave "
        f"the session running until it expires, set spec.deletionPolicy to Retain"
    )
    new = _set(status, Phase.STOPPING, "StopFailed", message, now)
    return Decision(
        None,
        new,
        requeue_after=timing.stop_failure_retry_seconds,
        backoff=True,
        events=_transition_events(status, new, EventNote("Warning", "StopFailed", message)),
    )


def _read(status: SessionStatus, session_id: str | None = None) -> ReadSession:
    return ReadSession(
        region=status.region or "",
        interpreter=status.code_interpreter_identifier or "",
        session_id=session_id or status.session_id or "",
        account=status.account_id or "",
    )


def _spec(resource: ResourceView) -> SessionSpec:
    if resource.spec is None:  # guarded by decide(): only reached with a readable spec
        raise AssertionError("spec required")
    return resource.spec


def _set(
    status: SessionStatus, phase: Phase, reason: str, message: str, now: datetime, *, ready: bool = False
) -> SessionStatus:
    """The status with a phase, message and Ready condition (its time kept if its status holds)."""
    return with_ready(status, phase, reason, message, now, ready=ready)


def _terminally_failed(status: SessionStatus) -> bool:
    condition = status.condition(READY)
    return status.phase is Phase.FAILED and condition is not None and condition.reason in TERMINAL_REASONS


def _ready_reason(status: SessionStatus) -> str | None:
    return ready_reason(status)


def _transition_events(old: SessionStatus, new: SessionStatus, event: EventNote) -> tuple[EventNote, ...]:
    """Post an event only when the reason changes, so retries do not flood `kubectl describe`."""
    return on_transition(old, new, event)


def _warn(old: SessionStatus, new: SessionStatus) -> tuple[EventNote, ...]:
    reason = _ready_reason(new) or "Error"
    return _transition_events(old, new, EventNote("Warning", reason, new.message or reason))


def _note(new: SessionStatus, type_: str) -> Decision:
    """A final decision with one event describing it (posted once per reason change by the wiring)."""
    reason = _ready_reason(new) or "Unknown"
    return Decision(None, new, events=(EventNote(type_, reason, new.message or reason),))


# -- after the decision: export and ttlSecondsAfterFinished -------------------------------------


def _afterwards(resource: ResourceView, decision: Decision, now: datetime) -> Decision:
    """Stamp finishedAt, and when the decision waits: bring the export up to date, or delete a
    finished resource whose TTL has passed (the wait it meant to make rides on the export)."""
    status = decision.status
    if resource.deleting or resource.spec is None or not resource.has_finalizer:
        return decision
    finished = status.phase is Phase.TERMINATED or _terminally_failed(status)
    counted = resource.spec.ttl_seconds_after_finished is not None or status.finished_at is not None
    if counted and finished != (status.finished_at is not None):
        status = replace(status, finished_at=now if finished else None)
        decision = replace(decision, status=status)
    if decision.action is not None:
        return decision
    spec = resource.spec
    if spec.export_config_map_name is not None:
        data = export_data(spec, status)
        fingerprint = _fingerprint(spec.export_config_map_name, data)
        if status.exported != fingerprint:
            action = ExportConfigMap(
                namespace=resource.namespace,
                name=spec.export_config_map_name,
                owner_name=resource.name,
                owner_uid=resource.uid,
                data=data,
                fingerprint=fingerprint,
                requeue_after=decision.requeue_after,
                backoff=decision.backoff,
            )
            return replace(decision, action=action)
    ttl = spec.ttl_seconds_after_finished
    if finished and ttl is not None and status.finished_at is not None:
        due = status.finished_at + timedelta(seconds=ttl)
        if now >= due:
            note = EventNote(
                "Normal",
                "Deleted",
                f"Deleted the resource {ttl} s after it finished (ttlSecondsAfterFinished)",
            )
            action_delete = DeleteResource(resource.namespace, resource.name, resource.uid)
            return replace(decision, action=action_delete, events=(*decision.events, note))
        wait = (due - now).total_seconds()
        requeue = wait if decision.requeue_after is None else min(wait, decision.requeue_after)
        return replace(decision, requeue_after=requeue)
    return decision


def export_data(spec: SessionSpec, status: SessionStatus) -> tuple[tuple[str, str], ...]:
    """The ConfigMap's keys: the session id only while it is Ready, and the phase says why not."""
    ready = status.phase is Phase.READY and status.session_id is not None
    return (
        ("sessionId", status.session_id or "" if ready else ""),
        ("codeInterpreterIdentifier", status.code_interpreter_identifier or spec.code_interpreter_identifier),
        ("region", status.region or spec.region),
        ("expiresAt", format_time(status.expires_at) if ready and status.expires_at else ""),
        ("phase", (status.phase or Phase.PENDING).value),
    )


def _fingerprint(name: str, data: tuple[tuple[str, str], ...]) -> str:
    digest = hashlib.sha256(json.dumps([name, data]).encode()).hexdigest()[:16]
    return f"{name}/{digest}"


def _export_answered(status: SessionStatus, answer: Exported | ExportRefused, now: datetime) -> Decision:
    if isinstance(answer, Exported):
        message = f"ConfigMap {answer.fingerprint.split('/')[0]} is up to date"
        new = with_condition(
            replace(status, exported=answer.fingerprint), EXPORTED, True, "Exported", message, now
        )
        return Decision(None, new, requeue_after=answer.requeue_after, backoff=answer.backoff)
    old = status.condition(EXPORTED)
    # A conflict is final until the data changes; a failed write is retried on the next pass.
    recorded = answer.fingerprint if answer.reason == EXPORT_CONFLICT else status.exported
    new = with_condition(
        replace(status, exported=recorded), EXPORTED, False, answer.reason, answer.message, now
    )
    events = (
        ()
        if old is not None and old.reason == answer.reason
        else (EventNote("Warning", answer.reason, answer.message),)
    )
    requeue = answer.requeue_after
    return Decision(
        None,
        new,
        requeue_after=requeue,
        backoff=answer.backoff or answer.reason != EXPORT_CONFLICT,
        events=events,
    )
