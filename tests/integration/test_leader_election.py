"""Two operators, one Lease: only the leader acts; the standby takes over when it goes.

In-process operators (threads) against both stand-ins over HTTP. Real processes (SIGTERM,
SIGKILL, a partition) are in test_failover.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator, SharedClock, running_operator
from agentcore_operator.local.replicas import kubeconfig_with_token
from agentcore_operator.manager.settings import Settings
from agentcore_operator.runtime.elector import ElectionTiming

from .conftest import eventually, session_manifest

# Fast, but with room: a leader starved of CPU for over a second (two busy test workers on two
# cores) must not lose its Lease in the middle of the test.
FAST_ELECTION = ElectionTiming(lease_duration=5.0, renew_deadline=4.0, retry_period=0.3)
LEASE = "agentcore-operator"


@pytest.fixture
def ha_settings(settings: Settings) -> Settings:
    return replace(settings, leader_elect=True, election=FAST_ELECTION, orphan_sweep_interval=0.5)


def holder(cluster: ClusterHandle) -> str | None:
    lease = cluster.get("leases", "default", LEASE, group="coordination.k8s.io", version="v1")
    return None if lease is None else (lease.get("spec") or {}).get("holderIdentity")


def metrics(running: RunningOperator) -> str:
    assert running.operator.health is not None
    return requests.get(f"http://127.0.0.1:{running.operator.health.port}/metrics", timeout=5).text


def leader_metric(running: RunningOperator) -> float:
    line = next(line for line in metrics(running).splitlines() if line.startswith("agentcore_leader "))
    return float(line.split()[1])


def phase(cluster: ClusterHandle, name: str) -> str | None:
    body = cluster.get("codeinterpretersessions", "default", name) or {}
    return (body.get("status") or {}).get("phase")


def test_only_the_leader_acts_and_the_standby_takes_over_when_it_stops(
    cluster: ClusterHandle,
    emulator: EmulatorHandle,
    ha_settings: Settings,
    clock: SharedClock,
    tmp_path: Path,
) -> None:
    # b has a token of its own, so every request it sends (its kopf watches included) can be
    # told apart: a fault per write method, for b's token only, counts b's writes.
    b_kubeconfig = kubeconfig_with_token(cluster.kubeconfig, tmp_path / "b", "token-of-b")
    watched_writes = 10**6
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        cluster.inject_fault(method, ".", 503, count=watched_writes, token="token-of-b")
    with running_operator(replace(ha_settings, identity="replica-a"), clock=clock) as a:
        eventually(lambda: holder(cluster) == "replica-a", message="a leads")
        b_context = running_operator(
            replace(ha_settings, identity="replica-b", kubeconfig=str(b_kubeconfig)), clock=clock
        )
        b = b_context.__enter__()
        try:
            cluster.kubectl("apply", "-f", "-", input=json.dumps(session_manifest("first")))
            eventually(lambda: phase(cluster, "first") == "Ready", message="first Ready")
            eventually(lambda: b.call(lambda: b.operator.store.get(("default", "first")) is not None))
            assert leader_metric(a) == 1 and leader_metric(b) == 0
            # Sessions are counted by the replica that acts: a sum over pods counts each once.
            assert "agentcore_sessions{" in metrics(a) and "agentcore_sessions{" not in metrics(b)
            readyz = requests.get(f"http://127.0.0.1:{b.operator.health.port}/readyz", timeout=5)  # type: ignore[union-attr]
            assert readyz.status_code == 200, "a standby is ready: it serves health and metrics"
            agents = {r.user_agent for r in emulator.emulator.call_log()}
            assert agents and all("agentcore-operator/replica-a" in agent for agent in agents)
            time.sleep(1.0)  # a few of b's election attempts and a's sweeps
            faults = cluster.call(lambda: [f.to_dict() for f in cluster.cluster.faults])
            assert [f["remaining"] for f in faults] == [watched_writes] * 4, "a standby writes nothing"
            cluster.clear_faults()

            a.stop()  # a clean stop releases the Lease
            eventually(lambda: holder(cluster) == "replica-b", timeout=15, message="b takes over")
            cluster.kubectl("apply", "-f", "-", input=json.dumps(session_manifest("second")))
            eventually(lambda: phase(cluster, "second") == "Ready", message="second Ready, by b")
            assert leader_metric(b) == 1
            starts = [r for r in emulator.emulator.call_log() if r.operation == "StartCodeInterpreterSession"]
            assert [("replica-a" in r.user_agent, "replica-b" in r.user_agent) for r in starts] == [
                (True, False),
                (False, True),
            ]
        finally:
            b_context.__exit__(None, None, None)
    assert holder(cluster) == "", "the last leader released the Lease on its way out"
