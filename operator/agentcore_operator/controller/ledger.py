"""The session ledger: which AgentCore sessions this operator started, and for whom.

Sessions cannot be tagged and their names are the user's, so nothing in AgentCore says a
session is ours. The ledger does: ConfigMaps in the operator's own namespace (tenants
cannot write there, so nobody can enlist a foreign session for stopping), one entry per
session we started, naming the resource (uid) it belongs to. The orphan sweep stops a
session only if it has an entry, its resource no longer exists, and its policy was
Delete: sessions the operator did not start are never touched.

Writes are batched (one patch per shard per flush) so thousands of sessions cost a few
Kubernetes writes a second, not one per session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from agentcore_operator.controller.kube import KubeWriter

logger = logging.getLogger("agentcore_operator.ledger")

LEDGER_LABEL = "agentcore.dev/ledger"
SHARDS = 8


@dataclass(frozen=True)
class LedgerEntry:
    session_id: str
    uid: str
    namespace: str
    name: str
    region: str
    interpreter: str
    policy: str


class SessionLedger:
    def __init__(
        self, kube: KubeWriter, namespace: str, *, prefix: str = "agentcore-operator-sessions"
    ) -> None:
        self._kube = kube
        self.namespace = namespace
        self._prefix = prefix
        self._pending: dict[int, dict[str, str | None]] = {}
        self._known: dict[str, LedgerEntry] = {}
        self._lock = asyncio.Lock()

    def _shard(self, session_id: str) -> int:
        return zlib.crc32(session_id.encode()) % SHARDS

    def record(self, entry: LedgerEntry) -> None:
        if self._known.get(entry.session_id) == entry:
            return
        self._known[entry.session_id] = entry
        self._pending.setdefault(self._shard(entry.session_id), {})[entry.session_id] = json.dumps(
            asdict(entry)
        )

    def forget(self, session_id: str) -> None:
        self._known.pop(session_id, None)
        self._pending.setdefault(self._shard(session_id), {})[session_id] = None

    async def flush(self) -> bool:
        """Write what changed since the last flush; on failure it is kept for the next one."""
        ok = True
        async with self._lock:
            pending, self._pending = self._pending, {}
            for shard, changes in pending.items():
                name = f"{self._prefix}-{shard}"
                try:
                    await self._kube.merge_configmap_data(
                        self.namespace, name, changes, {LEDGER_LABEL: "sessions"}
                    )
                except Exception as exc:
                    logger.warning("ledger write to %s/%s failed, will retry: %s", self.namespace, name, exc)
                    merged = pending[shard] | self._pending.get(shard, {})
                    self._pending[shard] = merged
                    ok = False
        return ok

    async def entries(self) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        for data in await self._kube.configmap_data(self.namespace, f"{LEDGER_LABEL}=sessions"):
            for value in data.values():
                try:
                    entries.append(LedgerEntry(**json.loads(value)))
                except (TypeError, ValueError):
                    logger.warning("ignoring a malformed ledger entry: %.100s", value)
        for entry in entries:
            self._known.setdefault(entry.session_id, entry)
        return entries

    async def run(self, interval: float) -> None:
        delay = interval
        while True:
            await asyncio.sleep(delay)
            # Back off while writes fail (a missing namespace, RBAC), instead of a warning a second.
            delay = interval if await self.flush() else min(max(delay * 2, interval), 60.0)


def entry_of(
    body: dict[str, Any], session_id: str, region: str, interpreter: str, policy: str
) -> LedgerEntry:
    meta = body.get("metadata") or {}
    return LedgerEntry(
        session_id=session_id,
        uid=str(meta.get("uid", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        region=region,
        interpreter=interpreter,
        policy=policy,
    )
