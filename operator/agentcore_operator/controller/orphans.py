"""Orphan recovery: stop sessions we started whose resource is gone without us stopping them.

That happens when someone force-deletes a resource (removes our finalizer by hand) or
deletes it while the operator is down and strips the finalizer. The ledger says which
sessions are ours and for which resource; a fresh LIST of resources says which still
exist. A session is stopped only when all hold: it is in the ledger, its resource's uid
no longer exists, its policy was Delete, and its namespace is one we watch.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.kube import KubeWriter
from agentcore_operator.controller.ledger import SessionLedger
from agentcore_operator.controller.observations import CallFailed
from agentcore_operator.controller.state_machine import StopSession, client_token

logger = logging.getLogger("agentcore_operator.orphans")


@dataclass
class OrphanReport:
    entries: int = 0
    stopped: int = 0
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
    ) -> None:
        self._ledger = ledger
        self._kube = kube
        self._sessions = sessions
        self._namespaces = namespaces
        self._interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("orphan sweep failed")

    async def sweep_once(self) -> OrphanReport:
        report = OrphanReport()
        await self._ledger.flush()
        entries = await self._ledger.entries()
        # The LIST comes after reading the ledger: a resource created in between has no
        # entry yet, so it can never be mistaken for gone.
        alive = await self._kube.session_uids(self._namespaces)
        report.entries = len(entries)
        for entry in entries:
            if entry.uid in alive or (self._namespaces and entry.namespace not in self._namespaces):
                continue
            if entry.policy != "Delete":
                report.retained += 1
                self._ledger.forget(entry.session_id)
                continue
            action = StopSession(
                entry.region, entry.interpreter, entry.session_id, client_token(entry.uid, "stop")
            )
            outcome = await self._sessions.perform(action)
            if isinstance(outcome, CallFailed):
                report.failed += 1
                logger.warning("could not stop orphaned session %s: %s", entry.session_id, outcome.error)
                continue
            report.stopped += 1
            logger.warning(
                "stopped session %s: its resource %s/%s is gone without the session being stopped",
                entry.session_id,
                entry.namespace,
                entry.name,
                extra={"namespace": entry.namespace, "resource": entry.name, "session_id": entry.session_id},
            )
            self._ledger.forget(entry.session_id)
        await self._ledger.flush()
        return report
