"""The watch of CodeInterpreterSession resources: list, then watch from there, for ever.

The reflector of client-go, reduced to what the operator needs: a paginated LIST gives
every object and a resourceVersion; a WATCH from that version streams each change after
it; a stream that ends (server timeout, a dropped connection) resumes from the last
version seen (bookmarks keep it fresh); 410 Gone (the version is too old) lists again,
and an object that vanished meanwhile is reported as deleted. Errors back off and retry.

Each event costs one JSON parse and one call of `on_event`, on the event loop: no
framework machinery per event, so an event that changes nothing for the operator (the
echo of its own status write, a replay after a reconnect) costs the store a dict lookup.
Not even the parse, when the store already holds the object at the event's version (`held`):
a MODIFIED event whose line names one resourceVersion, and a version the store holds, hands
on the body held (the same object, at the same version), found by a byte search of the line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp

from agentcore_operator.controller.kube import KubeConnection, KubeError, WatchExpired, raise_for_status

logger = logging.getLogger("agentcore_operator.informer")

EventHandler = Callable[[dict[str, Any]], None]
HeldAt = Callable[[str], dict[str, Any] | None]  # the body held at a resourceVersion, if any
LIST_PAGE_SIZE = 500
WATCH_SERVER_TIMEOUT = 300  # seconds; the server ends the stream, we resume from the last version
WATCH_CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=330)
LIST_TIMEOUT = aiohttp.ClientTimeout(total=120)
MAX_BACKOFF_SECONDS = 30.0
_MODIFIED = (b'{"type":"MODIFIED",', b'{"type": "MODIFIED",')  # as API servers encode an event
_VERSION_KEY = b'"resourceVersion"'
_VERSION_VALUE = re.compile(rb'\s*:\s*"([0-9]+)"')


class Informer:
    """Lists and watches one collection path (a namespace's, or the whole cluster's)."""

    def __init__(
        self,
        connection: KubeConnection,
        path: str,
        on_event: EventHandler,
        *,
        held: HeldAt | None = None,
        optional: bool = False,
    ) -> None:
        self._connection = connection
        self._path = path
        self._on_event = on_event
        self._held = held
        # `optional`: a kind whose CRD may not be installed (Helm installs new CRDs on install,
        # not on upgrade). Not served (404) is then an empty list, asked again later.
        self._optional = optional
        self._reported_absent = False
        self._known: set[tuple[str, str]] = set()  # the objects this path has reported
        self.listed = asyncio.Event()

    async def run(self) -> None:
        version: str | None = None
        backoff = 0.1
        while True:
            try:
                if version is None:
                    version = await self._list()
                    self.listed.set()
                version = await self._watch(version)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except WatchExpired:
                logger.debug("watch of %s expired; listing again", self._path)
                version = None
            except KubeError as exc:
                if not (self._optional and exc.status == 404):
                    logger.warning("watching %s failed, retrying in %.1fs: %s", self._path, backoff, exc)
                else:
                    self._absent()
                    version = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception as exc:
                logger.warning("watching %s failed, retrying in %.1fs: %s", self._path, backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _absent(self) -> None:
        """The kind is not served: none exist (those known are gone), and that is known."""
        if not self._reported_absent:
            logger.warning("%s is not served (its CRD is not installed): none are in effect", self._path)
            self._reported_absent = True
        for namespace, name in set(self._known):
            self._deliver("DELETED", {"metadata": {"namespace": namespace, "name": name}})
        self.listed.set()

    async def _list(self) -> str:
        items: list[dict[str, Any]] = []
        token: str | None = None
        version = ""
        while True:
            params = {"limit": str(LIST_PAGE_SIZE)}
            if token:
                params["continue"] = token
            page = await self._get(params)
            items.extend(page.get("items") or [])
            metadata = page.get("metadata") or {}
            version = str(metadata.get("resourceVersion") or version)
            token = metadata.get("continue")
            if not token:
                break
        seen: set[tuple[str, str]] = set()
        for body in items:
            key = _key(body)
            seen.add(key)
            self._deliver("ADDED" if key not in self._known else "MODIFIED", body)
        for namespace, name in self._known - seen:
            self._deliver("DELETED", {"metadata": {"namespace": namespace, "name": name}})
        return version

    async def _get(self, params: dict[str, str]) -> dict[str, Any]:
        connection = self._connection
        async with connection.session().get(
            connection.base + self._path,
            params=params,
            headers=connection.headers(),
            proxy=connection.proxy,
            timeout=LIST_TIMEOUT,
        ) as response:
            await raise_for_status(response)
            page: dict[str, Any] = json.loads(await response.read())
            return page

    async def _watch(self, version: str) -> str:
        """Stream changes after `version` until the stream ends; the last version seen."""
        connection = self._connection
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SERVER_TIMEOUT),
        }
        async with connection.session().get(
            connection.base + self._path,
            params=params,
            headers=connection.headers(),
            proxy=connection.proxy,
            timeout=WATCH_CLIENT_TIMEOUT,
        ) as response:
            if response.status == 410:
                raise WatchExpired(await response.text())
            await raise_for_status(response)
            pending = b""
            # By chunks, not readline: aiohttp caps a line at 128 KiB, an object may be 1.5 MiB.
            async for chunk in response.content.iter_any():
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if line.strip():
                        version = self._on_line(line, version)
        return version

    def _on_line(self, line: bytes, version: str) -> str:
        if self._held is not None:
            seen = _modified_version(line)
            body = self._held(seen) if seen is not None else None
            if seen is not None and body is not None:
                self._deliver("MODIFIED", body)
                return seen
        event = json.loads(line)
        kind = event.get("type")
        body = event.get("object") or {}
        if kind == "ERROR":
            code = int(body.get("code") or 0)
            if code == 410:
                raise WatchExpired(str(body.get("message")))
            raise KubeError(code, str(body.get("reason")), str(body.get("message")))
        version = str((body.get("metadata") or {}).get("resourceVersion") or version)
        if kind != "BOOKMARK":
            self._deliver(str(kind), body)
        return version

    def _deliver(self, kind: str, body: dict[str, Any]) -> None:
        key = _key(body)
        if kind == "DELETED":
            self._known.discard(key)
        else:
            self._known.add(key)
        try:
            self._on_event({"type": kind, "object": body})
        except Exception:  # one bad object must not stop the watch of all the others
            logger.exception("handling a %s event of %s/%s failed", kind, *key)


def _modified_version(line: bytes) -> str | None:
    """The resourceVersion of a MODIFIED event, if the line names exactly one (else parse it).

    Inside a JSON string a quote is escaped, so `"resourceVersion"` found once, followed by a
    colon, is the key of metadata; twice (a label, an annotation or a value spelt so), and we parse.
    """
    if not line.startswith(_MODIFIED):
        return None
    at = line.find(_VERSION_KEY)
    if at < 0 or line.find(_VERSION_KEY, at + len(_VERSION_KEY)) >= 0:
        return None
    value = _VERSION_VALUE.match(line, at + len(_VERSION_KEY))
    return value.group(1).decode() if value else None


def _key(body: dict[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))
