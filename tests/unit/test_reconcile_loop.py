"""The generic reconcile loop's own rules, on the session kind with a simulated AgentCore."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from agentcore_operator.controller.quota import QuotaGate
from agentcore_operator.controller.reconciler import Reconciler
from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.controller.store import Store, key_of
from agentcore_operator.runtime.backoff import Backoff

from tests.modelcheck.sim import CrashPlan, SimAgentCore, SimApiServer
from tests.modelcheck.test_session_model import UID


def resource() -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": "s", "namespace": "team", "uid": UID, "generation": 1, "resourceVersion": "1"},
        "spec": {"region": "us-east-1", "sessionTimeoutSeconds": 900},
    }


class DeletedDuringThePass(SimApiServer):
    """Someone deletes the resource while our pass runs: our status write's answer shows it."""

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        assert self.body is not None
        self.body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z"
        return await super().patch_status(body, old, new)


def test_a_change_seen_only_in_our_own_writes_answer_is_looked_at_at_once() -> None:
    crash = CrashPlan()
    aws = SimAgentCore(crash=crash)
    api = DeletedDuringThePass(resource(), crash)
    store = Store()
    store.put(copy.deepcopy(api.body) or {})
    loop = Reconciler(
        store=store,
        kube=api,  # type: ignore[arg-type]
        sessions=aws,  # type: ignore[arg-type]
        default_region="us-east-1",
        timing=Timing(start_settle_seconds=5),  # left alone, the pass would wait 5 s
        backoff=Backoff(),
        clock=aws.clock,
    )
    outcome = asyncio.run(loop.reconcile(key_of(resource())))
    assert outcome.requeue_after == 0.0
    held = store.get(key_of(resource()))
    assert held is not None and held["metadata"].get("deletionTimestamp")


class StatusWritesFail(SimApiServer):
    """The API server answers our status writes with a 500."""

    async def patch_status(
        self, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any] | None:
        raise RuntimeError("500 Internal Server Error")


def test_a_turn_held_by_a_pass_that_fails_before_its_start_goes_to_the_next_at_once() -> None:
    """The gate is closed; a freed slot is this resource's turn; its pass fails writing the
    status it must persist before the Start. The turn goes on now, not after it expires."""
    crash = CrashPlan()
    aws = SimAgentCore(crash=crash)
    api = StatusWritesFail(resource(), crash)
    store = Store()
    store.put(copy.deepcopy(api.body) or {})
    released: list[tuple[str, str]] = []
    gate = QuotaGate(released.append)
    scope, key, other = ("", "us-east-1"), key_of(resource()), ("team", "next")
    gate.exceeded(scope, key, "1")
    gate.park(scope, other, "2")
    gate.freed(scope)
    assert released == [key]
    loop = Reconciler(
        store=store,
        kube=api,  # type: ignore[arg-type]
        sessions=aws,  # type: ignore[arg-type]
        default_region="us-east-1",
        timing=Timing(),
        backoff=Backoff(),
        clock=aws.clock,
        quota=gate,
    )
    with pytest.raises(RuntimeError):
        asyncio.run(loop.reconcile(key))
    assert released == [key, other]
    assert gate.blocked(scope, key)
