"""Model-checking a namespace's maxSessions with the real Reconciler, its store and passes in parallel.

Several resources of one namespace, bound by an AgentCoreAccessPolicy with `maxSessions`,
are reconciled by one operator whose passes interleave (every API and AWS call yields to
the loop, so two passes decide while neither has written its Starting yet). Hypothesis
picks which passes run together, with faults on their calls (a Start whose answer is lost
counts: it may have made a session), deletes, expiries, out-of-band stops, and operator
restarts (a new store and reconciler: in-memory reservations are lost, the persisted
statuses are not).

Invariant, checked after every step: never more than maxSessions live sessions that we
started in the namespace (READY in the simulated AgentCore).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from agentcore_operator.controller.observations import Observation
from agentcore_operator.controller.reconciler import Reconciler
from agentcore_operator.controller.state_machine import AwsAction, EventNote, Timing
from agentcore_operator.controller.store import Store, key_of
from agentcore_operator.runtime.backoff import Backoff
from agentcore_operator.tenancy.index import TenancyIndex
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.modelcheck.sim import FAULTS, CrashPlan, SimAgentCore, SimApiServer

NAMESPACE = "team"
RESOURCES = 4
TIMING = Timing(
    start_poll_seconds=1,
    start_settle_seconds=0,
    interpreter_poll_seconds=1,
    quota_retry_seconds=1,
    access_denied_retry_seconds=1,
    stop_failure_retry_seconds=1,
    expiry_slack_seconds=0,
)


class InterleavingAgentCore:
    """The simulated AgentCore, yielding to the loop before each call as a real one would."""

    def __init__(self, aws: SimAgentCore) -> None:
        self.aws = aws

    async def perform(self, action: AwsAction) -> Observation:
        await asyncio.sleep(0)
        return await self.aws.perform(action)


class Namespace:
    """The API server's resources of one namespace (one SimApiServer each), yielding per write."""

    def __init__(self, servers: dict[str, SimApiServer]) -> None:
        self.servers = servers

    def _of(self, body: dict[str, Any]) -> SimApiServer:
        return self.servers[body["metadata"]["name"]]

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        return await self._of(body).patch_status(body, old, new)

    async def add_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        return await self._of(body).add_finalizer(body)

    async def remove_finalizer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        return await self._of(body).remove_finalizer(body)

    async def post_event(self, body: dict[str, Any], note: EventNote) -> None:
        return None


def manifest(index: int, timeout: int) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {
            "name": f"r{index}",
            "namespace": NAMESPACE,
            "uid": f"0b7c6a4e-5f1d-4c11-9b7a-2f9e0c3d1a5{index}",
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"codeInterpreterIdentifier": "aws.codeinterpreter.v1", "sessionTimeoutSeconds": timeout},
    }


class NamespaceLimitModel(RuleBasedStateMachine):
    @initialize(limit=st.sampled_from((1, 2)), timeout=st.sampled_from((60, 900)))
    def create(self, limit: int, timeout: int) -> None:
        self.limit = limit
        self.aws = SimAgentCore(crash=CrashPlan())
        servers = {f"r{i}": SimApiServer(manifest(i, timeout), CrashPlan()) for i in range(RESOURCES)}
        self.api = Namespace(servers)
        self.tenancy = TenancyIndex("123456789012")
        self.tenancy.put_namespace({"metadata": {"name": NAMESPACE}})
        self.tenancy.put_policy(
            {
                "metadata": {"name": "p"},
                "spec": {"namespaceSelector": {"names": [NAMESPACE]}, "limits": {"maxSessions": limit}},
            }
        )
        self.loop = asyncio.new_event_loop()
        self._restart_operator()

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    def _restart_operator(self) -> None:
        self.store = Store()
        self.reconciler = Reconciler(
            store=self.store,
            kube=self.api,  # type: ignore[arg-type]
            sessions=InterleavingAgentCore(self.aws),  # type: ignore[arg-type]
            default_region="us-east-1",
            timing=TIMING,
            backoff=Backoff(),
            clock=self.aws.clock,
            tenancy=self.tenancy,
        )

    def _watch(self) -> None:
        """The watch brings the API server's state into the store (deletions included)."""
        for name, server in self.api.servers.items():
            body = server.snapshot()
            if body is None:
                self.store.remove((NAMESPACE, name))
            else:
                self.store.put(body)

    @rule(
        which=st.lists(st.integers(0, RESOURCES - 1), min_size=1, max_size=RESOURCES, unique=True),
        faults=st.lists(st.sampled_from((None, None, *FAULTS)), max_size=4),
    )
    def passes_together(self, which: list[int], faults: list[str | None]) -> None:
        self._watch()
        self.aws.faults = list(faults)
        keys = [key_of(body) for i in which if (body := self.api.servers[f"r{i}"].snapshot()) is not None]

        async def together() -> None:
            await asyncio.gather(*(self.reconciler.reconcile(key) for key in keys))

        self.loop.run_until_complete(together())
        self.aws.faults = []

    @rule(index=st.integers(0, RESOURCES - 1))
    def delete(self, index: int) -> None:
        server = self.api.servers[f"r{index}"]
        if server.body is not None:
            meta = server.body["metadata"]
            meta.setdefault("deletionTimestamp", "2026-01-01T00:00:01Z")
            if not meta.get("finalizers"):
                server.body = None

    @rule(seconds=st.sampled_from((1, 30, 61, 901)))
    def time_passes(self, seconds: int) -> None:
        self.aws.advance(seconds)

    @rule()
    def stopped_out_of_band(self) -> None:
        live = self.aws.live()
        if live:
            self.aws.stop_out_of_band(live[0].session_id)

    @rule()
    def operator_restarts(self) -> None:
        self._restart_operator()

    @invariant()
    def never_more_live_sessions_than_the_limit(self) -> None:
        if hasattr(self, "aws"):
            assert len(self.aws.live()) <= self.limit, [s.session_id for s in self.aws.live()]


def test_a_namespace_never_runs_more_than_its_max_sessions() -> None:
    run_state_machine_as_test(
        NamespaceLimitModel,
        settings=settings(
            max_examples=150,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=os.environ.get("MODELCHECK_RANDOM") is None,
            database=None,
        ),
    )
