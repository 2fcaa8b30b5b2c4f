"""Orphan recovery: stop sessions we started whose resource is gone without us stopping them.

That happens when someone force-deletes a resource (removes our finalizer by hand) or
deletes it while the operator is down and strips the finalizer. The ledger says which
sessions are ours and for which resource; a fresh LIST of resources says which still
exist. A session is stopped only when all hold: it is in the ledger, its resource's uid
no longer exists, its policy was Delete, its namespace is one we watch, and AgentCore says
it is still live. Entries of sessions that already ended are dropped without a warning:
the warning, and `agentcore_orphan_sessions_stopped_total`, mean a live session was found.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.kube import KubeWriter
from agentcore_operator.controller.ledger import LedgerEntry, SessionLedger, StartIntent
from agentcore_operator.controller.observations import (
    SESSION_TERMINATED,
    CallFailed,
    SessionMissing,
    SessionSeen,
    SessionStarted,
)
from agentcore_operator.controller.state_machine import (
    NOTHING_STARTED_KINDS,
    ReadSession,
    StartSession,
    StopSession,
    stop_token,
)
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.errors import ApiError

logger = logging.getLogger("agentcore_operator.orphans")

# A replayed Start answered with a session created this recently made it itself.
INTENT_REPLAY_SLACK = timedelta(seconds=1)


@dataclass
class OrphanReport:
    entries: int = 0
    stopped: int = 0  # live orphans stopped
    ended: int = 0  # already over (stopped by the finalizer path, expired): dropped quietly
    retained: int = 0
    failed: int = 0


class OrphanSweeper:
    def __init__(
        self,
        ledger: SessionLedger,
        kube: KubeWriter,
        sessions: SessionManager,
        *,
        namespaces: tuple[str, ...],
        interval: float,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._ready = ready  # awaited before a sweep: each entry's account must be known
        self._ledger = ledger
        self._kube = kube
        self._sessions = sessions
        self._namespaces = namespaces
        self._interval = interval
        self._metrics = metrics
        self._clock = clock

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("orphan sweep failed")

    async def sweep_once(self) -> OrphanReport:
        report = OrphanReport()
        if self._ready is not None:
            await self._ready()
        await self._ledger.flush()
        entries, intents = await self._ledger.read()
        # The LIST comes after reading the ledger: a resource created in between has no
        # entry yet, so it can never be mistaken for gone.
        alive = await self._kube.session_uids(self._namespaces)
        report.entries = len(entries)
        for intent in intents:
            if intent.uid in alive or (self._namespaces and intent.namespace not in self._namespaces):
                continue
            await self._resolve(intent, report)
        gone: dict[tuple[str, str, str], list[LedgerEntry]] = {}
        for entry in entries:
            if entry.uid in alive or (self._namespaces and entry.namespace not in self._namespaces):
                continue
            if entry.policy != "Delete":
                report.retained += 1
                self._ledger.forget(entry.session_id)
                continue
            gone.setdefault((entry.account, entry.region, entry.interpreter), []).append(entry)
        for (account, region, interpreter), group in gone.items():
            await self._settle(account, region, interpreter, group, report)
        await self._ledger.flush()
        return report

    async def _settle(
        self, account: str, region: str, interpreter: str, group: list[LedgerEntry], report: OrphanReport
    ) -> None:
        """Stop what is live of one interpreter's orphans; drop what already ended, quietly.

        Most entries of gone resources are sessions the finalizer path stopped moments before
        a crash kept the ledger from hearing of it: one List of READY sessions tells them apart.
        A session missing from it may still be starting (List leaves those out), so it is asked
        once with Get before being dropped.
        """
        try:
            listed = await self._sessions.list_sessions(region, interpreter, account=account)
            ready = {s.session_id for s in listed}
        except ApiError as error:
            report.failed += len(group)
            logger.warning("orphan sweep could not list sessions of %s in %s: %s", interpreter, region, error)
            return
        for entry in group:
            if entry.session_id not in ready:
                seen = await self._sessions.perform(
                    ReadSession(region, interpreter, entry.session_id, account)
                )
                if isinstance(seen, CallFailed):
                    report.failed += 1
                    logger.warning("could not read orphaned session %s: %s", entry.session_id, seen.error)
                    continue
                if isinstance(seen, SessionMissing) or (
                    isinstance(seen, SessionSeen) and seen.status == SESSION_TERMINATED
                ):
                    report.ended += 1
                    logger.debug("dropping the ledger entry of ended session %s", entry.session_id)
                    self._ledger.forget(entry.session_id)
                    continue
            await self._stop(entry, report)

    async def _resolve(self, intent: StartIntent, report: OrphanReport) -> None:
        """A Start whose resource is gone before its session id was known: find out, provably.

        Replaying the Start with its token returns the session the first Start created (or
        starts one), which is then stopped; only an answer that no session can exist drops
        the intent otherwise. A name alone proves nothing: users choose session names.
        """
        if intent.policy != "Delete":
            report.retained += 1
            self._ledger.resolve_intent(intent.token)
            return
        began = self._clock()
        replay = StartSession(
            intent.region,
            intent.interpreter,
            intent.session_name,
            intent.timeout_seconds,
            intent.token,
            account=intent.account,
        )
        started = await self._sessions.perform(replay)
        if isinstance(started, CallFailed):
            if started.error.kind in NOTHING_STARTED_KINDS:
                self._ledger.resolve_intent(intent.token)
                return
            report.failed += 1
            logger.warning("could not resolve the Start intent %s: %s", intent.token, started.error)
            return
        if not isinstance(started, SessionStarted):  # pragma: no cover - Start answers SessionStarted
            return
        entry = LedgerEntry(
            started.session_id,
            intent.uid,
            intent.namespace,
            intent.name,
            intent.region,
            intent.interpreter,
            intent.policy,
            intent.account,
            intent.role_arn,
        )
        if started.created_at >= began - INTENT_REPLAY_SLACK:
            # The replay started it now (AgentCore answers a known token with the first
            # session's createdAt): the first Start had created nothing, or AgentCore forgot
            # its token. Stop it; nothing was orphaned, so no warning.
            stopped = await self._sessions.perform(
                StopSession(
                    intent.region,
                    intent.interpreter,
                    started.session_id,
                    stop_token(intent.uid, started.session_id),
                    intent.account,
                )
            )
            if isinstance(stopped, CallFailed):
                report.failed += 1
                self._ledger.record(entry)  # stop it as an orphan next time
            else:
                report.ended += 1
            self._ledger.resolve_intent(intent.token)
            return
        # An older session: the lost Start's. The finalizer path may have stopped it already
        # (and crashed before dropping the intent), so it is read before it is stopped.
        self._ledger.record(entry)  # if it cannot be settled now, it is an orphan entry from here on
        await self._settle(intent.account, intent.region, intent.interpreter, [entry], report)
        self._ledger.resolve_intent(intent.token)

    async def _stop(self, entry: LedgerEntry, report: OrphanReport) -> None:
        action = StopSession(
            entry.region,
            entry.interpreter,
            entry.session_id,
            stop_token(entry.uid, entry.session_id),
            entry.account,
        )
        outcome = await self._sessions.perform(action)
        if isinstance(outcome, CallFailed):
            report.failed += 1
            logger.warning("could not stop orphaned session %s: %s", entry.session_id, outcome.error)
            return
        self._ledger.forget(entry.session_id)
        if isinstance(outcome, SessionMissing):  # it ended between the read and the Stop
            report.ended += 1
            return
        report.stopped += 1
        if self._metrics is not None:
            self._metrics.orphans_stopped.inc()
        logger.warning(
            "stopped session %s: its resource %s/%s is gone without the session being stopped",
            entry.session_id,
            entry.namespace,
            entry.name,
            extra={"namespace": entry.namespace, "resource": entry.name, "session_id": entry.session_id},
        )
