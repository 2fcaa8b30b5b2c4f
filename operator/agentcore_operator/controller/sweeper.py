"""Drift checks by List sweeps: one paginated ListCodeInterpreterSessions per interpreter, region
and account (each listed as that account's identity).

A Ready session can end out of band (stopped by someone else). Asking each session with
its own Get every minute costs N calls a minute; one List of READY sessions (100 a page)
answers for all of them. Only what the sweep cannot settle goes back to the reconciler:
a Ready session missing from the list (SessionUnconfirmed: the reconciler then Gets it
once) and a Starting session that the list already shows READY (no Get needed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentcore_operator.api.v1alpha1 import Phase
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.observations import Observation, SessionUnconfirmed
from agentcore_operator.controller.store import Key, Store
from agentcore_operator.controller.workqueue import WorkQueue
from agentcore_operator.runtime.errors import ApiError

logger = logging.getLogger("agentcore_operator.sweeper")


@dataclass
class SweepReport:
    lists: int = 0  # (region, interpreter) groups listed
    sessions_seen: int = 0
    unconfirmed: int = 0
    confirmed_ready: int = 0
    failures: int = 0


class Sweeper:
    def __init__(
        self,
        store: Store,
        sessions: SessionManager,
        queue: WorkQueue[Key, Observation],
        *,
        interval: float,
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._ready = ready  # awaited before a sweep: each session's account must be known
        self._store = store
        self._sessions = sessions
        self._queue = queue
        self._interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep_once()
            except Exception:  # a sweep failing must never stop the next one
                logger.exception("sweep failed")

    async def sweep_once(self) -> SweepReport:
        report = SweepReport()
        if self._ready is not None:
            await self._ready()
        for (account, region, interpreter), tracked in self._store.tracked().items():
            live = [t for t in tracked if t.phase in (Phase.READY, Phase.STARTING)]
            if not live:
                continue
            try:
                summaries = await self._sessions.list_sessions(
                    region, interpreter, status="READY", account=account
                )
            except ApiError as error:
                report.failures += 1
                logger.warning("sweep of %s in %s failed: %s", interpreter, region, error)
                continue
            report.lists += 1
            report.sessions_seen += len(summaries)
            ready = {summary.session_id: summary for summary in summaries}
            for item in live:
                summary = ready.get(item.session_id)
                if summary is None and item.phase is Phase.READY:
                    report.unconfirmed += 1
                    self._queue.add(item.key, 0.0, hint=SessionUnconfirmed(item.session_id))
                elif summary is not None and item.phase is Phase.STARTING:
                    report.confirmed_ready += 1
                    self._queue.add(item.key, 0.0, hint=summary.as_seen())
        return report
