"""The operator's view of CodeInterpreterSession resources, fed by the watch.

Keeps the newest body of every resource, tells which watch events need a reconcile
(our own status writes do not: acting on them would repeat AWS calls), and indexes live
sessions by (region, interpreter) so a sweep knows what to look for without scanning.

It also answers which body it holds at a resourceVersion: the informer hands that body on
for a watch event at that version (most often the echo of our own write) without parsing it.

A body is kept without `metadata.managedFields`: nothing in the operator reads it, and it
is more than half of a parsed session body (at 10,000 resources, about 80 of 130 MB).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from agentcore_operator.api.v1alpha1 import Phase
from agentcore_operator.api.v1alpha1.types import INTERPRETER_ARN_RE

Key = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Tracked:
    """What the sweeper needs of one resource with a session."""

    key: Key
    region: str
    interpreter: str  # the bare id: an ARN and its id are one interpreter, swept once
    session_id: str
    phase: Phase
    account: str = ""  # status.accountId: the sweep lists each account's sessions as that account


def key_of(body: dict[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _resource_version(body: dict[str, Any]) -> int | None:
    value = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(value))
    except ValueError:
        return None


def _trigger(body: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a resource whose change calls for a reconcile."""
    meta = body.get("metadata") or {}
    return (
        meta.get("uid"),
        meta.get("generation"),
        meta.get("deletionTimestamp"),
        tuple(meta.get("finalizers") or ()),
        repr(body.get("spec")),
    )


class Store:
    def __init__(self) -> None:
        self._bodies: dict[Key, dict[str, Any]] = {}
        self._tracked: dict[Key, Tracked] = {}
        self._triggers: dict[Key, tuple[Any, ...]] = {}
        self._by_target: dict[tuple[str, str, str], set[Key]] = defaultdict(set)
        self._by_namespace: dict[str, set[Key]] = defaultdict(set)
        self._by_version: dict[str, Key] = {}  # resourceVersions are unique across a collection

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._bodies.get(key)

    def held_at(self, version: str) -> dict[str, Any] | None:
        """The body held at this resourceVersion, if any (whichever resource it is)."""
        key = self._by_version.get(version)
        return self._bodies.get(key) if key is not None else None

    def keys(self) -> list[Key]:
        return list(self._bodies)

    def bodies(self) -> list[dict[str, Any]]:
        return list(self._bodies.values())

    def put(self, body: dict[str, Any]) -> bool:
        """Record a body; return whether it changed what the reconciler acts on.

        A body at the resourceVersion already held costs a dict lookup: it is the watch
        echoing our own write (whose answer the reconciler put here first) or a replay after a
        reconnect. Bodies older than the one held (a watch event that lost a race with the
        answer to our own write) are ignored.

        The body is the store's from here on: its `metadata.managedFields` is dropped in place.
        """
        key = key_of(body)
        old = self._bodies.get(key)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if old is not None:
            old_version = (old.get("metadata") or {}).get("resourceVersion")
            if version is not None and version == old_version:
                return False
            old_rv, new_rv = _resource_version(old), _resource_version(body)
            if old_rv is not None and new_rv is not None and new_rv < old_rv:
                return False
            self._forget_version(key, old_version)
        meta = body.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        self._bodies[key] = body
        self._by_namespace[key[0]].add(key)
        if version is not None:
            self._by_version[str(version)] = key
        if old is None or old.get("status") != body.get("status"):
            self._index(key, body)
        trigger = _trigger(body)
        changed = self._triggers.get(key) != trigger
        self._triggers[key] = trigger
        return old is None or changed

    def remove(self, key: Key) -> None:
        old = self._bodies.pop(key, None)
        if old is not None:
            self._forget_version(key, (old.get("metadata") or {}).get("resourceVersion"))
        self._triggers.pop(key, None)
        keys = self._by_namespace.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_namespace[key[0]]
        self._untrack(key)

    def _forget_version(self, key: Key, version: object) -> None:
        if self._by_version.get(str(version)) == key:
            del self._by_version[str(version)]

    def in_namespace(self, namespace: str) -> list[dict[str, Any]]:
        """The bodies of one namespace's resources (a namespace's limits count them)."""
        return [self._bodies[key] for key in self._by_namespace.get(namespace, ())]

    def tracked(self) -> dict[tuple[str, str, str], list[Tracked]]:
        """Resources with a session, grouped by (account, region, interpreter)."""
        return {
            target: [self._tracked[k] for k in keys if k in self._tracked]
            for target, keys in self._by_target.items()
            if keys
        }

    def _index(self, key: Key, body: dict[str, Any]) -> None:
        status = body.get("status") or {}
        session_id, region, interpreter = (
            status.get("sessionId"),
            status.get("region"),
            status.get("codeInterpreterIdentifier"),
        )
        try:
            phase = Phase(str(status.get("phase")))
        except ValueError:
            phase = None
        if not (session_id and region and interpreter and phase):
            self._untrack(key)
            return
        arn = INTERPRETER_ARN_RE.fullmatch(str(interpreter))
        bare = arn.group("id") if arn else str(interpreter)
        tracked = Tracked(key, str(region), bare, str(session_id), phase, str(status.get("accountId") or ""))
        old = self._tracked.get(key)
        if old is not None and _target(old) != _target(tracked):
            self._by_target[_target(old)].discard(key)
        self._tracked[key] = tracked
        self._by_target[_target(tracked)].add(key)

    def _untrack(self, key: Key) -> None:
        old = self._tracked.pop(key, None)
        if old is not None:
            self._by_target[_target(old)].discard(key)


def _target(tracked: Tracked) -> tuple[str, str, str]:
    return tracked.account, tracked.region, tracked.interpreter
