"""Which CodeInterpreterSessions a claim may take, and which one it holds, from the operator's cache.

The session cache (controller/store.py) holds every session; this index remembers, by
label, which keys belong to which pool and which claim, so a claim's pass looks at its
pool's few children instead of every session. The index is only a hint: each body is read
again from the cache and checked (labels, ownerReference, phase) when it is used.

A child is free and Ready (contract.md) when it is labelled free, is owned by its pool,
is Ready with a session id, is not being deleted, and has at least the pool's
minRemainingSeconds left before expiresAt. No AgentCore call is needed to trust that: the
sweep (controller/sweeper.py) lists READY sessions every sweep interval and sends the
session back to its reconciler when AgentCore no longer has it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from agentcore_operator.api.v1alpha1.pool import (
    CLAIM_LABEL,
    FREE,
    POOL_KIND,
    POOL_LABEL,
    POOL_STATE_LABEL,
)
from agentcore_operator.api.v1alpha1.types import parse_time
from agentcore_operator.claims.decision import Child, Pool
from agentcore_operator.controller.store import Key, Store, key_of

RESERVATION_SECONDS = 10.0  # a pass that died mid-bind frees its reservation after this


def child_of(body: dict[str, Any]) -> Child:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    ready = next(
        (c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"), {}
    )
    return Child(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        phase=status.get("phase"),
        session_id=status.get("sessionId"),
        expires_at=parse_time(status.get("expiresAt")),
        deleting=bool(meta.get("deletionTimestamp")),
        reason=ready.get("reason"),
    )


def controller_of(body: dict[str, Any]) -> dict[str, Any] | None:
    refs = (body.get("metadata") or {}).get("ownerReferences") or ()
    return next((r for r in refs if isinstance(r, dict) and r.get("controller")), None)


def labels_of(body: dict[str, Any]) -> dict[str, str]:
    return dict((body.get("metadata") or {}).get("labels") or {})


class ChildIndex:
    """Session keys labelled free (by pool) and by claim label, fed by the session watch and our
    own writes: a claim's pass looks at the pool's free children only, however many it bound."""

    def __init__(self, sessions: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._clock = clock
        self._free: dict[tuple[str, str], set[Key]] = defaultdict(set)  # labelled free, by pool
        self._by_claim: dict[tuple[str, str], set[Key]] = defaultdict(set)
        self._pools_of: dict[Key, tuple[tuple[str, str], ...]] = {}  # where a key is in _free
        self._reserved: dict[Key, tuple[Key, float]] = {}  # child -> (claim, until)
        self._lost: dict[Key, str] = {}  # child -> the resourceVersion a bind lost at

    def observe(self, event: dict[str, Any]) -> None:
        body = event.get("object")
        if not isinstance(body, dict):
            return
        key = key_of(body)
        if event.get("type") == "DELETED":
            self.forget(key, body)
            return
        self.put(body)

    def put(self, body: dict[str, Any]) -> None:
        key = key_of(body)
        labels = labels_of(body)
        for pool in self._pools_of.pop(key, ()):
            self._free[pool].discard(key)
        if labels.get(POOL_STATE_LABEL) == FREE and POOL_LABEL in labels:
            pool = (key[0], labels[POOL_LABEL])
            self._free[pool].add(key)
            self._pools_of[key] = (pool,)
        if CLAIM_LABEL in labels:
            self._by_claim[(key[0], labels[CLAIM_LABEL])].add(key)

    def forget(self, key: Key, body: dict[str, Any]) -> None:
        for pool in self._pools_of.pop(key, ()):
            self._free[pool].discard(key)
        keys = self._by_claim.get((key[0], labels_of(body).get(CLAIM_LABEL, "")))
        if keys is not None:
            keys.discard(key)
        self._reserved.pop(key, None)
        self._lost.pop(key, None)

    def held_by(self, namespace: str, claim: str, uid: str) -> list[Child]:
        """The children labelled with the claim's name and owned by its uid: its own, after any
        crash. More than one only if two operator processes bound for it at once."""
        held: list[Child] = []
        for key in sorted(self._by_claim.get((namespace, claim), ())):
            body = self._sessions.get(key)
            if body is None:
                continue
            owner = controller_of(body) or {}
            if labels_of(body).get(CLAIM_LABEL) == claim and owner.get("uid") == uid:
                held.append(child_of(body))
        return held

    def reserve_free(self, namespace: str, pool: Pool, claim: Key, now: datetime) -> Child | None:
        """The free Ready child with the most time left, reserved for `claim` so that the other
        passes of this process pick other children (each would otherwise race for the same one)."""
        moment = self._clock()
        enough = now + timedelta(seconds=pool.min_remaining_seconds)
        best: tuple[datetime, Key, Child] | None = None
        for key in list(self._free.get((namespace, pool.name), ())):
            body = self._sessions.get(key)
            if body is None:
                continue
            held = self._reserved.get(key)
            if held is not None and held[0] != claim and held[1] > moment:
                continue
            child = child_of(body)
            if self._lost.get(key) == child.resource_version:
                continue  # a bind just lost at this version: the watch brings the newer one
            if not _free_in(body, pool.name) or not child.ready:
                continue
            if child.expires_at is None or child.expires_at < enough:
                continue
            if best is None or child.expires_at > best[0]:
                best = (child.expires_at, key, child)
        if best is None:
            return None
        self._reserved[best[1]] = (claim, moment + RESERVATION_SECONDS)
        return best[2]

    def release(self, namespace: str, child: str, lost_at: str | None = None) -> None:
        key = (namespace, child)
        self._reserved.pop(key, None)
        if lost_at is not None:
            self._lost[key] = lost_at


def _free_in(body: dict[str, Any], pool: str) -> bool:
    labels = labels_of(body)
    owner = controller_of(body) or {}
    return (
        labels.get(POOL_LABEL) == pool
        and labels.get(POOL_STATE_LABEL) == FREE
        and CLAIM_LABEL not in labels
        and owner.get("kind") == POOL_KIND
        and owner.get("name") == pool
    )
