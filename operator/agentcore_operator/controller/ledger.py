"""The session ledger: which AgentCore sessions this operator started, and for whom.

Sessions cannot be tagged and their names are the user's, so nothing in AgentCore says a
session is ours. The ledger does: ConfigMaps in the operator's own namespace (tenants
cannot write there, so nobody can enlist a foreign session for stopping), one entry per
session we started, naming the resource (uid) it belongs to. The orphan sweep stops a
session only if it has an entry, its resource no longer exists, and its policy was
Delete: sessions the operator did not start are never touched.

Writes are batched (one patch per shard per flush) so thousands of sessions cost a few
Kubernetes writes a second, not one per session.

Before a resource's first Start, the ledger also records a Start intent (uid, clientToken,
region, interpreter, the Start's parameters) and waits until it is written: if the resource
is then force-deleted before its session id is known, only the intent says a session may
exist. The orphan sweep resolves it by replaying the Start with that token (AgentCore
answers with the session the first Start created, or starts one) and stopping what comes
back. Concurrent intents share one write per shard (a group commit).
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
INTENT_COMMIT_WINDOW = 0.02  # seconds an intent waits for others to share its write
INTENT_COMMIT_TRIES = 3


class LedgerUnavailable(Exception):
    """An intent could not be written: the Start it announces must not be sent."""


@dataclass(frozen=True)
class LedgerEntry:
    session_id: str
    uid: str
    namespace: str
    name: str
    region: str
    interpreter: str
    policy: str
    # The account the session runs in (tenancy); "" for entries written before accounts, and
    # for the operator's own. The orphan sweep acts there, as the role that binds it.
    account: str = ""
    role_arn: str = ""  # which role started it: for a person reading the ledger


@dataclass(frozen=True)
class StartIntent:
    """A Start about to be sent for a resource: enough to replay it with the same token."""

    token: str
    uid: str
    namespace: str
    name: str
    region: str
    interpreter: str
    session_name: str
    timeout_seconds: int
    policy: str
    account: str = ""
    role_arn: str = ""


class SessionLedger:
    def __init__(
        self, kube: KubeWriter, namespace: str, *, prefix: str = "agentcore-operator-sessions"
    ) -> None:
        self._kube = kube
        self.namespace = namespace
        self._prefix = prefix
        self._pending: dict[int, dict[str, str | None]] = {}
        self._known: dict[str, LedgerEntry] = {}
        self._intents: dict[str, StartIntent] = {}
        self._durable: set[str] = set()  # intents known to be written
        self._resolved: set[str] = set()  # tokens whose removal this process has written
        self._commit: asyncio.Task[bool] | None = None
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

    async def record_intent(self, intent: StartIntent) -> None:
        """Write the intent before its Start is sent; raise LedgerUnavailable if it cannot be."""
        if self._intents.get(intent.token) == intent and intent.token in self._durable:
            return
        self._intents[intent.token] = intent
        self._resolved.discard(intent.token)
        self._pending.setdefault(self._shard(intent.token), {})[intent.token] = json.dumps(
            {"intent": asdict(intent)}
        )
        for _ in range(INTENT_COMMIT_TRIES):
            if self._commit is None or self._commit.done():
                self._commit = asyncio.create_task(self._group_commit())
            await asyncio.shield(self._commit)
            if intent.token in self._durable:
                return
        raise LedgerUnavailable(f"could not record the Start intent {intent.token} in the ledger")

    def resolve_intent(self, token: str) -> None:
        """The Start's outcome is known (or handed to the entry of its session): drop the intent.

        An intent this process has not seen may still be in the ledger (written by an earlier
        life that crashed before resolving it), so the removal is written once per process
        for every token: batched with the next flush, never a write per pass.
        """
        known = self._intents.pop(token, None) is not None
        if known or token not in self._resolved:
            self._resolved.add(token)
            self._durable.discard(token)
            self._pending.setdefault(self._shard(token), {})[token] = None

    async def _group_commit(self) -> bool:
        await asyncio.sleep(INTENT_COMMIT_WINDOW)
        return await self.flush()

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
                    merged = changes | self._pending.get(shard, {})
                    self._pending[shard] = merged
                    ok = False
                    continue
                self._durable.update(key for key, value in changes.items() if value and key in self._intents)
        return ok

    async def entries(self) -> list[LedgerEntry]:
        return (await self.read())[0]

    async def read(self) -> tuple[list[LedgerEntry], list[StartIntent]]:
        """Every session entry and Start intent in the ledger (and remember them, to forget later)."""
        entries: list[LedgerEntry] = []
        intents: list[StartIntent] = []
        for data in await self._kube.configmap_data(self.namespace, f"{LEDGER_LABEL}=sessions"):
            for value in data.values():
                try:
                    decoded = json.loads(value)
                    if isinstance(decoded, dict) and "intent" in decoded:
                        intents.append(StartIntent(**decoded["intent"]))
                    else:
                        entries.append(LedgerEntry(**decoded))
                except (TypeError, ValueError):
                    logger.warning("ignoring a malformed ledger entry: %.100s", value)
        for entry in entries:
            self._known.setdefault(entry.session_id, entry)
        for intent in intents:
            if intent.token not in self._intents:
                self._intents[intent.token] = intent
                self._durable.add(intent.token)
        return entries, intents

    async def run(self, interval: float) -> None:
        delay = interval
        while True:
            await asyncio.sleep(delay)
            # Back off while writes fail (a missing namespace, RBAC), instead of a warning a second.
            delay = interval if await self.flush() else min(max(delay * 2, interval), 60.0)


def entry_of(
    body: dict[str, Any],
    session_id: str,
    region: str,
    interpreter: str,
    policy: str,
    account: str = "",
    role_arn: str = "",
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
        account=account,
        role_arn=role_arn,
    )
