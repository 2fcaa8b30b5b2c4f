"""CodeInterpreterSessionClaim on the generic reconcile loop: its view, its decision, its writes.

The loop (runtime/reconcile.py) owns status writes, events, requeue and backoff. What is
the claim's own: finding its pool, its child and a free child in the operator's cache
(claims/children.py), and the Kubernetes writes of its decision. No action calls
AgentCore, so none "mutates" in the loop's sense: the status is written once, at the end
of the pass, after the child was bound (crash safety comes from the child's labels, see
claims/decision.py).

The path of a warm claim is short on purpose: the claim's watch event queues its key with
no delay, the dispatch starts a pass at once, the decision binds the child reserved in
the view, and the pass ends with the status write: two writes, no sleep, no batching.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agentcore_operator.api.v1alpha1 import PLURAL, SpecError
from agentcore_operator.api.v1alpha1.claim import (
    CLAIM_PLURAL,
    ClaimPhase,
    ClaimSpec,
    ClaimStatus,
)
from agentcore_operator.api.v1alpha1.pool import (
    CLAIM_LABEL,
    DEFAULT_MIN_REMAINING_SECONDS,
)
from agentcore_operator.api.v1alpha1.types import parse_time
from agentcore_operator.claims.children import ChildIndex, child_of
from agentcore_operator.claims.decision import (
    BindChild,
    BindLost,
    Child,
    ChildBound,
    ChildCreated,
    ClaimAction,
    ClaimDecision,
    ClaimObservation,
    ClaimTiming,
    ClaimView,
    CreateChild,
    DeleteChild,
    DeleteClaim,
    Deleted,
    Pool,
    WriteFailed,
    decide,
)
from agentcore_operator.controller.kube import KubeConflict
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.conditions import ready_reason
from agentcore_operator.runtime.meta import ResourceMeta
from agentcore_operator.runtime.reconcile import utc_now

logger = logging.getLogger("agentcore_operator.claims")

PoolLookup = Callable[[str, str], dict[str, Any] | None]


class ClaimWrites(Protocol):
    """The Kubernetes writes of a claim's actions (controller/kube.py's KubeWriter)."""

    async def merge_patch(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None: ...

    async def read(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def delete(
        self, plural: str, namespace: str, name: str, uid: str, resource_version: str | None = None
    ) -> None: ...


def pool_of(body: dict[str, Any]) -> Pool:
    spec = body.get("spec") or {}
    remaining = spec.get("minRemainingSeconds", DEFAULT_MIN_REMAINING_SECONDS)
    if isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0:
        remaining = DEFAULT_MIN_REMAINING_SECONDS
    template = spec.get("template")
    return Pool(
        name=str((body.get("metadata") or {}).get("name", "")),
        template=template if isinstance(template, dict) else {},
        min_remaining_seconds=remaining,
    )


def claim_keys_of_child(body: dict[str, Any]) -> list[Key]:
    """The claim a session child is labelled with (its changes concern that claim)."""
    meta = body.get("metadata") or {}
    claim = (meta.get("labels") or {}).get(CLAIM_LABEL)
    return [(str(meta.get("namespace", "")), str(claim))] if claim else []


def child_signature(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a claim cares about in its child: is it Ready, until when, is it going."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    return (
        status.get("phase"),
        status.get("sessionId"),
        status.get("expiresAt"),
        bool(meta.get("deletionTimestamp")),
        (meta.get("labels") or {}).get(CLAIM_LABEL),
    )


def its_child(held: list[Child], named: object) -> tuple[Child | None, tuple[Child, ...]]:
    """The claim's child (the one its status names, else a Ready one, else any) and the others."""
    if not held:
        return None, ()
    chosen = next((c for c in held if c.name == named), None) or next((c for c in held if c.ready), held[0])
    return chosen, tuple(c for c in held if c is not chosen and not c.deleting)


def claims_of_pool(claims: Store, pool: dict[str, Any]) -> list[Key]:
    """The claims not yet Bound that name a pool (its appearance concerns them)."""
    namespace, name = key_of(pool)
    return [
        key_of(body)
        for body in claims.bodies()
        if key_of(body)[0] == namespace
        and ((body.get("spec") or {}).get("poolRef") or {}).get("name") == name
        and (body.get("status") or {}).get("phase") != ClaimPhase.BOUND.value
    ]


@dataclass
class ClaimKind:
    """The claim's part of a pass (runtime.reconcile.ResourceKind)."""

    sessions: Store
    children: ChildIndex
    pool_lookup: PoolLookup
    kube: ClaimWrites
    synced: Callable[[], bool] = lambda: True
    # Our writes' answers go in the session cache at once, so their watch events will not look
    # new to the session controller: a child that needs its reconcile (one we created, or one
    # whose answer shows someone else's change, a deletion say) is handed to it here.
    wake_session: Callable[[Key], None] = lambda key: None
    timing: ClaimTiming = field(default_factory=ClaimTiming)
    metrics: Metrics | None = None
    clock: Callable[[], datetime] = utc_now
    first_seen: dict[Key, float] = field(default_factory=dict)

    def noticed(self, event: dict[str, Any]) -> None:
        """A claim's watch event: its latency (claim to Ready) counts from the first one seen."""
        body = event.get("object")
        if not isinstance(body, dict):
            return
        key = key_of(body)
        if event.get("type") == "DELETED":
            self.first_seen.pop(key, None)
        elif key not in self.first_seen and (body.get("status") or {}).get("phase") != ClaimPhase.BOUND:
            self.first_seen[key] = time.monotonic()

    def view(self, body: dict[str, Any]) -> ClaimView:
        meta = ResourceMeta.of(body, "")
        created = parse_time((body.get("metadata") or {}).get("creationTimestamp")) or self.clock()
        try:
            spec = ClaimSpec.from_resource(body)
        except SpecError as exc:
            return ClaimView(meta, created, None, str(exc))
        synced = self.synced()
        pool_body = self.pool_lookup(meta.namespace, spec.pool)
        pool = pool_of(pool_body) if pool_body is not None else None
        status = body.get("status") or {}
        held = self.children.held_by(meta.namespace, meta.name, meta.uid) if synced else []
        child, extra = its_child(held, status.get("sessionName"))
        candidate = None
        unbound = status.get("phase") in (None, ClaimPhase.PENDING.value)
        if synced and pool is not None and child is None and unbound and not meta.deleting:
            candidate = self.children.reserve_free(meta.namespace, pool, key_of(body), self.clock())
        return ClaimView(
            meta, created, spec, synced=synced, pool=pool, child=child, candidate=candidate, extra=extra
        )

    def with_finalizer(self, view: ClaimView) -> ClaimView:
        return view  # a claim has no finalizer: GC and its child's finalizer do the stopping

    def read_status(self, persisted: dict[str, Any]) -> ClaimStatus:
        return ClaimStatus.from_dict(persisted)

    def decide(
        self, view: ClaimView, status: ClaimStatus, observation: ClaimObservation | None, now: datetime
    ) -> ClaimDecision:
        return decide(view, status, observation, now, self.timing)

    def mutates(self, action: ClaimAction) -> bool:
        return False  # Kubernetes writes only; the child's labels are the record of a bind

    async def prepare(self, key: Key, body: dict[str, Any], view: ClaimView, action: ClaimAction) -> None:
        return None

    async def perform(self, action: ClaimAction) -> ClaimObservation:
        try:
            return await self._perform(action)
        except KubeConflict as exc:
            if isinstance(action, BindChild):
                return await self._lost(action)
            return WriteFailed(str(exc))
        except Exception as exc:  # a write failing is retried with backoff, never a crash
            logger.warning("claim write %s failed: %s", type(action).__name__, exc)
            return WriteFailed(f"{type(action).__name__} failed: {exc}")

    async def _perform(self, action: ClaimAction) -> ClaimObservation:
        if isinstance(action, BindChild):
            answer = await self.kube.merge_patch(PLURAL, action.namespace, action.name, action.patch())
            self.children.release(action.namespace, action.name)
            if answer is None:
                return BindLost(action.name)
            self._remember(answer)
            return ChildBound(child_of(answer))
        if isinstance(action, CreateChild):
            try:
                created = await self.kube.create(PLURAL, action.namespace, dict(action.manifest))
            except KubeConflict:
                created = None  # made by an earlier pass (same name): its watch event brings it
            if created is None:
                return ChildCreated(None)
            self._remember(created)
            return ChildCreated(child_of(created))
        if isinstance(action, DeleteChild | DeleteClaim):
            plural = PLURAL if isinstance(action, DeleteChild) else CLAIM_PLURAL
            await self.kube.delete(plural, action.namespace, action.name, action.uid)
            return Deleted()
        raise TypeError(f"not a claim action: {action!r}")

    async def _lost(self, action: BindChild) -> ClaimObservation:
        """A bind refused (409): the cache was behind. Read the child once, so the next pass sees
        who holds it now (this very claim, after a crash in another process) instead of racing again."""
        self.children.release(action.namespace, action.name, lost_at=action.resource_version)
        try:
            fresh = await self.kube.read(PLURAL, action.namespace, action.name)
        except Exception as exc:  # the watch brings it anyway; this read only saves a race
            logger.debug("reading %s/%s after a lost bind failed: %s", action.namespace, action.name, exc)
            fresh = None
        if fresh is not None:
            self._remember(fresh)
        return BindLost(action.name)

    def _remember(self, body: dict[str, Any]) -> None:
        """Our write's answer goes in the cache at once: the next pass must not see the child free."""
        if self.sessions.put(body):
            self.wake_session(key_of(body))
        self.children.put(body)

    def acted(
        self, key: Key, body: dict[str, Any], action: ClaimAction, observation: ClaimObservation
    ) -> None:
        return None

    def released(self, key: Key, body: dict[str, Any], before: ClaimStatus, after: ClaimStatus) -> None:
        return None

    def settled(
        self, key: Key, body: dict[str, Any], view: ClaimView, before: ClaimStatus, after: ClaimStatus
    ) -> bool:
        if view.candidate is not None and after.phase is not ClaimPhase.BOUND:
            self.children.release(view.meta.namespace, view.candidate.name)
        if after.phase is ClaimPhase.BOUND and before.phase is not ClaimPhase.BOUND:
            launch = after.launch_type.value.lower() if after.launch_type else "warm"
            seen = self.first_seen.pop(key, None)
            if self.metrics is not None:
                self.metrics.claims_bound.labels(launch).inc()
                if seen is not None:
                    self.metrics.claim_time_to_ready.labels(launch).observe(time.monotonic() - seen)
        return False

    def log_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        status = body.get("status") or {}
        return {"session": status.get("sessionName"), "session_id": status.get("sessionId")}

    def ready_reason(self, status: ClaimStatus) -> str | None:
        return ready_reason(status)
