"""The CodeInterpreterSessionPool's decision: one pure function from (pool, status, observation) to a decision.

A pool keeps `spec.replicas` free CodeInterpreterSession children. The view holds the
pool's free children only (labelled `agentcore.dev/pool-state: free` and owned by this
pool): a child a claim has bound is not the pool's any more and never appears here, so the
pool cannot delete it. Every child write is a Kubernetes write (the session machinery
starts, confirms, sweeps and stops the AgentCore sessions); `decide()` asks for one write
at a time and the loop (runtime/reconcile.py) feeds the outcome back. Every row below is a
unit test in tests/unit/test_pool_decision.py.

Words: a child is *live* unless it is being deleted or is Failed/Terminated; *handable*
when live, Ready and with at least minRemainingSeconds left; *due* (for replacement) when
it has less than minRemainingSeconds + the refresh lead left, is older than
maxSessionAgeSeconds, or was made from another template; *fresh* when live and not due.
`want` is spec.replicas.

| situation (first match wins)                              | action                          | Ready condition               |
|-----------------------------------------------------------|---------------------------------|-------------------------------|
| the pool is being deleted                                 | - (GC deletes the children)     | unchanged                     |
| spec invalid                                              | -                               | False / InvalidSpec           |
| a child Failed (not yet deleting)                         | DeleteChild *, failures += 1,   | False / ChildFailed           |
|                                                           | next create after the backoff   | [ChildFailed]                 |
| a child Terminated (its session ended)                    | DeleteChild *                   | as counted                    |
| fresh < want, not backing off                             | CreateChild * (one per pass)    | as counted                    |
| fresh < want, backing off after failed children           | wait until retryAfter           | False / ChildFailed           |
| a due child, and fresh handable >= want                   | DeleteChild * (replaced)        | as counted                    |
| a due child not handable, and fresh >= want               | DeleteChild * (replacement due) | as counted                    |
| fresh > want (scaled down)                                | DeleteChild * (not Ready first, | as counted                    |
|                                                           | then the soonest to expire)     |                               |
| otherwise                                                 | wait until the next child is due| as counted                    |
|                                                           | (at most resync_seconds)        |                               |

| observation                                  | next                                                     |
|----------------------------------------------|----------------------------------------------------------|
| ChildCreated, ChildDeleted                   | a new pass at once (the kind counts the write as seen)   |
| WriteFailed, conflict (a claim bound it, ...)| a new pass after CONFLICT_RETRY_SECONDS, no backoff      |
| WriteFailed, other                           | backoff; False / CreateFailed or DeleteFailed [same]     |

"As counted": True / PoolReady when handable >= want, else False / Filling (or Draining
while more live children than wanted remain). `*` marks writes: the status is persisted
before each (the failure count and retryAfter survive a crash). The failure count resets
when the pool is fully Ready or its spec changes. `[X]` is the event posted when the Ready
reason changes to X.

Why one create per pass: the loop's rule is one action per step with its outcome fed
back, and the next pass sees the new child (the kind counts created children until the
watch shows them, like a ReplicaSet's expectations). Creates are Kubernetes writes, cheap;
the AgentCore Starts they cause are paced by the rate limiter and the quota gate anyway,
so a batch would win nothing and would overshoot `want` after a lost answer.

Refresh: a due child is kept until its replacement exists (create first, then delete), so
at most `want + due` live children exist, and a child still handable is kept until the
replacements are handable. Deleting a Ready child stops its session through the session
finalizer (children always have deletionPolicy Delete: the spec refuses Retain).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1 import GROUP, KIND, VERSION
from agentcore_operator.api.v1alpha1.pool import (
    FREE,
    POOL_KIND,
    POOL_LABEL,
    POOL_STATE_LABEL,
    TEMPLATE_LABEL,
    PoolSpec,
    PoolStatus,
    free_selector,
)
from agentcore_operator.runtime.conditions import READY, on_transition, ready_reason, with_condition
from agentcore_operator.runtime.decision import Decision as GenericDecision
from agentcore_operator.runtime.decision import EventNote
from agentcore_operator.runtime.meta import ResourceMeta

PHASE_READY = "Ready"
PHASE_FAILED = "Failed"
PHASE_TERMINATED = "Terminated"
FINISHED_PHASES = frozenset({PHASE_FAILED, PHASE_TERMINATED})
CONFLICT_RETRY_SECONDS = 0.5
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PoolTiming:
    """Waits the pool's decision asks for; tests shorten them."""

    refresh_lead_seconds: float = 30.0  # replace this long before a child stops being handable
    failure_backoff_seconds: float = 5.0  # after the first failed child; doubles per failure
    failure_backoff_cap_seconds: float = 300.0
    resync_seconds: float = 60.0  # a settled pool is looked at again this often (clock jumps, lost events)


@dataclass(frozen=True)
class Child:
    """One free child as the decision reads it (from the session store, or a create not seen yet)."""

    name: str
    uid: str = ""
    resource_version: str = ""
    phase: str | None = None
    created_at: datetime | None = None  # the session's start (status.createdAt), else the object's
    expires_at: datetime | None = None
    deleting: bool = False
    template: str | None = None  # the template hash label
    reason: str | None = None  # the child's Ready reason and message (why it failed)
    message: str | None = None
    unseen: bool = False  # created by us, not in the watch yet: it counts, but cannot be deleted

    @property
    def live(self) -> bool:
        return not self.deleting and self.phase not in FINISHED_PHASES

    def remaining(self, now: datetime) -> float | None:
        return (self.expires_at - now).total_seconds() if self.expires_at else None


@dataclass(frozen=True)
class PoolView:
    """The pool as the decision reads it: its metadata, its spec (or why not), its free children,
    and a name for the next child (random, chosen by the kind)."""

    meta: ResourceMeta
    spec: PoolSpec | None
    children: tuple[Child, ...] = ()
    next_name: str = ""
    spec_error: str | None = None


@dataclass(frozen=True)
class CreateChild:
    namespace: str
    name: str
    manifest: dict[str, Any] = field(hash=False, compare=True)


@dataclass(frozen=True)
class DeleteChild:
    """Delete a free child, only if it is still the version the decision saw (uid and
    resourceVersion preconditions): a child a claim has bound meanwhile is not deleted."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    why: str  # Failed, Terminated, Refresh, ScaleDown


PoolAction = CreateChild | DeleteChild


@dataclass(frozen=True)
class ChildCreated:
    name: str


@dataclass(frozen=True)
class ChildDeleted:
    name: str


@dataclass(frozen=True)
class WriteFailed:
    name: str
    operation: str  # create or delete
    message: str
    conflict: bool = False  # 409/412: the child changed (bound, say) or the name is taken


PoolObservation = ChildCreated | ChildDeleted | WriteFailed
PoolDecision = GenericDecision[PoolStatus, PoolAction]


def mutates(action: PoolAction) -> bool:
    """Every action is a write of a child: the status (failure count, retryAfter) goes first."""
    return True


def decide(
    view: PoolView,
    status: PoolStatus,
    observation: PoolObservation | None,
    now: datetime,
    timing: PoolTiming | None = None,
) -> PoolDecision:
    """The next action and the new status for one pool. Pure: see the module table."""
    timing = timing or PoolTiming()
    if view.meta.deleting:
        return PoolDecision(None, status)
    spec = view.spec
    if spec is None:
        message = view.spec_error or "invalid spec"
        new = with_condition(_observed(status, view), READY, False, "InvalidSpec", message, now)
        return PoolDecision(
            None, new, events=on_transition(status, new, EventNote("Warning", "InvalidSpec", message))
        )
    if status.observed_generation is not None and status.observed_generation != view.meta.generation:
        status = replace(status, child_failures=None, retry_after=None)  # a new spec gets a fresh start
    counted = _counted(view, spec, replace(status, observed_generation=view.meta.generation), now, timing)
    match observation:
        case ChildCreated() | ChildDeleted():
            return PoolDecision(None, counted, requeue_after=0.0, events=_transition(status, counted))
        case WriteFailed(conflict=True):
            return PoolDecision(
                None, counted, requeue_after=CONFLICT_RETRY_SECONDS, events=_transition(status, counted)
            )
        case WriteFailed(name=name, operation=operation, message=message):
            reason = "CreateFailed" if operation == "create" else "DeleteFailed"
            text = f"could not {operation} session {name}: {message}"
            new = with_condition(counted, READY, False, reason, text, now)
            return PoolDecision(
                None, new, backoff=True, events=on_transition(status, new, EventNote("Warning", reason, text))
            )
    return _next_step(view, spec, status, counted, now, timing)


def _next_step(
    view: PoolView, spec: PoolSpec, before: PoolStatus, status: PoolStatus, now: datetime, timing: PoolTiming
) -> PoolDecision:
    want = spec.replicas
    live = [c for c in view.children if c.live]
    due = [c for c in live if _due(c, spec, now, timing)]
    fresh = [c for c in live if c not in due]
    fresh_handable = [c for c in fresh if _handable(c, spec, now)]

    finished = next(
        (c for c in view.children if not c.deleting and not c.unseen and c.phase in FINISHED_PHASES), None
    )
    if finished is not None:
        return _delete_finished(view, status, finished, now, timing)
    events = _transition(before, status)
    backing_off = status.retry_after is not None and now < status.retry_after
    if len(fresh) < want and not backing_off:
        create = CreateChild(view.meta.namespace, view.next_name, child_manifest(view, spec))
        return PoolDecision(create, status, events=events)
    for child in sorted((c for c in due if not c.unseen), key=_expiry_key):
        if len(fresh_handable) >= want or (not _handable(child, spec, now) and len(fresh) >= want):
            return PoolDecision(_delete(view, child, "Refresh"), status, events=events)
    if len(fresh) > want:
        candidates = [c for c in fresh if not c.unseen]
        if candidates:
            victim = min(candidates, key=lambda c: (_handable(c, spec, now), _expiry_key(c)))
            return PoolDecision(_delete(view, victim, "ScaleDown"), status, events=events)
    waits = [t for c in live if (t := _seconds_until_due(c, spec, now, timing)) is not None]
    if len(fresh) < want and status.retry_after is not None:
        waits.append((status.retry_after - now).total_seconds())
    requeue = max(0.0, min([*waits, timing.resync_seconds]))
    return PoolDecision(None, status, requeue_after=requeue, events=events)


def _delete_finished(
    view: PoolView, status: PoolStatus, child: Child, now: datetime, timing: PoolTiming
) -> PoolDecision:
    if child.phase != PHASE_FAILED:
        return PoolDecision(_delete(view, child, "Terminated"), status)
    failures = (status.child_failures or 0) + 1
    delay = min(
        timing.failure_backoff_cap_seconds, timing.failure_backoff_seconds * 2 ** min(failures - 1, 30)
    )
    why = f"{child.reason}: {child.message}" if child.reason else "failed"
    message = f"session {child.name} failed ({why}); the next one is created in {delay:.0f}s"
    failed = replace(status, child_failures=failures, retry_after=now + timedelta(seconds=delay))
    new = with_condition(failed, READY, False, "ChildFailed", message, now)
    event = EventNote("Warning", "ChildFailed", message)
    return PoolDecision(_delete(view, child, "Failed"), new, events=(event,))


def _counted(
    view: PoolView, spec: PoolSpec, status: PoolStatus, now: datetime, timing: PoolTiming
) -> PoolStatus:
    """The status with the counts, the selector and the Ready condition of what the view shows."""
    want = spec.replicas
    present = [c for c in view.children if not c.deleting]
    live = [c for c in present if c.live]
    handable = sum(1 for c in live if _handable(c, spec, now))
    if status.child_failures and handable >= want:
        status = replace(status, child_failures=None, retry_after=None)
    counted = replace(
        status, replicas=len(present), ready_replicas=handable, selector=free_selector(view.meta.name)
    )
    condition = status.condition(READY)
    if (
        status.retry_after is not None
        and now < status.retry_after
        and condition
        and condition.reason == "ChildFailed"
    ):
        return counted  # the failure stays on the condition until the backoff ends
    summary = f"{handable}/{want} free sessions Ready"
    if handable >= want and len(live) <= want:
        return with_condition(counted, READY, True, "PoolReady", summary, now)
    if len(live) > want and handable >= want:
        return with_condition(
            counted, READY, True, "Draining", f"{summary}; {len(live) - want} more to let go", now
        )
    return with_condition(counted, READY, False, "Filling", summary, now)


def _transition(before: PoolStatus, after: PoolStatus) -> tuple[EventNote, ...]:
    """A Normal event when the Ready reason changes (Filling, PoolReady, Draining)."""
    condition = after.condition(READY)
    note = EventNote("Normal", ready_reason(after) or "", condition.message if condition else "")
    return on_transition(before, after, note)


def _handable(child: Child, spec: PoolSpec, now: datetime) -> bool:
    remaining = child.remaining(now)
    return (
        child.live
        and child.phase == PHASE_READY
        and remaining is not None
        and remaining >= spec.min_remaining_seconds
    )


def refresh_lead(spec: PoolSpec, timing: PoolTiming) -> float:
    """How early before it stops being handable a child is replaced: the lead, but at most half
    its handable life, so a child is never due at birth (no replacement loop)."""
    usable = spec.session_timeout_seconds - spec.min_remaining_seconds
    return max(0.0, min(timing.refresh_lead_seconds, usable / 2))


def _seconds_until_due(child: Child, spec: PoolSpec, now: datetime, timing: PoolTiming) -> float | None:
    moments: list[float] = []
    remaining = child.remaining(now)
    if remaining is not None:
        moments.append(remaining - spec.min_remaining_seconds - refresh_lead(spec, timing))
    if spec.max_session_age_seconds and child.created_at is not None:
        age = (now - child.created_at).total_seconds()
        moments.append(spec.max_session_age_seconds - age)
    return min(moments) if moments else None


def _due(child: Child, spec: PoolSpec, now: datetime, timing: PoolTiming) -> bool:
    if child.template is not None and child.template != spec.template_hash:
        return True
    until = _seconds_until_due(child, spec, now, timing)
    return until is not None and until <= 0


def _expiry_key(child: Child) -> tuple[bool, datetime]:
    """Soonest to expire first; children with no expiry yet last."""
    return (child.expires_at is None, child.expires_at or NEVER)


def _delete(view: PoolView, child: Child, why: str) -> DeleteChild:
    return DeleteChild(view.meta.namespace, child.name, child.uid, child.resource_version, why)


def _observed(status: PoolStatus, view: PoolView) -> PoolStatus:
    return replace(status, observed_generation=view.meta.generation)


def child_manifest(view: PoolView, spec: PoolSpec) -> dict[str, Any]:
    """A free child: the template, the pool's labels, and one controller ownerReference to the pool."""
    meta = view.meta
    labels = {
        **spec.template_labels,
        POOL_LABEL: meta.name,
        POOL_STATE_LABEL: FREE,
        TEMPLATE_LABEL: spec.template_hash,
    }
    metadata: dict[str, Any] = {
        "name": view.next_name,
        "namespace": meta.namespace,
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": POOL_KIND,
                "name": meta.name,
                "uid": meta.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if spec.template_annotations:
        metadata["annotations"] = dict(spec.template_annotations)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": metadata,
        "spec": dict(spec.template_spec),
    }
