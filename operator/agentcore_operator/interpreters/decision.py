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
| no id                    | Create answered                  | wait create poll       | Creating / Creating [Created]        |
| an id                    | -                                | Read                   | unchanged                            |
| adopting                 | Get answered                     | as below               | (id recorded) [Adopted]              |
| any                      | Get answered CREATING               | wait create poll       | Creating / Creating                  |
| any                      | Get answered READY, tags unknown    | ReadTags               | Ready / InterpreterReady [Ready]     |
| any                      | Get answered READY, tags to add     | Tag *                  | Ready / InterpreterReady             |
| any                      | Get answered READY, tags to remove  | Untag *                | Ready / InterpreterReady             |
| any                      | Get answered READY, tags in sync    | wait resync            | Ready / InterpreterReady             |
| Ready                    | TagsKnown                        | Tag *, Untag * or wait | Ready (tags recorded)                |
| any                      | Get answered CREATE_FAILED          | -                      | Failed / CreateFailed [CreateFailed] |
| any                      | Get answered DELETING, DELETED ...  | -                      | Failed / DeletedOutOfBand [same]     |
| any                      | InterpreterMissing               | -                      | Failed / NotFound [NotFound]         |
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
| no id, adoptCodeInterpreterId set               | Delete * (the adopted)  | Deleting / Deleting [Deleting] |
| no id, nothing sent                             | RemoveFinalizer         | unchanged                      |
| an id, AgentCore status not DELETING            | Delete *                | Deleting / Deleting [Deleting] |
| an id, AgentCore status DELETING                | Read                    | Deleting / Deleting            |
| Delete or Get answered DELETING                 | wait delete poll        | Deleting / Deleting            |
| answered DELETED, InterpreterMissing            | RemoveFinalizer         | Deleting / Deleted [Deleted]   |
| CallFailed NotFound (of the Delete)             | RemoveFinalizer         | Deleting / Deleted [Deleted]   |
| replayed Create refused InvalidRequest          | RemoveFinalizer         | (it never created one)         |
| CallFailed Throttled, 5xx, Conflict             | wait, backoff           | Deleting / the error's kind    |
| CallFailed AccessDenied, InvalidRequest         | wait >= 30 s, backoff   | Deleting / DeleteFailed: how   |
|                                                 |                         | to let go (Retain) [same]      |

Every call (either table) goes to the account in `status.accountId`; with none recorded yet,
to the namespace's account (`view.account`, its AgentCoreAccessPolicy), which the status
then records with that first call (persisted before a Create like the rest of it).

`*` marks mutating calls: the loop persists the status before sending them. A Create
records `pendingCreateToken` and the tags it sends; its clientToken is derived from the
resource's UID, so a Create repeated after a crash (or replayed on deletion, with the
same recorded tags) returns the interpreter the lost one made: one interpreter per
resource, always. `[X]` is the event posted on that transition (once per reason change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from agentcore_operator.api.v1alpha1 import DeletionPolicy
from agentcore_operator.api.v1alpha1.interpreter import InterpreterPhase, InterpreterSpec, InterpreterStatus
from agentcore_operator.controller.observations import CallFailed, InterpreterMissing
from agentcore_operator.controller.state_machine import client_token
from agentcore_operator.interpreters.observations import (
    CREATE,
    DELETE,
    GET,
    LIST_TAGS,
    TAG,
    UNTAG,
    InterpreterAnswer,
    InterpreterObservation,
    TagsKnown,
)
from agentcore_operator.runtime.conditions import on_transition, ready_reason, with_ready
from agentcore_operator.runtime.decision import AddFinalizer, EventNote, RemoveFinalizer
from agentcore_operator.runtime.decision import Decision as GenericDecision
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.meta import ResourceMeta

AWS_READY = "READY"
AWS_CREATING = "CREATING"
AWS_DELETING = "DELETING"
AWS_DELETED = "DELETED"
GONE_STATES = frozenset({AWS_DELETING, AWS_DELETED, "DELETE_FAILED"})
TERMINAL_REASONS = frozenset(
    {"InvalidSpec", "CreateFailed", "NotFound", "DeletedOutOfBand", "InvalidRequest"}
)
SLOW_RETRY_KINDS = frozenset({ErrorKind.ACCESS_DENIED, ErrorKind.INVALID})
# Warnings a retried call keeps on the condition (no new transition, no second event).
KEPT_WARNINGS = frozenset({kind.value for kind in ErrorKind} | {"DeleteFailed"})
MUTATING_OPERATIONS = frozenset({CREATE, DELETE, TAG, UNTAG})


@dataclass(frozen=True)
class InterpreterView:
    """The resource as the decision reads it: its metadata, its spec (or why it cannot be read),
    and the live sessions that reference it (in-use protection)."""

    meta: ResourceMeta
    spec: InterpreterSpec | None
    spec_error: str | None = None
    users: tuple[str, ...] = ()
    account: str = ""  # the namespace's account (tenancy): where a new interpreter is created


@dataclass(frozen=True)
class InterpreterTiming:
    """Waits the interpreter's decision asks for; tests shorten them."""

    create_poll_seconds: float = 2.0
    delete_poll_seconds: float = 2.0
    resync_seconds: float = 300.0  # a Ready interpreter is read again this often (drift, deletion)
    quota_retry_seconds: float = 30.0
    access_denied_retry_seconds: float = 60.0
    delete_failure_retry_seconds: float = 30.0


@dataclass(frozen=True)
class InterpreterCall:
    """The one action: a control-plane call with every parameter it sends (boto3's names).

    `tags_after` is what a tag call leaves on the interpreter, recorded once it succeeds.
    """

    operation: str
    region: str
    params: Mapping[str, object] = field(default_factory=dict)
    tags_after: dict[str, str] | None = None
    account: str = ""  # "" or the operator's own account: the operator's identity


InterpreterDecision = GenericDecision[InterpreterStatus, InterpreterCall]


def create_token(uid: str) -> str:
    """One token per resource: any number of Creates of one resource make one interpreter."""
    return client_token(uid, "create")


def mutates(call: InterpreterCall) -> bool:
    return call.operation in MUTATING_OPERATIONS


def decide(
    view: InterpreterView,
    status: InterpreterStatus,
    observation: InterpreterObservation | None,
    now: datetime,
    timing: InterpreterTiming | None = None,
) -> InterpreterDecision:
    """The next action and the new status for one CodeInterpreter. Pure: see the module table."""
    return _in_its_account(view, _decide(view, status, observation, now, timing or InterpreterTiming()))


def _in_its_account(view: InterpreterView, decision: InterpreterDecision) -> InterpreterDecision:
    """Every call goes to the interpreter's account: recorded with its first call (the namespace's
    account then), kept whoever binds the namespace later."""
    action = decision.action
    if not isinstance(action, InterpreterCall):
        return decision
    status = decision.status
    account = status.account_id or view.account
    if account and status.account_id is None:
        status = replace(status, account_id=account)
    return replace(decision, action=replace(action, account=account), status=status)


def _decide(
    view: InterpreterView,
    status: InterpreterStatus,
    observation: InterpreterObservation | None,
    now: datetime,
    timing: InterpreterTiming,
) -> InterpreterDecision:
    status = replace(status, observed_generation=view.meta.generation)
    if view.meta.deleting:
        return _deleting(view, status, observation, now, timing)
    if view.spec is None and status.code_interpreter_id is None:
        return _final(status, InterpreterPhase.FAILED, "InvalidSpec", view.spec_error or "invalid spec", now)
    if not view.meta.has_finalizer:
        return InterpreterDecision(AddFinalizer(), status)
    match observation:
        case None if status.phase is InterpreterPhase.FAILED and ready_reason(status) in TERMINAL_REASONS:
            return InterpreterDecision(None, status)
        case None:
            return _next_step(view, status, now)
        case CallFailed(error=error):
            return _on_error(status, error, now, timing)
        case InterpreterAnswer(operation=operation) if operation == CREATE:
            return _created(status, observation, now, timing)
        case InterpreterAnswer():
            return _answered(view, status, observation, now, timing)
        case InterpreterMissing():
            missing = status.code_interpreter_id or (view.spec.adopt_id if view.spec else None)
            message = f"code interpreter {missing} does not exist"
            return _final(status, InterpreterPhase.FAILED, "NotFound", message, now)
        case TagsKnown(tags=tags):
            return _sync_tags(view, replace(status, tags=dict(tags)), now, timing)
    raise AssertionError(f"unhandled observation {observation!r}")  # pragma: no cover


def _next_step(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    spec = _spec(view)
    if status.code_interpreter_id is not None:
        return InterpreterDecision(_get(status.region or spec.region, status.code_interpreter_id), status)
    if spec.adopt_id is not None:
        message = f"adopting code interpreter {spec.adopt_id}"
        new = with_ready(status, InterpreterPhase.CREATING, "Adopting", message, now)
        return InterpreterDecision(_get(spec.region, spec.adopt_id), new)
    return _create(view, status, now)


def _get(region: str, interpreter_id: str) -> InterpreterCall:
    return InterpreterCall(GET, region, {"codeInterpreterId": interpreter_id})


def _create(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    """Create, or replay a Create whose answer was lost (same token, same recorded tags)."""
    spec = _spec(view)
    token = create_token(view.meta.uid)
    tags = status.tags if status.pending_create_token == token and status.tags is not None else spec.tags
    region = status.region or spec.region
    new = replace(status, pending_create_token=token, tags=dict(tags), region=region)
    new = _keep_warning(
        new, InterpreterPhase.CREATING, "Creating", f"creating code interpreter {spec.name}", now
    )
    return InterpreterDecision(InterpreterCall(CREATE, region, spec.create_request(token, tags)), new)


def _record(status: InterpreterStatus, answer: InterpreterAnswer) -> InterpreterStatus:
    """What an answer tells of the interpreter (a Delete's answer has no ARN or creation time)."""
    return replace(
        status,
        code_interpreter_id=answer.interpreter_id or status.code_interpreter_id,
        code_interpreter_arn=answer.arn or status.code_interpreter_arn,
        created_at=answer.created_at or status.created_at,
        status=answer.status,
        failure_reason=answer.failure_reason,
    )


def _created(
    status: InterpreterStatus, answer: InterpreterAnswer, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    """A Create answered: its interpreter is known, so no Create is left unanswered."""
    new = replace(_record(status, answer), pending_create_token=None)
    new = with_ready(new, InterpreterPhase.CREATING, "Creating", f"creating {answer.interpreter_id}", now)
    fresh = status.code_interpreter_id != answer.interpreter_id
    note = EventNote("Normal", "Created", f"Created code interpreter {answer.interpreter_id}")
    return InterpreterDecision(
        None, new, requeue_after=timing.create_poll_seconds, events=(note,) if fresh else ()
    )


def _answered(
    view: InterpreterView,
    status: InterpreterStatus,
    answer: InterpreterAnswer,
    now: datetime,
    timing: InterpreterTiming,
) -> InterpreterDecision:
    new = replace(_record(status, answer), region=status.region or _spec(view).region)
    adopted: tuple[EventNote, ...] = ()
    if status.code_interpreter_id is None:
        adopted = (EventNote("Normal", "Adopted", f"Adopted code interpreter {answer.interpreter_id}"),)
    interpreter, state = answer.interpreter_id, answer.status
    if state == AWS_READY:
        decision = _sync_tags(view, new, now, timing)
        ready_note = EventNote("Normal", "Ready", f"Code interpreter {interpreter} is ready")
        return replace(decision, events=adopted + on_transition(status, decision.status, ready_note))
    if state == "CREATE_FAILED":
        why = answer.failure_reason or "no reason given"
        decision = _final(
            new, InterpreterPhase.FAILED, "CreateFailed", f"{interpreter} failed to create: {why}", now
        )
    elif state in GONE_STATES:
        message = f"code interpreter {interpreter} is {state}: it was deleted outside this resource"
        decision = _final(new, InterpreterPhase.FAILED, "DeletedOutOfBand", message, now)
    else:  # CREATING, or a state this operator does not know: look again
        new = with_ready(new, InterpreterPhase.CREATING, "Creating", f"{interpreter} is {state}", now)
        decision = InterpreterDecision(None, new, requeue_after=timing.create_poll_seconds)
    return replace(
        decision, events=adopted + on_transition(status, decision.status, _warning(decision.status))
    )


def _sync_tags(
    view: InterpreterView, status: InterpreterStatus, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    """Ready; bring AgentCore's tags to the spec's, one call at a time."""
    message = f"code interpreter {status.code_interpreter_id} is ready"
    new = with_ready(status, InterpreterPhase.READY, "InterpreterReady", message, now, ready=True)
    region = status.region or _spec(view).region
    target = {"resourceArn": status.code_interpreter_arn or ""}
    known, wanted = status.tags, (view.spec.tags if view.spec is not None else status.tags)
    if known is None:
        return InterpreterDecision(InterpreterCall(LIST_TAGS, region, target), new)
    if wanted is None or wanted == known:
        return InterpreterDecision(None, new, requeue_after=timing.resync_seconds)
    to_set = {k: v for k, v in wanted.items() if known.get(k) != v}
    if to_set:
        call = InterpreterCall(TAG, region, {**target, "tags": to_set}, {**known, **to_set})
    else:
        stale = sorted(k for k in known if k not in wanted)
        call = InterpreterCall(UNTAG, region, {**target, "tagKeys": stale}, dict(wanted))
    return InterpreterDecision(call, new)


def _on_error(
    status: InterpreterStatus, error: ApiError, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    if error.operation == CREATE and error.kind is ErrorKind.INVALID:
        # The same parameters can never create one: nothing is left unanswered.
        status = replace(status, pending_create_token=None)
    if error.kind is ErrorKind.INVALID:
        return _final(status, InterpreterPhase.FAILED, ErrorKind.INVALID.value, str(error), now)
    floors = {
        ErrorKind.QUOTA_EXCEEDED: timing.quota_retry_seconds,
        ErrorKind.ACCESS_DENIED: timing.access_denied_retry_seconds,
    }
    quota = error.kind is ErrorKind.QUOTA_EXCEEDED
    phase = InterpreterPhase.CREATING if quota else status.phase or InterpreterPhase.CREATING
    new = with_ready(status, phase, error.kind.value, f"{error}; retrying", now)
    events = on_transition(status, new, _warning(new))
    return InterpreterDecision(None, new, requeue_after=floors.get(error.kind), backoff=True, events=events)


def _deleting(
    view: InterpreterView,
    status: InterpreterStatus,
    observation: InterpreterObservation | None,
    now: datetime,
    timing: InterpreterTiming,
) -> InterpreterDecision:
    if not view.meta.has_finalizer:
        return InterpreterDecision(None, status)
    policy = view.spec.deletion_policy if view.spec else DeletionPolicy.DELETE
    interpreter = status.code_interpreter_id
    if policy is DeletionPolicy.RETAIN:
        note = EventNote(
            "Normal", "Retained", f"Left code interpreter {interpreter} in place (deletionPolicy Retain)"
        )
        return InterpreterDecision(RemoveFinalizer(), status, events=(note,) if interpreter else ())
    match observation:
        case InterpreterMissing() | InterpreterAnswer(status="DELETED"):
            return _deleted(status, now)
        case InterpreterAnswer(status="DELETING"):
            message = f"deleting code interpreter {interpreter}"
            new = with_ready(
                _record(status, observation), InterpreterPhase.DELETING, "Deleting", message, now
            )
            return InterpreterDecision(None, new, requeue_after=timing.delete_poll_seconds)
        case InterpreterAnswer():
            return _delete(view, replace(_record(status, observation), pending_create_token=None), now)
        case CallFailed(error=error):
            return _delete_failed(status, error, now, timing)
    if view.users:
        message = f"code interpreter {interpreter} is in use by sessions {', '.join(sorted(view.users))}"
        new = with_ready(
            status, InterpreterPhase.DELETING, "InUse", f"{message}; deleted once they are gone", now
        )
        note = EventNote("Normal", "InUse", new.message or message)
        return InterpreterDecision(None, new, events=on_transition(status, new, note))
    adopted = view.spec.adopt_id if view.spec else None
    if interpreter is None and adopted is not None:
        # Deleted before the adopted interpreter was ever read: the policy still applies to it.
        return _delete(view, replace(status, code_interpreter_id=adopted, region=_spec(view).region), now)
    if interpreter is not None:
        if status.status == AWS_DELETING:
            return InterpreterDecision(_get(status.region or "", interpreter), status)
        return _delete(view, status, now)
    if status.pending_create_token is not None and view.spec is not None:
        return _create(view, status, now)  # learn the id a lost Create may have made, then delete it
    return InterpreterDecision(RemoveFinalizer(), status)


def _delete(view: InterpreterView, status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    interpreter = status.code_interpreter_id or ""
    message = f"deleting code interpreter {interpreter}"
    new = _keep_warning(status, InterpreterPhase.DELETING, "Deleting", message, now)
    params = {"codeInterpreterId": interpreter, "clientToken": client_token(view.meta.uid, "delete")}
    call = InterpreterCall(DELETE, status.region or _spec(view).region, params)
    note = EventNote("Normal", "Deleting", f"Deleting code interpreter {interpreter}")
    return InterpreterDecision(call, new, events=on_transition(status, new, note))


def _deleted(status: InterpreterStatus, now: datetime) -> InterpreterDecision:
    interpreter = status.code_interpreter_id
    gone = replace(status, status=AWS_DELETED)
    new = with_ready(
        gone, InterpreterPhase.DELETING, "Deleted", f"code interpreter {interpreter} deleted", now
    )
    note = EventNote("Normal", "Deleted", f"Deleted code interpreter {interpreter}")
    return InterpreterDecision(RemoveFinalizer(), new, events=(note,))


def _delete_failed(
    status: InterpreterStatus, error: ApiError, now: datetime, timing: InterpreterTiming
) -> InterpreterDecision:
    if error.operation == CREATE and error.kind is ErrorKind.INVALID:
        # The replayed Create is refused: the same parameters never created one.
        return InterpreterDecision(RemoveFinalizer(), replace(status, pending_create_token=None))
    if error.kind is ErrorKind.NOT_FOUND and error.operation != CREATE:
        return _deleted(status, now)
    slow = error.kind in SLOW_RETRY_KINDS
    reason = "DeleteFailed" if slow else error.kind.value
    let_go = (
        ". The resource is kept until the code interpreter is deleted; to let go of it and leave the "
        "interpreter in place, set spec.deletionPolicy to Retain"
    )
    new = with_ready(
        status, InterpreterPhase.DELETING, reason, f"{error}{let_go if slow else '; retrying'}", now
    )
    floor = timing.delete_failure_retry_seconds if slow else None
    events = on_transition(status, new, _warning(new)) if slow else ()
    return InterpreterDecision(None, new, requeue_after=floor, backoff=True, events=events)


# -- status helpers ------------------------------------------------------------------------


def _keep_warning(
    status: InterpreterStatus, phase: InterpreterPhase, reason: str, message: str, now: datetime
) -> InterpreterStatus:
    """A call retried after a warning keeps the warning on the condition (no new transition)."""
    kept = ready_reason(status)
    if kept in KEPT_WARNINGS and status.phase is phase:
        return with_ready(status, phase, kept or reason, status.message or message, now)
    return with_ready(status, phase, reason, message, now)


def _final(
    status: InterpreterStatus, phase: InterpreterPhase, reason: str, message: str, now: datetime
) -> InterpreterDecision:
    new = with_ready(status, phase, reason, message, now)
    return InterpreterDecision(None, new, events=on_transition(status, new, _warning(new)))


def _warning(status: InterpreterStatus) -> EventNote:
    reason = ready_reason(status) or "Error"
    return EventNote("Warning", reason, status.message or reason)


def _spec(view: InterpreterView) -> InterpreterSpec:
    if view.spec is None:  # guarded by decide(): only reached with a readable spec
        raise AssertionError("spec required")
    return view.spec
