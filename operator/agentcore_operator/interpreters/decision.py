"""The CodeInterpreter's decision: one pure function from (resource, status, observation) to a decision.

Like the session's (controller/state_machine.py), `decide()` does no I/O and reads no clock;
the reconcile loop (runtime/reconcile.py) performs the one action and feeds the outcome
back. Every row below is a unit test in tests/unit/test_interpreter_decision.py.

Not deleting:

| status now               | observation this pass            | action                 | next phase / Ready reason            |
|--------------------------|----------------------------------|------------------------|--------------------------------------|
| no id yet                | spec invalid                     | -                      | Failed / InvalidSpec                 |
| any                      | - (finalizer missing)            | AddFinalizer           | unchanged                            |
| no id, adoptCodeInterp.. | -                                | Read (the adopted id)  | Creating / Adopting                  |
| no id                    | - (a Create lost or never sent)  | Create * (UID token)   | Creating / Creating                  |
| no id                    | Created                          | wait create poll       | Creating / Creating [Created]        |
| an id                    | -                                | Read                   | unchanged                            |
| adopting                 | Described                        | as below               | (id recorded) [Adopted]              |
| any                      | Described CREATING               | wait create poll       | Creating / Creating                  |
| any                      | Described READY, tags unknown    | ReadTags               | Ready / InterpreterReady [Ready]     |
| any                      | Described READY, tags to add     | Tag *                  | Ready / InterpreterReady             |
| any                      | Described READY, tags to remove  | Untag *                | Ready / InterpreterReady             |
| any                      | Described READY, tags in sync    | wait resync            | Ready / InterpreterReady             |
| Ready                    | TagsSeen, TagsChanged            | Tag *, Untag * or wait | Ready (tags recorded)                |
| any                      | Described CREATE_FAILED          | -                      | Failed / CreateFailed [CreateFailed] |
| any                      | Described DELETING, DELETED ...  | -                      | Failed / DeletedOutOfBand [same]     |
| any                      | Gone                             | -                      | Failed / NotFound [NotFound]         |
| any                      | CallFailed Throttled, 5xx, ...   | wait, backoff          | phase kept / the error's kind        |
| any                      | CallFailed QuotaExceeded         | wait >= 30 s, backoff  | Creating / QuotaExceeded             |
| any                      | CallFailed AccessDenied          | wait >= 60 s, backoff  | phase kept / AccessDenied            |
| any                      | CallFailed InvalidRequest        | -                      | Failed / InvalidRequest              |
| Failed (terminal reason) | - (no spec change)               | -                      | Failed                               |

Deleting (finalizer held):

| situation                                       | action                  | next phase / reason            |
|-------------------------------------------------|-------------------------|--------------------------------|
| deletionPolicy Retain                           | RemoveFinalizer         | unchanged [Retained]           |
| sessions reference it (in use, like a PVC's)    | - (a session requeues)  | Deleting / InUse [InUse]       |
| no id, a Create sent and unanswered             | Create * (replay)       | then Delete                    |
| no id, nothing sent                             | RemoveFinalizer         | unchanged                      |
| an id, AgentCore status not DELETING            | Delete *                | Deleting / Deleting [Deleting] |
| an id, AgentCore status DELETING                | Read                    | Deleting / Deleting            |
| DeleteAccepted DELETING, Described DELETING     | wait delete poll        | Deleting / Deleting            |
| DeleteAccepted DELETED, Described DELETED, Gone | RemoveFinalizer         | Deleting / Deleted [Deleted]   |
| CallFailed NotFound (of the Delete)             | RemoveFinalizer         | Deleting / Deleted [Deleted]   |
| replayed Create refused InvalidRequest          | RemoveFinalizer         | (it never created one)         |
| CallFailed Throttled, 5xx, Conflict             | wait, backoff           | Deleting / the error's kind    |
| CallFailed AccessDenied, InvalidRequest         | wait >= 30 s, backoff   | Deleting / DeleteFailed: how   |
|                                                 |                         | to let go (Retain) [same]      |

`*` marks mutating calls: the loop persists the status before sending them. A Create
records `pendingCreateToken` and the tags it sends; its clientToken is derived from the
resource's UID, so a Create repeated after a crash (or replayed on deletion, with the
same recorded tags) returns the interpreter the lost one made: one interpreter per
resource, always. `[X]` is the event posted on that transition (once per reason change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from agentcore_operator.api.v1alpha1 import Condition, DeletionPolicy
from agentcore_operator.api.v1alpha1.interpreter import InterpreterPhase, InterpreterSpec, InterpreterStatus
from agentcore_operator.controller.observations import CallFailed
from agentcore_operator.controller.state_machine import client_token
from agentcore_operator.interpreters.observations import (
    DeleteAccepted,
    InterpreterCreated,
    InterpreterDescribed,
    InterpreterGone,
    InterpreterObservation,
    TagsChanged,
    TagsSeen,
)
from agentcore_operator.runtime.decision import AddFinalizer, EventNote, RemoveFinalizer
from agentcore_operator.runtime.decision import Decision as GenericDecision
from agentcore_operator.runtime.errors import ApiError, ErrorKind

READY = "Ready"
AWS_READY = "READY"
AWS_CREATING = "CREATING"
AWS_DELETING = "DELETING"
AWS_DELETED = "DELETED"
GONE_STATES = frozenset({AWS_DELETING, AWS_DELETED, "DELETE_FAILED"})
TERMINAL_REASONS = frozenset(
    {"InvalidSpec", "CreateFailed", "NotFound", "DeletedOutOfBand", "InvalidRequest"}
)
SLOW_RETRY_KINDS = frozenset({ErrorKind.ACCESS_DENIED, ErrorKind.INVALID})


@dataclass(frozen=True)
class InterpreterTiming:
    """Waits the interpreter's decision asks for; tests shorten them."""

    create_poll_seconds: float = 2.0
    delete_poll_seconds: float = 2.0
    resync_seconds: float = 300.0  # a Ready interpreter is read again this often (drift, deletion)
    quota_retry_seconds: float = 30.0
    access_denied_retry_seconds: float = 60.0
    delete_failure_retry_seconds: float = 30.0


DEFAULT_INTERPRETER_TIMING = InterpreterTiming()


@dataclass(frozen=True)
class InterpreterView:
    """The parts of a CodeInterpreter resource (and of the sessions using it) the decision reads."""

    uid: str
    namespace: str
    name: str
    generation: int
    spec: InterpreterSpec | None
    spec_error: str | None = None
    deleting: bool = False
    has_finalizer: bool = True
    users: tuple[str, ...] = ()  # live sessions referencing it, by name


# Actions: every parameter of the call they stand for.
@dataclass(frozen=True)
class CreateInterpreter:
    region: str
    request: dict[str, object]


@dataclass(frozen=True)
class ReadInterpreter:
    region: str
    interpreter_id: str


@dataclass(frozen=True)
class DeleteInterpreter:
    region: str
    interpreter_id: str
    client_token: str


@dataclass(frozen=True)
class ReadTags:
    region: str
    arn: str


@dataclass(frozen=True)
class TagInterpreter:
    region: str
    arn: str
    tags: dict[str, str]  # to set
    after: dict[str, str]  # the interpreter's tags once set


@dataclass(frozen=True)
class UntagInterpreter:
    region: str
    arn: str
    keys: tuple[str, ...]
    after: dict[str, str]


InterpreterAction = (
    CreateInterpreter | ReadInterpreter | DeleteInterpreter | ReadTags | TagInterpreter | UntagInterpreter
)
MUTATING_INTERPRETER_ACTIONS = (CreateInterpreter, DeleteInterpreter, TagInterpreter, UntagInterpreter)
InterpreterDecision = GenericDecision[InterpreterStatus, InterpreterAction]


def create_token(uid: str) -> str:
    """One token per resource: any number of Creates of one resource make one interpreter."""
    return client_token(uid, "create")


def decide(
    view: InterpreterView,
    status: InterpreterStatus,
    observation: InterpreterObservation | None,
    now: datetime,
    timing: InterpreterTiming = DEFAULT_INTERPRETER_TIMING,
) -> InterpreterDecision:
    """The next action and the new status for one CodeInterpreter. Pure: see the module table."""
    status = replace(status, observed_generation=view.generation)
    if view.deleting:
        return _deleting(view, status, observation, now, timing)
    if view.spec is None and status.code_interpreter_id is None:
        return _final(status, InterpreterPhase.FAILED, "InvalidSpec", view.spec_error or "invalid spec", now)
    if not view.has_finalizer:
        return InterpreterDecision(AddFinalizer(), status)
    if _terminal(status) and observation is None:
        return InterpreterDecision(None, status)

    match observation:
        case CallFailed(error=error):
            return _on_error(status, error, now, timing)
        case InterpreterCreated():
            created = _record_created(status, observation)
            new = _with(
                created, InterpreterPhase.CREATING, "Creating", f"creating {observation.interpreter_id}", now
            )
            event = EventNote("Normal", "Created", f"Created code interpreter {observation.interpreter_id}")
            fresh = status.code_interpreter_id != observation.interpreter_id
            return InterpreterDecision(
                None, new, requeue_after=timing.create_poll_seconds, events=(event,) if fresh else ()
            )
        case InterpreterDescribed():
            return _described(view, status, observation, now, timing)
        case InterpreterGone():
            missing = status.code_interpreter_id or (view.spec.adopt_id if view.spec else None)
            return _final(
                status, InterpreterPhase.FAILED, "NotFound", f"code interpreter {missing} does not exist", now
            )
        case TagsSeen(tags=tags) | TagsChanged(tags=tags):
            return _sync_tags(view, replace(status, tags=dict(tags)), now, timing)
        case DeleteAccepted():  # pragma: no cover - only sent while deleting
            return InterpreterDecision(None, status)
        case None:
            return _next_step(view, status, now)
    raise AssertionError(f"unhandled observation {observation!r}")  # pragma: no cover


def _next_step(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    spec = _spec(view)
    if status.code_interpreter_id is not None:
        return InterpreterDecision(
            ReadInterpreter(status.region or spec.region, status.code_interpreter_id), status
        )
    if spec.adopt_id is not None:
        new = _with(
            status, InterpreterPhase.CREATING, "Adopting", f"adopting code interpreter {spec.adopt_id}", now
        )
        return InterpreterDecision(ReadInterpreter(spec.region, spec.adopt_id), new)
    return _create(view, status, now)


def _create(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    """Create, or replay a Create whose answer was lost (same token, same recorded tags)."""
    spec = _spec(view)
    token = create_token(view.uid)
    tags = status.tags if status.pending_create_token == token and status.tags is not None else spec.tags
    region = status.region or spec.region
    new = replace(status, pending_create_token=token, tags=dict(tags), region=region)
    new = _keep_warning(
        new, InterpreterPhase.CREATING, "Creating", f"creating code interpreter {spec.name}", now
    )
    return InterpreterDecision(CreateInterpreter(region, spec.create_request(token, tags)), new)


def _record_created(status: InterpreterStatus, seen: InterpreterCreated) -> InterpreterStatus:
    return replace(
        status,
        code_interpreter_id=seen.interpreter_id,
        code_interpreter_arn=seen.arn,
        status=seen.status,
        created_at=seen.created_at,
        pending_create_token=None,
    )


def _described(
    view: InterpreterView,
    status: InterpreterStatus,
    seen: InterpreterDescribed,
    now: datetime,
    timing: InterpreterTiming,
) -> InterpreterDecision:
    adopting = status.code_interpreter_id is None
    new = replace(
        status,
        code_interpreter_id=seen.interpreter_id,
        code_interpreter_arn=seen.arn,
        status=seen.status,
        created_at=seen.created_at,
        failure_reason=seen.failure_reason,
        region=status.region or _spec(view).region,
    )
    adopted = (
        (EventNote("Normal", "Adopted", f"Adopted code interpreter {seen.interpreter_id}"),)
        if adopting
        else ()
    )
    if seen.status == AWS_CREATING:
        new = _with(
            new, InterpreterPhase.CREATING, "Creating", f"{seen.interpreter_id} is being created", now
        )
        return InterpreterDecision(None, new, requeue_after=timing.create_poll_seconds, events=adopted)
    if seen.status == "CREATE_FAILED":
        message = f"code interpreter {seen.interpreter_id} failed to create: {seen.failure_reason or 'no reason given'}"
        decision = _final(new, InterpreterPhase.FAILED, "CreateFailed", message, now)
        return replace(decision, events=adopted + _once(status, decision.status, _warning(decision.status)))
    if seen.status in GONE_STATES:
        message = (
            f"code interpreter {seen.interpreter_id} is {seen.status}: it was deleted outside this resource"
        )
        decision = _final(new, InterpreterPhase.FAILED, "DeletedOutOfBand", message, now)
        return replace(decision, events=adopted + _once(status, decision.status, _warning(decision.status)))
    if seen.status != AWS_READY:
        new = _with(
            new, InterpreterPhase.CREATING, "Creating", f"{seen.interpreter_id} is {seen.status}", now
        )
        return InterpreterDecision(None, new, requeue_after=timing.create_poll_seconds, events=adopted)
    decision = _sync_tags(view, new, now, timing)
    return replace(decision, events=adopted + _once(status, decision.status, _ready_event(decision.status)))


def _sync_tags(
    view: InterpreterView, status: InterpreterStatus, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    """Ready; bring AgentCore's tags to the spec's, one call at a time."""
    interpreter = status.code_interpreter_id or ""
    new = _with(
        status,
        InterpreterPhase.READY,
        "InterpreterReady",
        f"code interpreter {interpreter} is ready",
        now,
        ready=True,
    )
    region, arn = status.region or _spec(view).region, status.code_interpreter_arn or ""
    wanted = _spec(view).tags if view.spec is not None else status.tags
    if status.tags is None:
        return InterpreterDecision(ReadTags(region, arn), new)
    if wanted is None or wanted == status.tags:
        return InterpreterDecision(None, new, requeue_after=timing.resync_seconds)
    to_set = {k: v for k, v in wanted.items() if status.tags.get(k) != v}
    if to_set:
        return InterpreterDecision(TagInterpreter(region, arn, to_set, {**status.tags, **to_set}), new)
    stale = tuple(sorted(k for k in status.tags if k not in wanted))
    kept = {k: v for k, v in status.tags.items() if k in wanted}
    return InterpreterDecision(UntagInterpreter(region, arn, stale, kept), new)


def _on_error(
    status: InterpreterStatus, error: ApiError, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    detail = f"{error}"
    if error.operation == "CreateCodeInterpreter" and error.kind is ErrorKind.INVALID:
        # The same parameters can never create one: nothing is left unanswered.
        status = replace(status, pending_create_token=None)
    if error.kind is ErrorKind.INVALID:
        return _final(status, InterpreterPhase.FAILED, ErrorKind.INVALID.value, detail, now)
    phase = status.phase or InterpreterPhase.CREATING
    floor: float | None = None
    if error.kind is ErrorKind.QUOTA_EXCEEDED:
        phase, floor = InterpreterPhase.CREATING, timing.quota_retry_seconds
    elif error.kind is ErrorKind.ACCESS_DENIED:
        floor = timing.access_denied_retry_seconds
    new = _with(status, phase, error.kind.value, f"{detail}; retrying", now)
    return InterpreterDecision(
        None, new, requeue_after=floor, backoff=True, events=_once(status, new, _warning(new))
    )


def _deleting(
    view: InterpreterView,
    status: InterpreterStatus,
    observation: InterpreterObservation | None,
    now: datetime,
    timing: InterpreterTiming,
) -> InterpreterDecision:
    if not view.has_finalizer:
        return InterpreterDecision(None, status)
    policy = view.spec.deletion_policy if view.spec else DeletionPolicy.DELETE
    interpreter = status.code_interpreter_id
    if policy is DeletionPolicy.RETAIN:
        note = EventNote(
            "Normal", "Retained", f"Left code interpreter {interpreter} in place (deletionPolicy Retain)"
        )
        return InterpreterDecision(RemoveFinalizer(), status, events=(note,) if interpreter else ())
    match observation:
        case InterpreterGone() | DeleteAccepted(status="DELETED") | InterpreterDescribed(status="DELETED"):
            return _deleted(status, now)
        case DeleteAccepted(status=state) | InterpreterDescribed(status=state) if state == AWS_DELETING:
            new = _with(
                replace(status, status=state),
                InterpreterPhase.DELETING,
                "Deleting",
                f"deleting {interpreter}",
                now,
            )
            return InterpreterDecision(None, new, requeue_after=timing.delete_poll_seconds)
        case InterpreterCreated():
            return _delete(view, _record_created(status, observation), now)
        case InterpreterDescribed():
            return _delete(view, replace(status, status=observation.status), now)
        case CallFailed(error=error):
            return _delete_failed(status, error, now, timing)
    if view.users:
        names = ", ".join(sorted(view.users))
        message = f"code interpreter {interpreter or ''} is in use by sessions {names}; it is deleted once they are gone"
        new = _with(status, InterpreterPhase.DELETING, "InUse", message.replace("  ", " "), now)
        return InterpreterDecision(
            None, new, events=_once(status, new, EventNote("Normal", "InUse", new.message or ""))
        )
    if interpreter is None:
        if status.pending_create_token is not None and view.spec is not None:
            return _create(view, status, now)
        return InterpreterDecision(RemoveFinalizer(), status)
    if status.status == AWS_DELETING:
        return InterpreterDecision(ReadInterpreter(status.region or "", interpreter), status)
    return _delete(view, status, now)


def _delete(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    interpreter = status.code_interpreter_id or ""
    new = _keep_warning(
        status, InterpreterPhase.DELETING, "Deleting", f"deleting code interpreter {interpreter}", now
    )
    action = DeleteInterpreter(
        status.region or _spec(view).region, interpreter, client_token(view.uid, "delete")
    )
    event = EventNote("Normal", "Deleting", f"Deleting code interpreter {interpreter}")
    return InterpreterDecision(action, new, events=_once(status, new, event))


def _deleted(status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    interpreter = status.code_interpreter_id
    new = _with(
        replace(status, status=AWS_DELETED),
        InterpreterPhase.DELETING,
        "Deleted",
        f"{interpreter} deleted",
        now,
    )
    return InterpreterDecision(
        RemoveFinalizer(),
        new,
        events=(EventNote("Normal", "Deleted", f"Deleted code interpreter {interpreter}"),),
    )


def _delete_failed(
    status: InterpreterStatus, error: ApiError, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    if error.kind is ErrorKind.NOT_FOUND and error.operation != "CreateCodeInterpreter":
        return _deleted(status, now)
    if error.operation == "CreateCodeInterpreter" and error.kind is ErrorKind.INVALID:
        return InterpreterDecision(RemoveFinalizer(), replace(status, pending_create_token=None))
    if error.kind not in SLOW_RETRY_KINDS:
        new = _with(status, InterpreterPhase.DELETING, error.kind.value, f"{error}; retrying", now)
        return InterpreterDecision(None, new, backoff=True)
    message = (
        f"{error}. The resource is kept until the code interpreter is deleted; to let go of it and "
        f"leave the interpreter in place, set spec.deletionPolicy to Retain"
    )
    new = _with(status, InterpreterPhase.DELETING, "DeleteFailed", message, now)
    return InterpreterDecision(
        None,
        new,
        requeue_after=timing.delete_failure_retry_seconds,
        backoff=True,
        events=_once(status, new, _warning(new)),
    )


# -- status helpers ------------------------------------------------------------------------


def _with(
    status: InterpreterStatus,
    phase: InterpreterPhase,
    reason: str,
    message: str,
    now: datetime,
    *,
    ready: bool = False,
) -> InterpreterStatus:
    condition = Condition(
        type=READY,
        status="True" if ready else "False",
        reason=reason,
        message=message,
        last_transition_time=now,
        observed_generation=status.observed_generation,
    )
    return replace(status, phase=phase, message=message).with_condition(condition)


def _keep_warning(
    status: InterpreterStatus, phase: InterpreterPhase, reason: str, message: str, now: datetime
) -> InterpreterStatus:
    """A call retried after a warning keeps the warning on the condition (no new transition)."""
    kept = _reason(status)
    if kept in {kind.value for kind in ErrorKind} | {"DeleteFailed"} and status.phase is phase:
        return _with(status, phase, kept or reason, status.message or message, now)
    return _with(status, phase, reason, message, now)


def _final(
    status: InterpreterStatus, phase: InterpreterPhase, reason: str, message: str, now: datetime
) -> InterpreterDecision:
    new = _with(status, phase, reason, message, now)
    return InterpreterDecision(None, new, events=_once(status, new, _warning(new)))


def _reason(status: InterpreterStatus) -> str | None:
    condition = status.condition(READY)
    return condition.reason if condition else None


def _terminal(status: InterpreterStatus) -> bool:
    return status.phase is InterpreterPhase.FAILED and _reason(status) in TERMINAL_REASONS


def _once(old: InterpreterStatus, new: InterpreterStatus, event: EventNote) -> tuple[EventNote, ...]:
    """An event only when the Ready reason changes, so retries do not flood `kubectl describe`."""
    return (event,) if _reason(old) != _reason(new) else ()


def _warning(status: InterpreterStatus) -> EventNote:
    reason = _reason(status) or "Error"
    return EventNote("Warning", reason, status.message or reason)


def _ready_event(status: InterpreterStatus) -> EventNote:
    return EventNote("Normal", "Ready", f"Code interpreter {status.code_interpreter_id} is ready")


def _spec(view: InterpreterView) -> InterpreterSpec:
    if view.spec is None:  # guarded by decide(): only reached with a readable spec
        raise AssertionError("spec required")
    return view.spec
