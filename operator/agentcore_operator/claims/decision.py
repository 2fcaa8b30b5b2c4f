"""The CodeInterpreterSessionClaim's decision: one pure function from (claim, status, observation) to a decision.

A claim holds one Ready CodeInterpreterSession of its pool. The truth of who holds which
session is on the session children, never in the claim's status: a child labelled
`agentcore.dev/claim: <claim>` and owned by the claim's uid is the claim's (contract.md).
So binding is ONE write to the child (a merge patch carrying its resourceVersion: a 409
means another claim won it) followed by ONE write of the claim's status, and a crash
between the two loses nothing: the next pass finds the child labelled with the claim's
name and adopts it. No AgentCore call is made: the pooled child was confirmed READY by
the sweep, and its status says for how long it lives.

The reconcile loop (runtime/reconcile.py) performs the one action and feeds the outcome
back. A claim has no finalizer: deleting it lets ownerReference garbage collection delete
its child, whose own finalizer stops the session per the template's deletionPolicy.
Every row below is a unit test in tests/unit/test_claim_decision.py.

| situation                                         | observation      | action          | phase / Ready reason          |
|---------------------------------------------------|------------------|-----------------|-------------------------------|
| claim being deleted                               | -                | -               | unchanged (GC stops the child) |
| spec invalid, or a name too long for a label      | -                | -               | Failed / InvalidSpec          |
| shutdownTime passed                               | -                | DeleteClaim     | unchanged [ShutdownTime]      |
| Bound, boundAt + ttlSecondsAfterBound passed      | -                | DeleteClaim     | unchanged [Expired]           |
| DeleteClaim done                                  | Deleted          | -               | unchanged                     |
| the session cache is not listed yet (startup)     | -                | wait 0.2 s      | unchanged                     |
| a write failed (not a conflict)                   | WriteFailed      | wait, backoff   | unchanged, message            |
| Failed / Unbound, its cold child still there      | -                | DeleteChild     | Failed / Unbound              |
| Failed (InvalidSpec, Unbound, SessionEnded)       | -                | -               | Failed (final)                |
| its child is Ready                                | - or ChildBound  | -               | Bound / Bound [Bound]         |
| its child is Ready, another also labelled with it | -                | DeleteChild     | Bound / Bound                 |
| its child ended (deleted, Stopping, Terminated)   | -                | -               | Failed / SessionEnded [same]  |
| Bound, its child gone                             | -                | -               | Failed / SessionEnded [same]  |
| Bound, its child not Ready (a restart)            | -                | -               | Bound (kept)                  |
| not Bound, ttlSecondsUnbound passed, a child      | -                | DeleteChild     | Failed / Unbound [Unbound]    |
| not Bound, ttlSecondsUnbound passed, no child     | -                | -               | Failed / Unbound [Unbound]    |
| its (cold) child is starting                      | - or ChildCreated| wait (its watch)| Pending / Starting [Starting]  |
| no child, a bind lost its race                    | BindLost         | look again now  | Pending                       |
| no child, the pool does not exist                 | -                | wait (its watch)| Pending / PoolNotFound [same] |
| no child, a free Ready pooled child               | -                | BindChild       | Pending                       |
| no child, none free                               | -                | CreateChild     | Pending / Starting            |
| no child, its create found it existing            | ChildCreated(-)  | wait its watch  | Pending / Starting            |

"Its child" is the CodeInterpreterSession labelled with the claim's name and owned by its
uid (the one its status names, if several: only two operator processes binding for it at
once, during a leader handover, could make a second one, which it then deletes). A cold child's name is derived from the claim's uid (`<claim>-<5 characters>`), so a
create repeated after a crash finds the first one (AlreadyExists) instead of making a
second. Waits end early on a watch event: the child's changes and the pool's appearance
queue the claim. `[X]` is the event posted on that transition (once per reason change).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1.claim import (
    CLAIM_KIND,
    ClaimPhase,
    ClaimSpec,
    ClaimStatus,
    LaunchType,
)
from agentcore_operator.api.v1alpha1.pool import (
    BOUND,
    CHILD_SUFFIX_ALPHABET,
    CHILD_SUFFIX_LENGTH,
    CLAIM_LABEL,
    POOL_LABEL,
    POOL_STATE_LABEL,
)
from agentcore_operator.api.v1alpha1.types import GROUP, KIND, VERSION, Phase
from agentcore_operator.runtime.conditions import on_transition, ready_reason, with_ready
from agentcore_operator.runtime.decision import Decision, EventNote
from agentcore_operator.runtime.meta import ResourceMeta

MAX_LABEL_VALUE = 63
FINAL_REASONS = frozenset({"InvalidSpec", "Unbound", "SessionEnded"})
ENDED_PHASES = frozenset({Phase.STOPPING.value, Phase.TERMINATED.value})


@dataclass(frozen=True)
class ClaimTiming:
    """Waits the claim's decision asks for; tests shorten them."""

    sync_wait_seconds: float = 0.2  # the session cache is being listed (startup)
    retry_seconds: float = 1.0  # after a failed write (with backoff)


@dataclass(frozen=True)
class Child:
    """A CodeInterpreterSession child, as a claim reads it."""

    name: str
    uid: str
    resource_version: str
    phase: str | None = None
    session_id: str | None = None
    expires_at: datetime | None = None
    deleting: bool = False
    reason: str | None = None  # its Ready condition's reason

    @property
    def ready(self) -> bool:
        return self.phase == Phase.READY.value and bool(self.session_id) and not self.deleting

    @property
    def ended(self) -> bool:
        return self.deleting or self.phase in ENDED_PHASES


@dataclass(frozen=True)
class Pool:
    """What a claim needs of its pool: the template a cold child is made from."""

    name: str
    template: Mapping[str, Any]
    min_remaining_seconds: int


@dataclass(frozen=True)
class ClaimView:
    """The claim and the world it sees: its pool, its child, and a free child reserved for it."""

    meta: ResourceMeta
    created_at: datetime
    spec: ClaimSpec | None
    spec_error: str | None = None
    synced: bool = True
    pool: Pool | None = None
    child: Child | None = None
    candidate: Child | None = None
    extra: tuple[Child, ...] = ()  # other children labelled with it (two processes bound at once)


# -- actions (Kubernetes writes; none calls AgentCore) ---------------------------------


@dataclass(frozen=True)
class BindChild:
    """Move a free child to the claim: labels and ownerReference, under its resourceVersion."""

    namespace: str
    name: str
    resource_version: str
    claim: str
    claim_uid: str

    def patch(self) -> dict[str, Any]:
        return {
            "metadata": {
                "resourceVersion": self.resource_version,
                "labels": {POOL_STATE_LABEL: BOUND, CLAIM_LABEL: self.claim},
                "ownerReferences": [claim_owner(self.claim, self.claim_uid)],
            }
        }


@dataclass(frozen=True)
class CreateChild:
    namespace: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class DeleteChild:
    namespace: str
    name: str
    uid: str


@dataclass(frozen=True)
class DeleteClaim:
    namespace: str
    name: str
    uid: str


ClaimAction = BindChild | CreateChild | DeleteChild | DeleteClaim


# -- observations ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildBound:
    child: Child


@dataclass(frozen=True)
class BindLost:
    """409 (another claim, or any change, got there first) or 404: pick again."""

    name: str


@dataclass(frozen=True)
class ChildCreated:
    child: Child | None  # None: it existed already (a create repeated after a crash)


@dataclass(frozen=True)
class Deleted:
    pass


@dataclass(frozen=True)
class WriteFailed:
    message: str


ClaimObservation = ChildBound | BindLost | ChildCreated | Deleted | WriteFailed
ClaimDecision = Decision[ClaimStatus, ClaimAction]


def claim_owner(name: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": CLAIM_KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def cold_child_name(claim: str, uid: str) -> str:
    """`<claim>-<5 characters>` from the claim's uid: the same name for every create of one claim."""
    digest = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big")
    suffix = ""
    for _ in range(CHILD_SUFFIX_LENGTH):
        digest, index = divmod(digest, len(CHILD_SUFFIX_ALPHABET))
        suffix += CHILD_SUFFIX_ALPHABET[index]
    return f"{claim}-{suffix}"


def cold_child(meta: ResourceMeta, pool: Pool) -> dict[str, Any]:
    """The child a claim starts when none is free: the pool's template, owned by the claim."""
    template_meta = pool.template.get("metadata") or {}
    labels = {
        **(template_meta.get("labels") or {}),
        POOL_LABEL: pool.name,
        POOL_STATE_LABEL: BOUND,
        CLAIM_LABEL: meta.name,
    }
    metadata: dict[str, Any] = {
        "name": cold_child_name(meta.name, meta.uid),
        "namespace": meta.namespace,
        "labels": labels,
        "ownerReferences": [claim_owner(meta.name, meta.uid)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": metadata,
        "spec": copy.deepcopy(dict(pool.template.get("spec") or {})),
    }


def decide(
    view: ClaimView,
    status: ClaimStatus,
    observation: ClaimObservation | None,
    now: datetime,
    timing: ClaimTiming = ClaimTiming(),
) -> ClaimDecision:
    meta = view.meta
    status = replace(status, observed_generation=meta.generation)
    if meta.deleting:
        return Decision(None, status)
    spec = view.spec
    if spec is None or len(meta.name) > MAX_LABEL_VALUE:
        message = view.spec_error or (
            f"the claim's name is longer than {MAX_LABEL_VALUE} characters: it must fit in the "
            f"{CLAIM_LABEL} label of its session"
        )
        return _moved(status, ClaimPhase.FAILED, "InvalidSpec", message, now, "Warning")

    expiry = _expiry(spec, status)
    if expiry is not None and now >= expiry:
        if isinstance(observation, Deleted):
            return Decision(None, status)
        why = "ShutdownTime" if spec.shutdown_time is not None else "Expired"
        note = EventNote("Normal", why, f"deleting the claim ({why}): its session is stopped")
        return Decision(DeleteClaim(meta.namespace, meta.name, meta.uid), status, events=(note,))
    if not view.synced:
        return Decision(None, status, requeue_after=timing.sync_wait_seconds)
    if isinstance(observation, WriteFailed):
        noted = replace(status, message=observation.message)
        return Decision(None, noted, requeue_after=timing.retry_seconds, backoff=True)

    child = view.child
    if isinstance(observation, ChildBound | ChildCreated) and observation.child is not None:
        child = observation.child
    reason = ready_reason(status)

    if status.phase is ClaimPhase.FAILED and reason in FINAL_REASONS:
        if (
            reason == "Unbound"
            and child is not None
            and not child.deleting
            and not isinstance(observation, Deleted)
        ):
            return Decision(DeleteChild(meta.namespace, child.name, child.uid), status)
        return Decision(None, status, requeue_after=_until(expiry, now))

    if child is not None and child.ready:
        bound = _bound(view, status, child, now, expiry)
        if view.extra and not isinstance(observation, Deleted):
            spare = view.extra[0]  # held by no one else: stopping it loses nothing
            return replace(bound, action=DeleteChild(meta.namespace, spare.name, spare.uid))
        return bound
    if child is not None and child.ended:
        message = f"the session {child.name} ended ({child.phase}{', deleted' if child.deleting else ''})"
        return _moved(status, ClaimPhase.FAILED, "SessionEnded", message, now, "Warning", expiry)
    if status.phase is ClaimPhase.BOUND:
        if child is None:
            message = f"the session {status.session_name} is gone"
            return _moved(status, ClaimPhase.FAILED, "SessionEnded", message, now, "Warning", expiry)
        return Decision(None, status, requeue_after=_until(expiry, now))

    deadline = _unbound_deadline(view)
    if deadline is not None and now >= deadline:
        message = f"no Ready session within ttlSecondsUnbound ({spec.ttl_seconds_unbound} s)"
        unbound = _moved(status, ClaimPhase.FAILED, "Unbound", message, now, "Warning", expiry)
        if child is not None and not child.deleting:
            return replace(unbound, action=DeleteChild(meta.namespace, child.name, child.uid))
        return unbound
    wake = _until(_earliest(deadline, expiry), now)

    if child is not None:
        message = f"starting session {child.name}: {child.phase or 'Pending'}"
        if child.reason:
            message += f" ({child.reason})"
        return _moved(status, ClaimPhase.PENDING, "Starting", message, now, "Normal", requeue=wake)
    if isinstance(observation, BindLost):
        return Decision(None, replace(status, phase=ClaimPhase.PENDING), requeue_after=0.0)
    if view.pool is None:
        message = f"CodeInterpreterSessionPool {spec.pool} not found"
        return _moved(status, ClaimPhase.PENDING, "PoolNotFound", message, now, "Warning", requeue=wake)
    if view.candidate is not None:
        candidate = view.candidate
        bind = BindChild(meta.namespace, candidate.name, candidate.resource_version, meta.name, meta.uid)
        return Decision(bind, replace(status, phase=ClaimPhase.PENDING))
    message = f"no free Ready session in pool {spec.pool}: starting one for this claim"
    starting = _moved(status, ClaimPhase.PENDING, "Starting", message, now, "Normal", requeue=wake)
    if isinstance(observation, ChildCreated):
        return starting  # it existed already; its watch event brings it
    return replace(starting, action=CreateChild(meta.namespace, cold_child(meta, view.pool)))


def _bound(
    view: ClaimView, status: ClaimStatus, child: Child, now: datetime, expiry: datetime | None
) -> ClaimDecision:
    meta = view.meta
    launch = status.launch_type or (
        LaunchType.COLD if child.name == cold_child_name(meta.name, meta.uid) else LaunchType.WARM
    )
    bound = replace(
        status,
        session_name=child.name,
        session_id=child.session_id,
        expires_at=child.expires_at,
        launch_type=launch,
        bound_at=status.bound_at or now,
    )
    if view.spec is not None and view.spec.ttl_seconds_after_bound is not None and expiry is None:
        expiry = _expiry(view.spec, bound)
    message = f"bound to session {child.name} ({child.session_id}, {launch.value.lower()})"
    return _moved(bound, ClaimPhase.BOUND, "Bound", message, now, "Normal", expiry, ready=True)


def _moved(
    status: ClaimStatus,
    phase: ClaimPhase,
    reason: str,
    message: str,
    now: datetime,
    event_type: str,
    expiry: datetime | None = None,
    *,
    ready: bool = False,
    requeue: float | None = None,
) -> ClaimDecision:
    new = with_ready(status, phase, reason, message, now, ready=ready)
    events = on_transition(status, new, EventNote(event_type, reason, message))
    wake = requeue if requeue is not None else _until(expiry, now)
    return Decision(None, new, requeue_after=wake, events=events)


def _expiry(spec: ClaimSpec, status: ClaimStatus) -> datetime | None:
    """When the claim deletes itself: shutdownTime, or ttlSecondsAfterBound after binding."""
    if spec.shutdown_time is not None:
        return spec.shutdown_time
    if spec.ttl_seconds_after_bound is not None and status.bound_at is not None:
        return status.bound_at + timedelta(seconds=spec.ttl_seconds_after_bound)
    return None


def _unbound_deadline(view: ClaimView) -> datetime | None:
    if view.spec is None or view.spec.ttl_seconds_unbound is None:
        return None
    return view.created_at + timedelta(seconds=view.spec.ttl_seconds_unbound)


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _until(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (moment - now).total_seconds())
