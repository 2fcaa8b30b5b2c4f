"""List pagination (`limit` and `continue`) over a consistent snapshot, as etcd gives it.

A real API server answers every page of a paginated list at the resourceVersion of the
first page: etcd keeps old revisions until compaction, so an item deleted or changed
between pages neither shifts the pages (nothing else is skipped) nor shows the change.
We keep that promise cheaply: the first page's sorted item list (references to the
stored bodies, which are never changed in place) is kept for the token's lifetime,
bounded in count and age. A token whose snapshot is gone gets 410 Expired with the API
server's message and, as there, an inconsistent token to carry on from the current state.

The token has the API server's shape: base64 of `{"v": "meta.k8s.io/v1", "rv": N,
"start": "<key>\\u0000"}`, where the key is the last item returned.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from agentcore_operator.local.cluster.errors import ApiError, bad_request

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)
INCONSISTENT = -1  # a token's rv when it continues from the current state, not a snapshot
MAX_SNAPSHOTS = 64
MAX_SNAPSHOT_AGE_SECONDS = 300.0  # about etcd's compaction interval in a default kube-apiserver

ItemKey = tuple[str, str]


def item_key(body: dict[str, Any]) -> ItemKey:
    """Lists are in etcd key order: namespace, then name."""
    meta = body["metadata"]
    return (meta.get("namespace", ""), meta["name"])


@dataclass
class Snapshot:
    items: list[dict[str, Any]]  # sorted by item_key
    taken: float


@dataclass
class Page:
    items: list[dict[str, Any]]
    metadata: dict[str, Any]


def encode_token(resource_version: int, last: ItemKey) -> str:
    namespace, name = last
    start = f"{namespace}/{name}" if namespace else name
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": resource_version, "start": start + "\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, namespace: str | None) -> tuple[int, ItemKey]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        resource_version, start = int(data["rv"]), str(data["start"])
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError(
                f"continue key is not valid: incorrect encoded start resourceVersion (version {data.get('v')})"
            )
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc
    start = start.rstrip("\x00")
    if "/" in start:  # names never hold a slash: this is <namespace>/<name>
        found_namespace, name = start.split("/", 1)
        return resource_version, (found_namespace, name)
    return resource_version, (namespace or "", start)


class Pager:
    """Pages of lists, each walk over the snapshot its first page saw."""

    def __init__(self, max_snapshots: int = MAX_SNAPSHOTS, max_age: float = MAX_SNAPSHOT_AGE_SECONDS) -> None:
        self.max_snapshots = max_snapshots
        self.max_age = max_age
        self._snapshots: OrderedDict[tuple[Hashable, int], Snapshot] = OrderedDict()

    def page(
        self,
        scope: Hashable,
        namespace: str | None,
        collect: Callable[[], list[dict[str, Any]]],
        resource_version: int,
        limit: int,
        token: str | None,
        *,
        count_remaining: bool,
    ) -> Page:
        """One page of `scope` (a kind, a namespace and the selectors). `collect` lists the
        current matching items in key order; it is called only when no snapshot is used."""
        start = 0
        if token:
            version, last = decode_token(token, namespace)
            snapshot = None if version == INCONSISTENT else self._fresh(scope, version)
            if snapshot is None and version != INCONSISTENT:
                raise ApiError(
                    410,
                    "Expired",
                    EXPIRED_MESSAGE,
                    metadata={"continue": encode_token(INCONSISTENT, last)},
                )
            if snapshot is None:
                items = collect()
            else:
                items, resource_version = snapshot.items, version
            start = bisect_right(items, last, key=item_key)
        else:
            items = collect()
        remaining = len(items) - start
        metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if limit <= 0 or remaining <= limit:
            self._snapshots.pop((scope, resource_version), None)  # the walk is over
            return Page(items[start:] if start else items, metadata)
        chosen = items[start : start + limit]
        if (scope, resource_version) not in self._snapshots:
            self._keep(scope, resource_version, Snapshot(items, time.monotonic()))
        metadata["continue"] = encode_token(resource_version, item_key(chosen[-1]))
        if count_remaining:
            metadata["remainingItemCount"] = remaining - limit
        return Page(chosen, metadata)

    def _fresh(self, scope: Hashable, resource_version: int) -> Snapshot | None:
        snapshot = self._snapshots.get((scope, resource_version))
        if snapshot is not None and time.monotonic() - snapshot.taken > self.max_age:
            del self._snapshots[(scope, resource_version)]
            return None
        return snapshot

    def _keep(self, scope: Hashable, resource_version: int, snapshot: Snapshot) -> None:
        self._snapshots[(scope, resource_version)] = snapshot
        while len(self._snapshots) > self.max_snapshots:
            self._snapshots.popitem(last=False)
