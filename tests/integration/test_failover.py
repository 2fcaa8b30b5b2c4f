"""Failover with real processes: SIGTERM hands over, a partitioned leader fences itself, and
two replicas under repeated kills never double a session nor act out of turn.

Each replica is `agentcore-operator run --leader-elect` as its own process against the
emulated cluster and the AgentCore emulator. Who may act when comes from the Lease's
history; who did act comes from the emulator's call log (each call names its replica in
the user agent).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.replicas import (
    MUTATING,
    TRANSIT_SECONDS,
    LeaseHistory,
    ReplicaProcess,
    calls_outside_terms,
    percentile,
    run_chaos,
    wait_for,
)
from agentcore_operator.runtime.elector import ElectionTiming

from .conftest import session_manifest

FAST = ElectionTiming(lease_duration=3.0, renew_deadline=2.0, retry_period=0.5)


def apply(cluster: ClusterHandle, *names: str) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input="\n---\n".join(json.dumps(session_manifest(n, sessionTimeoutSeconds=3600)) for n in names),
    )


def phases(cluster: ClusterHandle) -> dict[str, str | None]:
    return {
        b["metadata"]["name"]: (b.get("status") or {}).get("phase")
        for b in cluster.objects("codeinterpretersessions", "default")
    }


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_finishes_work_releases_the_lease_and_exits_zero(
    cluster: ClusterHandle, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A burst is under way (Starts queued behind a 5 TPS limit): SIGTERM drops the queued
    Starts, lets those already sent finish and records them, releases the Lease, exits 0."""
    replica = ReplicaProcess(
        "solo", cluster, emulator, tmp_path, FAST, extra_args=("--tps", "StartCodeInterpreterSession=5")
    )
    with LeaseHistory(cluster) as history:
        replica.start()
        try:
            wait_for(lambda: history.holder() == replica.identity, 30, "it leads")
            apply(cluster, *(f"term-{i:02}" for i in range(30)))  # six seconds of Starts at 5 TPS
            wait_for(lambda: len(emulator.sessions()) >= 3, 30, "work under way")
            replica.send(signal.SIGTERM)
            signalled = time.monotonic()
            code = replica.wait(30)
            took = time.monotonic() - signalled
        finally:
            replica.stop()
        time.sleep(0.1)
    assert code == 0, replica.log.read_text()[-3000:]
    assert history.holder() == "", "the Lease is released (holderIdentity emptied)"
    assert history.records[-1].lease_duration_seconds == 1
    assert took < 3, f"SIGTERM took {took:.1f}s: the queued Starts held up the exit"
    started = {s["name"].removeprefix("default-"): s["sessionId"] for s in emulator.sessions()}
    assert 3 <= len(started) < 30, "the queued Starts were dropped, not sent"
    # Every Start it made is recorded in its resource's status: nothing for the next leader to guess.
    statuses = {
        b["metadata"]["name"]: b.get("status") or {}
        for b in cluster.objects("codeinterpretersessions", "default")
    }
    assert {name: statuses[name].get("sessionId") for name in started} == started


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("cut", ["lease-only", "everything"])
def test_a_partitioned_leader_stops_acting_at_its_renew_deadline_and_exits(
    cluster: ClusterHandle, emulator: EmulatorHandle, tmp_path: Path, cut: str
) -> None:
    """The leader loses the API server (all of it, or only the Lease: the harder case, since
    it can still write statuses and see new resources). The standby takes over after the
    lease duration; the old leader makes no mutating call after its renew deadline."""
    a = ReplicaProcess("a", cluster, emulator, tmp_path, FAST, token="token-of-a")
    b = ReplicaProcess("b", cluster, emulator, tmp_path, FAST, token="token-of-b")
    with LeaseHistory(cluster) as history:
        try:
            a.start()
            wait_for(lambda: history.holder() == a.identity, 30, "a leads")
            b.start()
            wait_for(b.ready, 30, "b stands by")
            apply(cluster, *(f"before-{i}" for i in range(5)))
            wait_for(lambda: list(phases(cluster).values()) == ["Ready"] * 5, 30, "five Ready")

            cluster.inject_fault(
                "*", "/leases" if cut == "lease-only" else ".", 503, count=None, token="token-of-a"
            )
            if cut == "everything":
                cluster.drop_watches()  # its open watch goes too; b reconnects, a cannot
            partitioned = time.time()
            # Work keeps coming: new resources to Start, old ones to Stop.
            for i in range(8):
                apply(cluster, f"during-{i}")
                cluster.kubectl(
                    "delete",
                    "codeinterpretersession",
                    f"before-{i % 5}",
                    "--wait=false",
                    "--ignore-not-found",
                )
                time.sleep(0.5)
            code = a.wait(FAST.renew_deadline + 20)
            term = wait_for(lambda: history.acquired_after(partitioned, a.identity), 30, "b takes over")
            assert term.holder == b.identity
            wait_for(
                lambda: (
                    (p := phases(cluster))
                    and set(p) == {f"during-{i}" for i in range(8)}
                    and all(v == "Ready" for v in p.values())
                ),
                60,
                "b converges everything",
            )
        finally:
            cluster.clear_faults()
            for replica in (a, b):
                replica.stop()

    assert code != 0, "a leader that lost its Lease exits non-zero so that the pod restarts"
    terms_of_a = [t for t in history.terms() if t.holder == a.identity]
    last_renewal = terms_of_a[-1].last_renewed
    assert last_renewal <= partitioned + 0.01
    a_calls = [
        c
        for c in emulator.emulator.call_log()
        if c.operation in MUTATING and f"agentcore-operator/{a.identity}" in c.user_agent
    ]
    late = [
        (c.operation, round(c.at - last_renewal, 3))
        for c in a_calls
        # The emulator logs a call once served: allow it the transit time after the fence check.
        if c.at > last_renewal + FAST.renew_deadline + TRANSIT_SECONDS
    ]
    assert late == [], f"the old leader acted after its renew deadline: {late}"
    if cut == "lease-only":  # it could still work, and did, until its deadline stopped it
        assert any(c.at > partitioned for c in a_calls), "the partitioned leader never tried to act"
    assert calls_outside_terms(emulator, history, FAST.renew_deadline, {a.identity, b.identity}) == []
    names = [s["name"] for s in emulator.sessions()]
    assert len(names) == len(set(names)), "a session was started twice"
    assert not any(
        s["status"] == "READY" for s in emulator.sessions() if s["name"].startswith("default-before-")
    ), "a deleted resource's session was left running"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_replicas_under_repeated_kills_never_double_leak_or_act_out_of_turn(
    cluster: ClusterHandle, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    report = run_chaos(cluster, emulator, tmp_path, sessions=24, kills=4, election=FAST, converge_timeout=60)
    assert report.unconverged == [], report.unconverged
    assert report.duplicates == [] and report.leaked == [] and report.non_leader_calls == [], report
    assert [code for kind, code in report.exit_codes if kind == "SIGTERM"] == [0, 0]
    assert [code for kind, code in report.exit_codes if kind == "SIGKILL"] == [-signal.SIGKILL] * 2
    assert all(code == 0 for kind, code in report.exit_codes if kind == "final SIGTERM")
    sigterm, sigkill = report.seconds("SIGTERM"), report.seconds("SIGKILL")
    print(
        f"\nfailover (lease {FAST.lease_duration}s): SIGTERM p50 {percentile(sigterm, 0.5):.2f}s max {max(sigterm):.2f}s; "
        f"SIGKILL p50 {percentile(sigkill, 0.5):.2f}s max {max(sigkill):.2f}s; {report.elapsed:.0f}s in all"
    )
