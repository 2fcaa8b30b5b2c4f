"""The operator process: kopf feeds the store, workers drain the queue, the sweeper checks drift.

kopf is used as an informer (watch, initial list, reconnects, login) through one
`on.event` handler; the decisions and the requeue timing are ours. Per-object kopf timers
cannot batch observation into List sweeps nor pace thousands of resources through one
rate limiter and quota, a single due-time queue does both (controller-runtime's model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3
import kopf

from agentcore_operator.api.v1alpha1 import GROUP, PLURAL, VERSION
from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.controller.kube import KubeWriter, connection_info, load_configuration
from agentcore_operator.controller.ledger import SessionLedger
from agentcore_operator.controller.observations import Observation
from agentcore_operator.controller.orphans import OrphanSweeper
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.reconciler import Outcome, Reconciler, utc_now
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.controller.sweeper import Sweeper
from agentcore_operator.controller.workqueue import WorkQueue
from agentcore_operator.manager.health import AwsHealth, HealthServer
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.manager.settings import Settings
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.ratelimit import RateLimiter

logger = logging.getLogger("agentcore_operator")

StopFlag = asyncio.Event | threading.Event


class Operator:
    """Everything one running operator holds; several can live in one process (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        boto_session: boto3.session.Session | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.store = Store()
        self.queue: WorkQueue[Key, Observation] = WorkQueue()
        self.metrics = Metrics(phase_counts=self._phase_counts)
        self.backoff = Backoff()
        self.aws_health = AwsHealth()
        self.boto_session = boto_session or boto3.session.Session()
        self.aws_health.credentials_probe = self._probe_credentials
        self.kube_configuration = load_configuration(settings.kubeconfig)
        self.kube = KubeWriter(self.kube_configuration, pool_size=settings.max_workers)
        self.limiter = RateLimiter(
            settings.tps,
            default_rate=settings.default_tps,
            on_wait=None,
        )
        self.sessions = SessionManager(
            ClientFactory(
                endpoint_url=settings.endpoint_url,
                max_pool_connections=settings.max_workers,
                session=self.boto_session,
            ),
            self.limiter,
            self.metrics,
            on_call=self.aws_health.record,
            concurrency=settings.max_workers,
        )
        self.quota = QuotaGate(self.queue.add, probe_interval=settings.timing.quota_retry_seconds)
        self.ledger = (
            SessionLedger(self.kube, settings.ledger_namespace)
            if settings.orphan_sweep_interval > 0
            else None
        )
        self.reconciler = Reconciler(
            store=self.store,
            kube=self.kube,
            sessions=self.sessions,
            default_region=settings.region,
            timing=settings.timing,
            backoff=self.backoff,
            quota=self.quota,
            ledger=self.ledger,
            metrics=self.metrics,
            clock=clock,
        )
        self.sweeper = Sweeper(self.store, self.sessions, self.queue, interval=settings.sweep_interval)
        self.orphans = (
            OrphanSweeper(
                self.ledger,
                self.kube,
                self.sessions,
                namespaces=settings.namespaces,
                interval=settings.orphan_sweep_interval,
                metrics=self.metrics,
                clock=clock,
            )
            if self.ledger is not None
            else None
        )
        self.health: HealthServer | None = None
        self.registry = kopf.OperatorRegistry()
        self._tasks: list[asyncio.Task[None]] = []
        self._kube_ok: bool | None = None
        self._register()

    # -- kopf wiring -------------------------------------------------------------------

    def _register(self) -> None:
        registry = self.registry

        @kopf.on.startup(registry=registry)
        async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
            await self._startup(settings)

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: Any) -> None:
            await self._cleanup()

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(self.kube_configuration)

        @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
        async def on_event(event: kopf.RawEvent, **_: Any) -> None:
            self.observe(event)

    def observe(self, event: kopf.RawEvent | dict[str, Any]) -> None:
        """Feed one watch event into the store; queue the resource if it needs a look."""
        raw = event.get("object")
        if not isinstance(raw, dict):
            return
        body: dict[str, Any] = dict(raw)
        self._kube_ok = True
        key = key_of(body)
        if event.get("type") == "DELETED":
            self.store.remove(key)
            self.queue.forget(key)
            self.backoff.succeeded(key)
            self.quota.forget(key)
            return
        if self.store.put(body):
            self.queue.add(key)

    async def _startup(self, settings: kopf.OperatorSettings) -> None:
        settings.peering.standalone = True
        settings.posting.enabled = False  # events are ours, posted by the reconciler
        settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
        settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
            field="status.kopf.lastHandledConfiguration"
        )
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.watching.connect_timeout = 30
        settings.networking.request_timeout = 60
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.settings.max_workers, thread_name_prefix="agentcore-io")
        )
        self._tasks.append(asyncio.create_task(self._dispatch()))
        self._tasks.append(asyncio.create_task(self.sweeper.run()))
        self._tasks.append(asyncio.create_task(self.quota.run()))
        if self.ledger is not None and self.orphans is not None:
            self._tasks.append(asyncio.create_task(self.ledger.run(self.settings.ledger_flush_interval)))
            self._tasks.append(asyncio.create_task(self.orphans.run()))
        if self.settings.http_port >= 0:
            self.health = HealthServer(
                self.metrics,
                live=self._live,
                ready={"kubernetes": self._kube_ready, "aws": self.aws_health.check},
                host=self.settings.http_host,
                port=self.settings.http_port,
            )
            await self.health.start()
        logger.info(
            "operator started: region %s, namespaces %s, endpoint %s",
            self.settings.region,
            ",".join(self.settings.namespaces) or "all",
            self.settings.endpoint_url or "AWS",
        )

    async def _cleanup(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.ledger is not None:
            with contextlib.suppress(Exception):
                await self.ledger.flush()
        if self.health is not None:
            await self.health.stop()
        self.sessions.close()
        self.kube.close()

    async def _dispatch(self) -> None:
        """Hand every due key to its own pass at once, up to `reconcile_workers` at a time.

        A pass may wait for a rate-limit token (a burst of Starts queues for tens of seconds);
        a fixed pool of workers would then be full of waiting Starts while sessions already
        started wait behind them for their confirming Get. With a pass per key, the rate
        limiter is the only queue, and each operation queues only behind its own kind.
        """
        slots = asyncio.Semaphore(self.settings.reconcile_workers)
        passes: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()
                try:
                    key, hint = await self.queue.get()
                except BaseException:
                    slots.release()
                    raise
                task = asyncio.create_task(self._reconcile_one(key, hint, slots))
                passes.add(task)
                task.add_done_callback(passes.discard)
        finally:
            for task in list(passes):
                task.cancel()
            for task in list(passes):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _reconcile_one(self, key: Key, hint: Observation | None, slots: asyncio.Semaphore) -> None:
        try:
            try:
                outcome = await self.reconciler.reconcile(key, hint)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reconcile of %s/%s failed", *key)
                self.metrics.reconcile_errors.labels("Exception").inc()
                outcome = Outcome(self.backoff.failed(key))
            finally:
                self.queue.done(key)
            if outcome.requeue_after is not None and self.store.get(key) is not None:
                self.queue.add(key, outcome.requeue_after)
        finally:
            slots.release()

    # -- health --------------------------------------------------------------------

    async def _live(self) -> str | None:
        dead = [t for t in self._tasks if t.done()]
        return f"{len(dead)} background tasks have stopped" if dead else None

    async def _kube_ready(self) -> str | None:
        try:
            await self.kube.server_version()
        except Exception as exc:
            return f"Kubernetes API unreachable: {type(exc).__name__}: {exc}"[:300]
        return None

    def _probe_credentials(self) -> str | None:
        if self.settings.endpoint_url is None and self.boto_session.get_credentials() is None:
            return "no AWS credentials found (IRSA, Pod Identity, environment or profile)"
        return None

    def _phase_counts(self) -> Iterable[tuple[str, str, int]]:
        counts = Counter(
            (
                str((body.get("metadata") or {}).get("namespace")),
                str((body.get("status") or {}).get("phase") or "Unknown"),
            )
            for body in self.store.bodies()
        )
        return [(namespace, phase, count) for (namespace, phase), count in counts.items()]

    # -- running -------------------------------------------------------------------

    async def run(self, stop_flag: StopFlag | None = None, ready_flag: StopFlag | None = None) -> None:
        """Run until `stop_flag` is set (or forever)."""
        operator_settings = kopf.OperatorSettings()
        await kopf.operator(
            registry=self.registry,
            settings=operator_settings,
            standalone=True,
            clusterwide=not self.settings.namespaces,
            namespaces=list(self.settings.namespaces),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
