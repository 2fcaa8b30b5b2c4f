"""The operator process: informers feed the store, workers drain the queue, the sweeper checks drift.

kopf runs the process (startup and cleanup, signals, login, the ready and stop flags);
the watch is our own informer (controller/informer.py): kopf's per-event processing
(bodies, memories, causes, handler invocation) cost a third of the operator's CPU during a
burst, for events of which most change nothing. The decisions and the requeue timing are
ours too: per-object kopf timers cannot batch observation into List sweeps nor pace
thousands of resources through one rate limiter and quota, a single due-time queue does
both (controller-runtime's model).
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
from agentcore_operator.api.v1alpha1.claim import CLAIM_KIND, CLAIM_PLURAL
from agentcore_operator.api.v1alpha1.interpreter import (
    INTERPRETER_FINALIZER,
    INTERPRETER_KIND,
    INTERPRETER_PLURAL,
)
from agentcore_operator.api.v1alpha1.pool import POOL_FINALIZER, POOL_KIND, POOL_PLURAL
from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.aws.sessions import SessionManager
from agentcore_operator.claims.children import ChildIndex
from agentcore_operator.claims.kind import ClaimKind, claim_keys_of_child, claims_of_pool
from agentcore_operator.claims.kind import child_signature as claim_child_signature
from agentcore_operator.controller.export import SessionObjects
from agentcore_operator.controller.informer import Informer
from agentcore_operator.controller.kube import KubeConflict, KubeWriter, connection_info, load_configuration
from agentcore_operator.controller.ledger import SessionLedger
from agentcore_operator.controller.observations import Observation
from agentcore_operator.controller.orphans import OrphanSweeper
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.reconciler import Reconciler, utc_now
from agentcore_operator.controller.store import Key, Store, key_of
from agentcore_operator.controller.sweeper import Sweeper
from agentcore_operator.controller.workqueue import WorkQueue
from agentcore_operator.interpreters.adapter import InterpreterManager
from agentcore_operator.interpreters.kind import InterpreterKind, interpreter_timing
from agentcore_operator.interpreters.references import interpreter_keys_of, sessions_using, users_of
from agentcore_operator.manager.health import AwsHealth, HealthServer
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.manager.settings import Settings
from agentcore_operator.pools.children import PoolChildren, child_signature, pool_keys_of, pool_sizes
from agentcore_operator.pools.kind import PoolKind
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.runtime.controller import KindController
from agentcore_operator.runtime.elector import KubernetesLeaseLock, LeaderElector, default_identity
from agentcore_operator.runtime.ratelimit import CONTROL_PLANE_WRITE_TPS, RateLimiter
from agentcore_operator.runtime.reconcile import ReconcileLoop
from agentcore_operator.tenancy.index import Changes, TenancyIndex
from agentcore_operator.tenancy.kind import PolicyKind
from agentcore_operator.tenancy.policy import POLICY_FINALIZER, POLICY_KIND, POLICY_PLURAL

logger = logging.getLogger("agentcore_operator")

StopFlag = asyncio.Event | threading.Event
DRAIN_SECONDS = 10.0  # how long a stopping operator lets passes in flight finish
CLAIM_CONNECTIONS = 8  # the claims' own connections to the API server (their watch is on the shared ones)
CALLER_IDENTITY_RETRY_SECONDS = 30.0


class LeadershipLost(Exception):
    """The Lease was not renewed in time: the process must exit non-zero and restart."""


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
        self.identity = settings.identity or default_identity()
        self.store = Store()
        self.queue: WorkQueue[Key, Observation] = WorkQueue()
        self.metrics = Metrics(phase_counts=self._phase_counts, pool_sizes=self._pool_sizes)
        self.backoff = self.new_backoff()
        self.aws_health = AwsHealth()
        self.boto_session = boto_session or boto3.session.Session()
        self._stopping_event = asyncio.Event()  # set when this replica stops acting for good
        self.aws_health.credentials_probe = self._probe_credentials
        self.kube_configuration = load_configuration(settings.kubeconfig)
        user_agent = f"agentcore-operator/{self.identity}"
        self.kube = KubeWriter(
            self.kube_configuration,
            pool_size=settings.max_workers,
            user_agent=user_agent,
            http_client=settings.kube_http_client,
        )
        self.elector: LeaderElector | None = None
        if settings.leader_elect:
            lease_lock = KubernetesLeaseLock(
                self.kube_configuration,
                settings.lease_namespace,
                settings.leader_election_id,
                user_agent=user_agent,
                request_timeout=max(0.5, min(5.0, settings.election.renew_deadline / 2)),
            )
            self.elector = LeaderElector(
                lease_lock,
                self.identity,
                settings.election,
                on_started_leading=self._started_leading,
                on_stopped_leading=self._stopped_leading,
                wait_for_release=lease_lock.wait_for_release,
            )
        # Which AgentCoreAccessPolicy binds each namespace: the account, region and limits of
        # its sessions. Filled by the watches of policies and Namespaces before any session
        # is acted on, so no session starts in the operator's own account by mistake.
        self.tenancy = TenancyIndex()
        self.tenancy_known = asyncio.Event()
        self.limiter = RateLimiter(
            {**CONTROL_PLANE_WRITE_TPS, **settings.tps},
            default_rate=settings.default_tps,
            on_wait=None,
        )
        self.sessions = SessionManager(
            ClientFactory(
                endpoint_url=settings.endpoint_url,
                max_pool_connections=settings.max_workers,
                session=self.boto_session,
                user_agent_extra=user_agent,
                http_client=settings.aws_http_client,
                calls=settings.aws_calls,
            ),
            self.limiter,
            self.metrics,
            on_call=self.aws_health.record,
            concurrency=settings.max_workers,
            may_mutate=self.may_act,
            stopping=self._stopping_event,
            identities=self.tenancy.identity_for,
        )
        self.quota = QuotaGate(
            self.queue.add, probe_interval=settings.timing.quota_retry_seconds, order=settings.quota_order
        )
        self.ledger = (
            SessionLedger(self.kube, settings.ledger_namespace)
            if settings.orphan_sweep_interval > 0
            else None
        )
        self.objects = SessionObjects(self.kube_configuration)
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
            interpreter_of=self._interpreter,
            objects=self.objects,
            tenancy=self.tenancy,
            requeue=self.queue.add,
            share_of=self._share_of,
        )
        self.session_controller: KindController[Observation] = KindController(
            self.reconciler,
            store=self.store,
            queue=self.queue,
            backoff=self.backoff,
            workers=settings.reconcile_workers,
            errors=self.metrics.reconcile_errors,
            on_removed=self._session_removed,
            drain_seconds=DRAIN_SECONDS,
        )
        self.interpreter_store = Store()
        interpreter_kind = InterpreterKind(
            interpreters=InterpreterManager(self.sessions),
            default_region=settings.region,
            timing=interpreter_timing(settings.timing),
            users_of=lambda namespace, name: users_of(self.store, namespace, name),
            metrics=self.metrics,
            tenancy=self.tenancy,
        )
        interpreter_kube = self.kube.for_kind(INTERPRETER_PLURAL, INTERPRETER_KIND, INTERPRETER_FINALIZER)
        self.interpreters, self.interpreter_controller = self._kind(
            interpreter_kind, self.interpreter_store, interpreter_kube, settings.reconcile_workers, clock
        )
        # A session waits for the interpreter it references; an interpreter being deleted
        # waits for the sessions using it. Each is queued by the other's changes, not polled.
        self.interpreter_controller.watch(
            self.session_controller, lambda body: sessions_using(self.store, body), _interpreter_signature
        )
        self.session_controller.watch(self.interpreter_controller, interpreter_keys_of, _session_signature)
        # Pools: their children are sessions; a child's change (Ready, bound, gone) queues its pool.
        self.pool_store = Store()
        self.pool_children = PoolChildren(self.store)
        pool_kind = PoolKind(
            children=self.pool_children,
            sessions=self.kube,
            default_region=settings.region,
            timing=settings.pool_timing,
        )
        self.pool_controller: KindController[Any] = KindController(
            ReconcileLoop(
                pool_kind,
                store=self.pool_store,
                kube=self.kube.for_kind(POOL_PLURAL, POOL_KIND, POOL_FINALIZER),
                conflict=KubeConflict,
                backoff=self.new_backoff(),
                errors=self.metrics.reconcile_errors,
                clock=clock,
            ),
            store=self.pool_store,
            workers=settings.reconcile_workers,
            errors=self.metrics.reconcile_errors,
            on_removed=self.pool_children.forget,
            drain_seconds=DRAIN_SECONDS,
        )
        self.session_controller.watch(self.pool_controller, pool_keys_of, child_signature)
        self._build_claims(clock, user_agent)
        self.policy_store = Store()
        policy_kube = self.kube.for_kind(POLICY_PLURAL, POLICY_KIND, POLICY_FINALIZER)
        self.policies, self.policy_controller = self._kind(
            PolicyKind(self.tenancy), self.policy_store, policy_kube, 2, clock
        )
        self.sweeper = Sweeper(
            self.store,
            self.sessions,
            self.queue,
            interval=settings.sweep_interval,
            ready=self.tenancy_known.wait,
        )
        self.orphans = (
            OrphanSweeper(
                self.ledger,
                self.kube,
                self.sessions,
                namespaces=settings.namespaces,
                interval=settings.orphan_sweep_interval,
                metrics=self.metrics,
                clock=clock,
                ready=self.tenancy_known.wait,
            )
            if self.ledger is not None
            else None
        )
        self.session_informers = [
            Informer(self.kube.connection, path, self.observe, held=self.store.held_at)
            for path in _collection_paths(settings.namespaces)
        ]
        self.informers = [
            *self.session_informers,
            *(
                Informer(
                    self.kube.connection, path, self.observe_interpreter, held=self.interpreter_store.held_at
                )
                for path in _collection_paths(settings.namespaces, INTERPRETER_PLURAL)
            ),
            *(
                Informer(self.kube.connection, path, self.observe_claim, held=self.claim_store.held_at)
                for path in _collection_paths(settings.namespaces, CLAIM_PLURAL)
            ),
        ]
        self.pool_informers = [
            Informer(self.kube.connection, path, self.observe_pool, held=self.pool_store.held_at)
            for path in _collection_paths(settings.namespaces, POOL_PLURAL)
        ]
        # Cluster-wide whatever namespaces are watched: policies and Namespaces are cluster-scoped.
        self.tenancy_informers = [
            Informer(
                self.kube.connection,
                f"/apis/{GROUP}/{VERSION}/{POLICY_PLURAL}",
                self.observe_policy,
                optional=True,  # an upgrade by Helm leaves the new CRD out: no policy, not no operator
            ),
            Informer(self.kube.connection, "/api/v1/namespaces", self.observe_namespace),
        ]
        self.informers += self.tenancy_informers
        self.health: HealthServer | None = None
        self.registry = kopf.OperatorRegistry()
        self._tasks: list[asyncio.Task[None]] = []
        self._working = False
        self._stopping = False
        self._stop_requested: asyncio.Event | None = None
        self._kube_ok: bool | None = None
        self._prepare: asyncio.Task[None] | None = None
        self._own_account_task: asyncio.Task[None] | None = None
        self._tenancy_task: asyncio.Task[None] | None = None
        self._register()

    def _build_claims(self, clock: Callable[[], datetime], user_agent: str) -> None:
        """CodeInterpreterSessionClaim: a kind on the generic loop that binds pooled sessions.

        Its child's changes (Ready, ended) and its pool's appearance queue the claim; the
        claim reads both from the caches, never from the API server, on its hot path. Its
        writes have their own connections: a bind never waits for a free connection behind a
        burst of session status writes and the pools' refills.
        """
        self.claim_writes = KubeWriter(
            self.kube_configuration,
            pool_size=CLAIM_CONNECTIONS,
            user_agent=user_agent,
            http_client=self.settings.kube_http_client,
        )
        self.claim_store = Store()
        self.children = ChildIndex(self.store)
        claim_writer = self.claim_writes.for_kind(CLAIM_PLURAL, CLAIM_KIND, "")
        self.claim_kind = ClaimKind(
            sessions=self.store,
            children=self.children,
            pool_lookup=lambda namespace, name: self.pool_store.get((namespace, name)),
            kube=self.claim_writes,
            synced=self._caches_listed,
            wake_session=self.queue.add,
            metrics=self.metrics,
            clock=clock,
        )
        self.claims = ReconcileLoop(
            self.claim_kind,
            store=self.claim_store,
            kube=claim_writer,
            conflict=KubeConflict,
            backoff=self.new_backoff(),
            errors=self.metrics.reconcile_errors,
            clock=clock,
        )
        self.claim_controller: KindController[Any] = KindController(
            self.claims,
            store=self.claim_store,
            workers=self.settings.reconcile_workers,
            errors=self.metrics.reconcile_errors,
            drain_seconds=DRAIN_SECONDS,
        )
        self.session_controller.watch(self.claim_controller, claim_keys_of_child, claim_child_signature)
        self.pool_controller.watch(
            self.claim_controller, lambda pool: claims_of_pool(self.claim_store, pool), _pool_identity
        )

    def _caches_listed(self) -> bool:
        """Whether the session cache holds everything: before, a claim would miss the child it holds.
        (A pool missing from its cache only delays a claim: the pool's event queues it again.)"""
        return all(informer.listed.is_set() for informer in self.session_informers)

    def new_backoff(self) -> Backoff:
        """A per-key retry backoff, capped as the settings say."""
        return Backoff(cap=self.settings.retry_backoff_cap_seconds)

    def _kind(
        self, kind: Any, store: Store, kube: KubeWriter, workers: int, clock: Callable[[], datetime]
    ) -> tuple[ReconcileLoop[Any, Any, Any, Any], KindController[Any]]:
        """A kind on the generic loop, with its own controller (queue, backoff, dispatch)."""
        errors = self.metrics.reconcile_errors
        loop: ReconcileLoop[Any, Any, Any, Any] = ReconcileLoop(
            kind,
            store=store,
            kube=kube,
            conflict=KubeConflict,
            backoff=self.new_backoff(),
            errors=errors,
            clock=clock,
        )
        controller: KindController[Any] = KindController(
            loop, store=store, workers=workers, errors=errors, drain_seconds=DRAIN_SECONDS
        )
        return loop, controller

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

    def observe(self, event: kopf.RawEvent | dict[str, Any]) -> None:
        """Feed one session watch event into the store; queue the resource if it needs a look."""
        if isinstance(event.get("object"), dict):
            self._kube_ok = True
        self.pool_children.observe(dict(event))
        self.session_controller.observe(dict(event))
        self.children.observe(dict(event))

    def observe_interpreter(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("object"), dict):
            self._kube_ok = True
        self.interpreter_controller.observe(event)

    def observe_claim(self, event: dict[str, Any]) -> None:
        self.claim_kind.noticed(event)
        self.claim_controller.observe(event)

    def observe_policy(self, event: dict[str, Any]) -> None:
        self._tenancy_changed(_feed(event, self.tenancy.put_policy, self.tenancy.remove_policy))
        self.policy_controller.observe(event)

    def observe_namespace(self, event: dict[str, Any]) -> None:
        self._tenancy_changed(_feed(event, self.tenancy.put_namespace, self.tenancy.remove_namespace))

    def _tenancy_changed(self, changes: Changes) -> None:
        """Look again at the sessions of namespaces whose binding or limits changed, and at the
        policies whose bound namespaces changed."""
        for namespace in changes.namespaces:
            for body in self.store.in_namespace(namespace):
                self.queue.add(key_of(body))
        for name in changes.policies:
            if self.policy_store.get(("", name)) is not None:
                self.policy_controller.queue.add(("", name))

    def _share_of(self, namespace: str) -> tuple[str, int]:
        """The quota gate's account and fair-share weight of a namespace (its policy's)."""
        tenancy = self.tenancy.for_namespace(namespace)
        return tenancy.account_key, tenancy.weight

    def _session_removed(self, key: Key) -> None:
        self.quota.forget(key)
        self.reconciler.session_kind.room_freed(key[0])

    async def _learn_own_account(self) -> bool:
        """STS GetCallerIdentity: the account of namespaces no role is assumed for (through the
        paced adapter: in its threads, and counted in agentcore_api_calls_total)."""
        region = self.settings.region
        try:
            account = await self.sessions.call(
                region, "GetCallerIdentity", lambda: self.sessions.clients.caller_account(region)
            )
        except Exception as exc:
            logger.warning("could not learn the operator's own AWS account (GetCallerIdentity): %s", exc)
            return False
        self._tenancy_changed(self.tenancy.set_own_account(account))
        logger.info("the operator's own AWS account is %s", account)
        return True

    async def _keep_learning_own_account(self) -> None:
        learned = False
        while not learned:
            await asyncio.sleep(CALLER_IDENTITY_RETRY_SECONDS)
            learned = await self._learn_own_account()

    async def _learn_tenancy(self) -> None:
        """Every namespace's binding (both lists in) and the operator's own account: nothing
        calls AWS before (a session would start in the wrong account, a sweep would list as
        the wrong identity)."""
        await asyncio.gather(*(informer.listed.wait() for informer in self.tenancy_informers))
        if not await self._learn_own_account():
            # Not a background task of _live's: it ends once it has learned the account.
            self._own_account_task = asyncio.create_task(self._keep_learning_own_account())
        self.tenancy_known.set()

    async def _dispatch_interpreters(self) -> None:
        """Once each namespace's account is known: an interpreter is created in it."""
        await self.tenancy_known.wait()
        await self.interpreter_controller.run()

    async def _dispatch_policies(self) -> None:
        """Once both lists are in: a policy's status written earlier would name too few namespaces."""
        await self.tenancy_known.wait()
        await self.policy_controller.run()

    def observe_pool(self, event: dict[str, Any]) -> None:
        self.pool_controller.observe(event)

    def _interpreter(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.interpreter_store.get((namespace, name))

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
        # The watch runs on a standby too: it fills the store, and acts once it leads.
        for informer in (*self.informers, *self.pool_informers):
            self._tasks.append(asyncio.create_task(informer.run()))
        self._prepare = asyncio.create_task(self._prepare_clients())
        if self.elector is None:
            self._start_working()
        else:
            self.metrics.leader.set(0)
            self._tasks.append(asyncio.create_task(self.elector.run(), name="leader election"))
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
            "operator started: region %s, namespaces %s, endpoint %s, %s",
            self.settings.region,
            ",".join(self.settings.namespaces) or "all",
            self.settings.endpoint_url or "AWS",
            f"leader election on lease {self.elector.lock.description} as {self.identity}"
            if self.elector is not None
            else "no leader election",
        )

    # -- leadership ------------------------------------------------------------------

    def may_act(self) -> bool:
        """The fence before every mutating AgentCore call (checked in the calling thread)."""
        if self._stopping:
            return False
        return self.elector.may_act() if self.elector is not None else True

    def _start_working(self) -> None:
        """Start deciding and acting: the queue, sweeps and the ledger, on everything in the store.

        A standby fills its store from the watch but acts on nothing; when it takes over,
        every resource it knows is looked at once, since it cannot know what the old
        leader left half done.
        """
        if self._working or self._stopping:
            return
        self._working = True
        self.metrics.leader.set(1)
        # Only the replica that acts asks AWS anything, GetCallerIdentity included.
        self._tenancy_task = asyncio.create_task(self._learn_tenancy())
        for controller in (
            self.session_controller,
            self.interpreter_controller,
            self.pool_controller,
            self.claim_controller,
            self.policy_controller,
        ):
            for body in controller.store.bodies():
                controller.queue.add(key_of(body))
        self._tasks.append(asyncio.create_task(self._dispatch_sessions(), name="dispatch"))
        self._tasks.append(asyncio.create_task(self._dispatch_interpreters(), name="dispatch"))
        self._tasks.append(asyncio.create_task(self._dispatch_pools(), name="dispatch"))
        self._tasks.append(asyncio.create_task(self.claim_controller.run(), name="dispatch"))
        self._tasks.append(asyncio.create_task(self._dispatch_policies(), name="dispatch"))
        self._tasks.append(asyncio.create_task(self.sweeper.run()))
        self._tasks.append(asyncio.create_task(self.quota.run()))
        if self.ledger is not None and self.orphans is not None:
            self._tasks.append(asyncio.create_task(self.ledger.run(self.settings.ledger_flush_interval)))
            self._tasks.append(asyncio.create_task(self.orphans.run()))

    def _started_leading(self) -> None:
        self._start_working()

    def _stopped_leading(self) -> None:
        """Renewal failed past the deadline: the fence is already shut; stop the process."""
        self.metrics.leader.set(0)
        self._stopping_event.set()
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def _cleanup(self) -> None:
        """Stop taking work, let passes in flight finish, flush the ledger, release the Lease.

        The fence shuts first: a pass still running may finish its AWS call and record it,
        but starts no new mutating call. The Lease is released last, only once nothing of
        ours can act any more, so the standby that takes it over never overlaps with us.
        """
        self._stopping = True
        self._stopping_event.set()
        if self._stop_requested is not None:
            # Stopped by a signal: kopf leaves its waiter on our flag pending, then waits
            # 5 s for it as a "hung" task before exiting. Setting the flag lets it end.
            self._stop_requested.set()
        if self.elector is not None:
            self.elector.step_down()
        self.queue.close()
        self.interpreter_controller.queue.close()
        self.policy_controller.queue.close()
        self.pool_controller.queue.close()
        self.claim_controller.queue.close()
        dispatchers = [t for t in self._tasks if t.get_name() == "dispatch"]
        if dispatchers:
            await asyncio.wait(dispatchers, timeout=DRAIN_SECONDS + 1)
        for helper in (self._prepare, self._tenancy_task, self._own_account_task):
            if helper is not None:
                helper.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.ledger is not None:
            with contextlib.suppress(Exception):
                await self.ledger.flush()
        if self.elector is not None:
            await self.elector.release()
            self.metrics.leader.set(0)
            self.elector.lock.close()
        if self.health is not None:
            await self.health.stop()
        self.sessions.close()
        await self.kube.close()
        await self.claim_writes.close()
        self.objects.close()

    async def _prepare_clients(self) -> None:
        try:
            await self.sessions.prepare(self.settings.region)
        except Exception as exc:  # the first call builds them again, and reports what fails
            logger.debug("could not build the AWS clients ahead: %s", exc)

    async def _dispatch_sessions(self) -> None:
        """Before the first pass: know every namespace's tenancy (a session must not start in
        the operator's own account because its policy was not listed yet) and the operator's
        own account; read the ledger: a Start intent a previous leader left is dropped when its
        resource is released only if the ledger knows it."""
        await self.tenancy_known.wait()
        if self.ledger is not None:
            try:
                await self.ledger.read()
            except Exception as exc:
                logger.warning("could not read the session ledger before working: %s", exc)
        await self.session_controller.run()

    async def _dispatch_pools(self) -> None:
        """A pool counts its children from the session cache: before that cache is listed it
        would see none and start a full set more (controller-runtime's WaitForCacheSync)."""
        await asyncio.gather(*(informer.listed.wait() for informer in self.session_informers))
        await self.pool_controller.run()

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
        # Only the replica that acts reports sessions: a standby holds the same resources,
        # and a dashboard summing over pods would count each one twice.
        if not self._working:
            return []
        counts = Counter(
            (
                str((body.get("metadata") or {}).get("namespace")),
                str((body.get("status") or {}).get("phase") or "Unknown"),
            )
            for body in self.store.bodies()
        )
        return [(namespace, phase, count) for (namespace, phase), count in counts.items()]

    def _pool_sizes(self) -> Iterable[tuple[str, str, int, int, int]]:
        if not self._working:
            return []
        return [pool_sizes(body) for body in self.pool_store.bodies()]

    # -- running -------------------------------------------------------------------

    async def run(self, stop_flag: StopFlag | None = None, ready_flag: StopFlag | None = None) -> None:
        """Run until `stop_flag` is set or a signal arrives (or forever).

        Raises LeadershipLost when it stopped because the Lease was not renewed in time.
        """
        self._stop_requested = asyncio.Event()
        relay = asyncio.create_task(_relay(stop_flag, self._stop_requested)) if stop_flag else None
        operator_settings = kopf.OperatorSettings()
        try:
            await kopf.operator(
                registry=self.registry,
                settings=operator_settings,
                standalone=True,
                clusterwide=not self.settings.namespaces,
                namespaces=list(self.settings.namespaces),
                stop_flag=self._stop_requested,
                ready_flag=ready_flag,
            )
        finally:
            if relay is not None:
                relay.cancel()
        if self.elector is not None and self.elector.lost:
            raise LeadershipLost(
                f"the lease {self.elector.lock.description} was not renewed within "
                f"{self.settings.election.renew_deadline}s"
            )


async def _relay(source: StopFlag, target: asyncio.Event) -> None:
    """Forward an outside stop flag (an asyncio or a threading Event) to ours."""
    if isinstance(source, asyncio.Event):
        await source.wait()
    else:
        # A threading.Event cannot be awaited, and a thread blocked on it could outlive us.
        while not source.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    target.set()


def _feed(
    event: dict[str, Any],
    put: Callable[[dict[str, Any]], Changes],
    remove: Callable[[str], Changes],
) -> Changes:
    """One watch event of a policy or a Namespace into the tenancy index: what it changed."""
    body = event.get("object")
    if not isinstance(body, dict):
        return Changes()
    if event.get("type") == "DELETED":
        return remove(str((body.get("metadata") or {}).get("name", "")))
    return put(body)


def _collection_paths(namespaces: tuple[str, ...], plural: str = PLURAL) -> list[str]:
    """What to list and watch: each namespace's collection, or the whole cluster's."""
    if not namespaces:
        return [f"/apis/{GROUP}/{VERSION}/{plural}"]
    return [f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{plural}" for ns in namespaces]


def _interpreter_signature(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a session waiting on an interpreter cares about: is it Ready, and on which id."""
    status = body.get("status") or {}
    return status.get("phase"), status.get("codeInterpreterId"), status.get("message")


def _pool_identity(body: dict[str, Any]) -> object:
    """What a claim waiting for its pool cares about: that it exists (a new one, a new uid)."""
    return (body.get("metadata") or {}).get("uid")


def _session_signature(body: dict[str, Any]) -> tuple[Any, ...]:
    """What an interpreter being deleted cares about: whether the session still uses it."""
    deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
    return (body.get("status") or {}).get("phase"), deleting
