"""Objects, resource versions and watches: the etcd-and-cacher half of the emulated cluster.

Objects are kept per kind in dicts keyed by (namespace, name), so gets, writes and
namespaced lists are lookups, not scans. Every write takes the next cluster-wide
resourceVersion and lands in a bounded event history, which serves watches that resume
from a resourceVersion; older ones get 410 Gone, as from a real API server.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from agentcore_operator.local.cluster.resources import ResourceType

TypeKey = tuple[str, str, str]
HISTORY_SIZE = 100_000


@dataclass(frozen=True)
class WatchEvent:
    resource_version: int
    type_key: TypeKey
    namespace: str
    kind: str  # ADDED, MODIFIED, DELETED
    body: dict[str, Any]
    previous: dict[str, Any] | None = None  # the object before a MODIFIED event


# -- selectors -----------------------------------------------------------------------------

LABEL_REQUIREMENT_RE = re.compile(
    r"\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*"
)


class SelectorError(ValueError):
    pass


def _split_requirements(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _label_check(match: re.Match[str]) -> Callable[[dict[str, str]], bool]:
    key, op, value, setop = match["key"], match["op"], match["value"], match["setop"]
    values = {v.strip() for v in (match["values"] or "").split(",") if v.strip()}

    def check(labels: dict[str, str]) -> bool:
        if match["neg"]:
            return key not in labels
        if op in ("=", "=="):
            return labels.get(key) == value
        if op == "!=":
            return labels.get(key) != value
        if setop == "in":
            return labels.get(key) in values
        if setop == "notin":
            return labels.get(key) not in values
        return key in labels

    return check


def label_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    """Equality- and set-based label selectors, as in `kubectl -l`."""
    if not selector:
        return lambda labels: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split_requirements(selector):
        match = LABEL_REQUIREMENT_RE.fullmatch(requirement)
        if match is None:
            raise SelectorError(f"unable to parse requirement: {requirement.strip()!r}")
        checks.append(_label_check(match))
    return lambda labels: all(check(labels) for check in checks)


def _field_check(path: str, negate: bool, value: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        node: Any = body
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found = "" if node is None else str(node)
        return (found != value) if negate else (found == value)

    return check


def field_matcher(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    """`metadata.name=x,metadata.namespace!=y` and other dotted fields (involvedObject.uid ...)."""
    if not selector:
        return lambda body: True
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for requirement in selector.split(","):
        match = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*", requirement)
        if match is None:
            raise SelectorError(f"invalid field selector: {requirement!r}")
        path, op, value = match.groups()
        checks.append(_field_check(path, op == "!=", value))
    return lambda body: all(check(body) for check in checks)


# -- the store -----------------------------------------------------------------------------


@dataclass(eq=False)  # identity: each open stream is its own watch
class Watch:
    type_key: TypeKey
    namespace: str | None
    labels: Callable[[dict[str, str]], bool]
    fields: Callable[[dict[str, Any]], bool]
    selective: bool = True  # False: no selectors, every object of the scope matches
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)

    def matches(self, body: dict[str, Any]) -> bool:
        labels = (body.get("metadata") or {}).get("labels") or {}
        return self.labels(labels) and self.fields(body)

    def wants(self, event: WatchEvent) -> bool:
        return self.translate(event) is not None

    def translate(self, event: WatchEvent) -> WatchEvent | None:
        """The event as this watch sees it, or None.

        As the watch cache does, a change that moves an object into the selection is ADDED
        for this watch, and one that moves it out is DELETED (with the object as it is now):
        otherwise a label-selected informer keeps an object that no longer matches.
        """
        if event.type_key != self.type_key:
            return None
        if self.namespace is not None and event.namespace != self.namespace:
            return None
        if not self.selective:
            return event
        now = self.matches(event.body)
        if event.kind != "MODIFIED" or event.previous is None:
            return event if now else None
        before = self.matches(event.previous)
        if now and before:
            return event
        if now:
            return replace(event, kind="ADDED")
        if before:
            return replace(event, kind="DELETED")
        return None


class Store:
    def __init__(self) -> None:
        self.resource_version = 0
        self._objects: dict[TypeKey, dict[tuple[str, str], dict[str, Any]]] = {}
        self._by_namespace: dict[TypeKey, dict[str, dict[str, dict[str, Any]]]] = {}
        self.history: deque[WatchEvent] = deque(maxlen=HISTORY_SIZE)
        self.watches: set[Watch] = set()
        # Controllers (namespace lifecycle, garbage collector) hear every event as it happens,
        # as informers would, and do their work later on their own task.
        self.listeners: list[Callable[[WatchEvent], None]] = []

    def next_version(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def oldest_version(self) -> int:
        return self.history[0].resource_version if self.history else self.resource_version

    def get(self, resource_type: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(resource_type.key, {}).get((namespace, name))

    def items(self, resource_type: ResourceType, namespace: str | None) -> Iterator[dict[str, Any]]:
        if namespace is None:
            yield from list(self._objects.get(resource_type.key, {}).values())
        else:
            yield from list(self._by_namespace.get(resource_type.key, {}).get(namespace, {}).values())

    def count(self) -> int:
        return sum(len(objects) for objects in self._objects.values())

    def put(self, resource_type: ResourceType, body: dict[str, Any], kind: str) -> None:
        meta = body["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        objects = self._objects.setdefault(resource_type.key, {})
        previous = objects.get((namespace, name))
        objects[(namespace, name)] = body
        self._by_namespace.setdefault(resource_type.key, {}).setdefault(namespace, {})[name] = body
        self._emit(
            WatchEvent(int(meta["resourceVersion"]), resource_type.key, namespace, kind, body, previous)
        )

    def remove(self, resource_type: ResourceType, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        self._objects.get(resource_type.key, {}).pop((namespace, name), None)
        self._by_namespace.get(resource_type.key, {}).get(namespace, {}).pop(name, None)
        self._emit(WatchEvent(int(meta["resourceVersion"]), resource_type.key, namespace, "DELETED", body))

    def _emit(self, event: WatchEvent) -> None:
        self.history.append(event)
        for watch in list(self.watches):
            seen = watch.translate(event)
            if seen is not None:
                watch.queue.put_nowait(seen)
        for listener in self.listeners:
            listener(event)

    def since(self, resource_version: int, watch: Watch) -> list[WatchEvent]:
        found = []
        for event in self.history:
            if event.resource_version > resource_version:
                seen = watch.translate(event)
                if seen is not None:
                    found.append(seen)
        return found

    def drop_watches(self) -> int:
        dropped = len(self.watches)
        for watch in list(self.watches):
            watch.queue.put_nowait(None)
        return dropped

    def snapshot(
        self, resource_type: ResourceType, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A deep copy, safe to hand to another thread."""
        body = self.get(resource_type, namespace or "", name)
        return copy.deepcopy(body) if body is not None else None
