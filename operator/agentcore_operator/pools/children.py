"""Which sessions are a pool's children, and the writes the pool has made but not seen yet.

The session store holds every CodeInterpreterSession; this index remembers which of them
carry a pool label, so a pool's pass reads its own children without scanning the store.
A child stays in the index while it exists (the pool label is never removed, binding only
moves the state label), and the pool's view keeps only its free ones.

Expectations (controller-runtime's ReplicaSet has the same): a child the pool created is
counted before its watch event arrives, and one it deleted is counted as going, so a pass
that runs between the write and its echo neither creates nor deletes one more. An
expectation ends when the watch shows the write, or after `expect_seconds` (a write whose
echo was lost is then simply read again from the store).
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any

from agentcore_operator.api.v1alpha1.pool import (
    CHILD_SUFFIX_ALPHABET,
    CHILD_SUFFIX_LENGTH,
    FREE,
    POOL_LABEL,
    POOL_STATE_LABEL,
    TEMPLATE_LABEL,
)
from agentcore_operator.api.v1alpha1.types import parse_time
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.pools.decision import Child

EXPECT_SECONDS = 30.0


def child_name(pool: str) -> str:
    """`<pool>-<5 random [a-z0-9]>` (contract.md #17)."""
    return f"{pool}-{''.join(secrets.choice(CHILD_SUFFIX_ALPHABET) for _ in range(CHILD_SUFFIX_LENGTH))}"


def pool_of(body: dict[str, Any]) -> str | None:
    labels = (body.get("metadata") or {}).get("labels") or {}
    pool = labels.get(POOL_LABEL)
    return pool if isinstance(pool, str) and pool else None


def pool_keys_of(body: dict[str, Any]) -> list[Key]:
    """The pool a session belongs to (free or bound): the key the cross-kind watch queues."""
    pool = pool_of(body)
    return [(key_of(body)[0], pool)] if pool else []


def child_signature(body: dict[str, Any]) -> Hashable:
    """What a pool cares about in a child: free or not, going or not, and (free) its phase and expiry."""
    meta = body.get("metadata") or {}
    state = (meta.get("labels") or {}).get(POOL_STATE_LABEL)
    deleting = bool(meta.get("deletionTimestamp"))
    if state != FREE:
        return state, deleting
    status = body.get("status") or {}
    return state, deleting, status.get("phase"), status.get("expiresAt")


def owned_by(body: dict[str, Any], uid: str) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or ()
    return any(isinstance(r, dict) and r.get("uid") == uid and r.get("controller") for r in refs)


def child_of(body: dict[str, Any]) -> Child:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    ready = next(
        (c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"), {}
    )
    phase = status.get("phase")
    template = (meta.get("labels") or {}).get(TEMPLATE_LABEL)
    return Child(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        phase=phase if isinstance(phase, str) else None,
        created_at=parse_time(status.get("createdAt")) or parse_time(meta.get("creationTimestamp")),
        expires_at=parse_time(status.get("expiresAt")),
        deleting=bool(meta.get("deletionTimestamp")),
        template=template if isinstance(template, str) else None,
        reason=ready.get("reason") if isinstance(ready.get("reason"), str) else None,
        message=ready.get("message") if isinstance(ready.get("message"), str) else None,
    )


class PoolChildren:
    """The index of pooled sessions by pool, and the pool writes not yet seen in the watch."""

    def __init__(
        self,
        sessions: Store,
        *,
        expect_seconds: float = EXPECT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._by_pool: dict[Key, set[str]] = defaultdict(set)
        self._created: dict[Key, dict[str, float]] = defaultdict(dict)  # pool -> child name -> until
        self._deleted: dict[Key, dict[str, float]] = defaultdict(dict)  # pool -> child uid -> until
        self._expect_seconds = expect_seconds
        self._clock = clock

    def observe(self, event: dict[str, Any]) -> None:
        """One session watch event (called before the session controller sees it)."""
        body = event.get("object")
        if not isinstance(body, dict):
            return
        namespace, name = key_of(body)
        if event.get("type") == "DELETED":
            pool = pool_of(body) or self._pool_holding(namespace, name)
            if pool is not None:
                self._by_pool[(namespace, pool)].discard(name)
                if not self._by_pool[(namespace, pool)]:
                    del self._by_pool[(namespace, pool)]
            return
        pool = pool_of(body)
        if pool is not None:
            self._by_pool[(namespace, pool)].add(name)

    def _pool_holding(self, namespace: str, name: str) -> str | None:
        """A DELETED event may carry only the key (a relist noticed it gone)."""
        return next(
            (p for (ns, p), names in self._by_pool.items() if ns == namespace and name in names), None
        )

    def free_children(self, namespace: str, pool: str, uid: str) -> tuple[Child, ...]:
        """The pool's free children: labelled free and owned by this pool (its uid), with the
        creates not yet seen as children and the deletes not yet seen as going."""
        key = (namespace, pool)
        now = self._clock()
        created = self._created.get(key, {})
        deleted = self._deleted.get(key, {})
        children: list[Child] = []
        seen: set[str] = set()
        still_there: set[str] = set()  # uids we deleted that the store does not show going yet
        for name in sorted(self._by_pool.get(key, ())):
            body = self._sessions.get((namespace, name))
            if body is None:
                continue
            seen.add(name)
            labels = (body.get("metadata") or {}).get("labels") or {}
            if (
                labels.get(POOL_LABEL) != pool
                or labels.get(POOL_STATE_LABEL) != FREE
                or not owned_by(body, uid)
            ):
                continue
            child = child_of(body)
            if child.uid in deleted and not child.deleting:
                still_there.add(child.uid)
                child = replace(child, deleting=True)
            children.append(child)
        for name, until in list(created.items()):
            if name in seen or until <= now:
                del created[name]
            else:
                children.append(Child(name=name, unseen=True))
        for child_uid, until in list(deleted.items()):
            if child_uid not in still_there or until <= now:
                del deleted[child_uid]
        return tuple(children)

    def expect_created(self, pool: Key, name: str) -> None:
        self._created[pool][name] = self._clock() + self._expect_seconds

    def expect_deleted(self, pool: Key, uid: str) -> None:
        self._deleted[pool][uid] = self._clock() + self._expect_seconds

    def forget(self, pool: Key) -> None:
        """The pool is gone: its expectations go with it (its children's entries stay while they exist)."""
        self._created.pop(pool, None)
        self._deleted.pop(pool, None)

    def counts(self) -> dict[Key, int]:
        return {key: len(names) for key, names in self._by_pool.items()}


def pool_sizes(pool: dict[str, Any]) -> tuple[str, str, int, int, int]:
    """(namespace, name, spec.replicas, status.replicas, status.readyReplicas) of a pool body, for the metrics."""
    namespace, name = key_of(pool)

    def count(part: str, key: str) -> int:
        value = (pool.get(part) or {}).get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return (
        namespace,
        name,
        count("spec", "replicas"),
        count("status", "replicas"),
        count("status", "readyReplicas"),
    )
