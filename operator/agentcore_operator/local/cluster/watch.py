"""Watch streams, as the API server's watch cache serves them.

A watch starts from a resourceVersion (the events after it, from the store's history) or
from none (a synthetic ADDED per object), then follows the store. Selectors are applied
to each event as the watch cache applies them: an object that stops matching is DELETED
for that watch, one that starts matching is ADDED (see `store.Watch.translate`). When the
client asked for a Table (kubectl get -w), each event carries a one-row Table, with the
column definitions on the first event only, so kubectl keeps the CRD's printer columns on
update rows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from agentcore_operator.local.cluster import protobuf
from agentcore_operator.local.cluster.errors import ApiError, bad_request
from agentcore_operator.local.cluster.params import query_flag
from agentcore_operator.local.cluster.resources import ResourceType
from agentcore_operator.local.cluster.store import Store, Watch, WatchEvent
from agentcore_operator.local.cluster.tables import table, wants_table

DEFAULT_TIMEOUT_SECONDS = 1800


async def serve(
    request: web.Request,
    store: Store,
    resource_type: ResourceType,
    namespace: str | None,
    labels: Callable[[dict[str, str]], bool],
    fields: Callable[[dict[str, Any]], bool],
    *,
    selective: bool,
    bookmark_interval: float,
    streams: set[web.StreamResponse],
) -> web.StreamResponse:
    query = request.query
    watch = Watch(resource_type.key, namespace, labels, fields, selective=selective)
    since_raw = query.get("resourceVersion", "")
    initial: list[WatchEvent] = []
    if since_raw in ("", "0"):
        for body in store.items(resource_type, namespace):
            meta = body["metadata"]
            event = WatchEvent(
                int(meta["resourceVersion"]), watch.type_key, meta.get("namespace", ""), "ADDED", body
            )
            if watch.wants(event):
                initial.append(event)
    else:
        try:
            since = int(since_raw)
        except ValueError as exc:
            raise bad_request(f"invalid resourceVersion {since_raw!r}") from exc
        if since < store.oldest_version() - 1:
            raise ApiError(410, "Expired", f"too old resource version: {since} ({store.oldest_version()})")
        initial = store.since(since, watch)
    try:
        timeout = float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    except ValueError as exc:
        raise bad_request(f"invalid timeoutSeconds {query['timeoutSeconds']!r}") from exc
    store.watches.add(watch)
    accept = request.headers.get("Accept", "")
    encode = _table_encoder(resource_type, query) if wants_table(accept) else None
    # Protobuf frames when the client lists protobuf first and the kind has a message, as
    # client-go's typed informers ask; JSON lines otherwise (custom resources, Tables).
    framed = (
        encode is None
        and protobuf.accepts_protobuf_first(accept)
        and bool(protobuf.message_for(resource_type.group_version, resource_type.kind))
    )
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": protobuf.WATCH_STREAM if framed else "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    bookmarks = query_flag(query.get("allowWatchBookmarks"))
    deadline = time.monotonic() + timeout
    try:
        await response.prepare(request)
        streams.add(response)
        for event in initial:
            await _send(response, event.kind, encode(event.body) if encode else event.body, framed)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(remaining, bookmark_interval) if bookmarks else remaining
            try:
                event_or_none = await asyncio.wait_for(watch.queue.get(), wait)
            except TimeoutError:
                if bookmarks and deadline - time.monotonic() > 0:
                    bookmark = _bookmark(resource_type, store.resource_version)
                    await _send(response, "BOOKMARK", bookmark, framed)
                continue
            if event_or_none is None:
                break  # dropped on purpose
            body = event_or_none.body
            await _send(response, event_or_none.kind, encode(body) if encode else body, framed)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.watches.discard(watch)
        streams.discard(response)
    return response


def _table_encoder(
    resource_type: ResourceType, query: Mapping[str, str]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    include = query.get("includeObject", "Metadata")
    first = True

    def encode(body: dict[str, Any]) -> dict[str, Any]:
        nonlocal first
        rendered = table(resource_type, [body], include, headers=first)
        rendered["metadata"] = {"resourceVersion": body["metadata"]["resourceVersion"]}
        first = False
        return rendered

    return encode


def _bookmark(resource_type: ResourceType, resource_version: int) -> dict[str, Any]:
    return {
        "kind": resource_type.kind,
        "apiVersion": resource_type.group_version,
        "metadata": {"resourceVersion": str(resource_version)},
    }


async def _send(response: web.StreamResponse, kind: str, body: dict[str, Any], framed: bool) -> None:
    if framed:
        try:
            frame = protobuf.encode_watch_event(kind, body)
        except protobuf.ProtobufError as exc:
            error = ApiError(500, "InternalError", f"unable to encode watch object: {exc}")
            frame = protobuf.encode_watch_event("ERROR", error.status())
        await response.write(frame)
    else:
        await response.write(json.dumps({"type": kind, "object": body}).encode() + b"\n")
