"""Sessions that live as long as their resource (issue 12), end to end: kubectl -> emulated
cluster -> operator -> AgentCore emulator, all over HTTP.

The operator and the emulator share a clock the test advances (SharedClock), so a 60 s
session renews without waiting a minute. The operator's requeue timers run on real time,
so after advancing the clock a test wakes every resource, as those timers would have.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.controller.store import key_of
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator, SharedClock

from .conftest import eventually, session_manifest
from .test_reliability import OperatorProcess

EXPORT = "sandbox-session"


def apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def status_of(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    body = cluster.get("codeinterpretersessions", "default", name) or {}
    return dict(body.get("status") or {})


def configmap(cluster: ClusterHandle, name: str = EXPORT) -> dict[str, Any] | None:
    return cluster.get("configmaps", "default", name, group="", version="v1")


def wake(running: RunningOperator) -> None:
    """What the requeue timers would do once the shared clock has moved: look again."""
    operator = running.operator
    running.call(lambda: [operator.queue.add(key_of(body)) for body in operator.store.bodies()])


def advance(clock: SharedClock, running: RunningOperator, seconds: float) -> None:
    clock.advance(seconds)
    wake(running)


def by_id(emulator: EmulatorHandle) -> dict[str, dict[str, Any]]:
    return {s["sessionId"]: s for s in emulator.sessions()}


class Watcher:
    """Samples the emulator and the export every few ms: the 'at every instant' checks."""

    def __init__(self, cluster: ClusterHandle, emulator: EmulatorHandle, session_name: str) -> None:
        self.cluster, self.emulator, self.session_name = cluster, emulator, session_name
        self.samples = 0
        self.problems: list[str] = []
        self.max_ready = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            exported = configmap(self.cluster)
            sessions = [s for s in self.emulator.sessions() if s["name"] == self.session_name]
            ready = {s["sessionId"] for s in sessions if s["status"] == "READY"}
            self.samples += 1
            self.max_ready = max(self.max_ready, len(ready))
            if sessions and not ready:
                self.problems.append(f"no READY session: {[(s['sessionId'], s['status']) for s in sessions]}")
            data = (exported or {}).get("data") or {}
            if data.get("sessionId") and data["sessionId"] not in ready:
                self.problems.append(f"the export names {data['sessionId']}, not READY ({sorted(ready)})")
            time.sleep(0.02)

    @contextmanager
    def running(self) -> Iterator[Watcher]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)


def test_an_always_session_renews_with_overlap_and_the_export_follows(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    grace = 10  # less than the 20 s the predecessor has left: the operator stops it
    apply(
        cluster,
        session_manifest(
            "sandbox",
            sessionTimeoutSeconds=60,
            restartPolicy="Always",
            renewBeforeSeconds=20,
            renewGraceSeconds=grace,
            export={"configMapName": EXPORT},
        ),
    )
    first = eventually(lambda: (s := status_of(cluster, "sandbox")).get("phase") == "Ready" and s)
    eventually(lambda: ((configmap(cluster) or {}).get("data") or {}).get("sessionId") == first["sessionId"])
    exported = configmap(cluster)
    assert exported is not None
    assert set(exported["data"]) == {"sessionId", "codeInterpreterIdentifier", "region", "expiresAt", "phase"}
    assert exported["data"]["phase"] == "Ready" and exported["data"]["region"] == "us-east-1"
    assert exported["data"]["expiresAt"] == first["expiresAt"]
    (owner,) = exported["metadata"]["ownerReferences"]
    uid = cluster.get("codeinterpretersessions", "default", "sandbox")["metadata"]["uid"]  # type: ignore[index]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CodeInterpreterSession",
        "sandbox",
        uid,
        True,
    )

    timeline: list[str] = [f"t=+0s   {first['sessionId']} Ready (first), expires {first['expiresAt']}"]
    origin = clock.now()
    renewals = 4
    current = first
    with Watcher(cluster, emulator, "default-sandbox").running() as watcher:
        for number in range(1, renewals + 1):
            old = current["sessionId"]
            renew_at = datetime.fromisoformat(current["expiresAt"].replace("Z", "+00:00")).timestamp() - 20
            advance(clock, operator, max(0.0, renew_at - clock.epoch()) + 1)
            current = eventually(
                lambda old=old: (
                    (s := status_of(cluster, "sandbox")).get("sessionId") not in (None, old) and s
                ),
                message=f"renewal {number}",
            )
            new = current["sessionId"]
            promoted = clock.now()
            handover = next(c for c in current["conditions"] if c["type"] == "Handover")
            assert (current["previousSessionId"], handover["status"]) == (old, "True")
            assert current["restartCount"] == number and current["phase"] == "Ready"
            assert by_id(emulator)[old]["status"] == "READY"  # the overlap: both run
            eventually(lambda new=new: (configmap(cluster) or {}).get("data", {}).get("sessionId") == new)
            timeline.append(
                f"t=+{(promoted - origin).total_seconds():.0f}s  {new} Ready, replaces {old} "
                f"(restartCount {number}, predecessor to stop at {current['previousSessionStopAt']})"
            )
            advance(clock, operator, grace + 1)
            eventually(
                lambda old=old: by_id(emulator)[old]["status"] == "TERMINATED", message=f"{old} stopped"
            )
            stopped = by_id(emulator)[old]["stoppedAt"]
            assert stopped is not None
            drained = stopped - promoted.timestamp()
            assert grace <= drained <= grace + 5, drained
            timeline.append(
                f"t=+{stopped - origin.timestamp():.0f}s  {old} TERMINATED ({drained:.0f} s after the handover)"
            )
    assert watcher.problems == [], watcher.problems[:5]
    assert watcher.samples > 50 and watcher.max_ready <= 2
    final = status_of(cluster, "sandbox")
    assert final["restartCount"] == renewals
    restarted = [e for e in cluster.events("default") if e["reason"] == "Restarted"]
    assert len(restarted) == renewals
    print("\nrenewal timeline (shared clock):\n  " + "\n  ".join(timeline))

    # The export goes with the resource: garbage collection by its ownerReference.
    cluster.kubectl("delete", "codeinterpretersession", "sandbox", "--timeout=20s")
    eventually(lambda: configmap(cluster) is None, message="export garbage-collected")
    assert all(s["status"] == "TERMINATED" for s in emulator.sessions())


def test_out_of_band_stop_of_an_always_session_starts_a_new_one(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    apply(cluster, session_manifest("phoenix", sessionTimeoutSeconds=3600, restartPolicy="Always"))
    first = eventually(lambda: (s := status_of(cluster, "phoenix")).get("phase") == "Ready" and s)
    clock.advance(120)  # it lived two minutes: no back-off
    emulator.stop_session(first["sessionId"])
    second = eventually(
        lambda: (
            (s := status_of(cluster, "phoenix")).get("phase") == "Ready"
            and s.get("sessionId") != first["sessionId"]
            and s
        )
    )
    assert (second["restartCount"], second["previousSessionId"]) == (1, first["sessionId"])
    sessions = by_id(emulator)
    assert sessions[first["sessionId"]]["status"] == "TERMINATED"
    assert sessions[second["sessionId"]]["status"] == "READY"
    eventually(lambda: "Restarted" in [e["reason"] for e in cluster.events("default")])
    metrics = operator.operator.metrics.registry.get_sample_value(
        "agentcore_session_restarts_total", {"reason": "Stopped"}
    )
    assert metrics == 1.0


def test_an_always_session_that_keeps_ending_backs_off(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("flaky", sessionTimeoutSeconds=3600, restartPolicy="Always"))
    first = eventually(lambda: (s := status_of(cluster, "flaky")).get("phase") == "Ready" and s)
    emulator.stop_session(first["sessionId"])
    backing_off = eventually(
        lambda: (s := status_of(cluster, "flaky")).get("phase") == "Pending" and s, message="RestartBackOff"
    )
    reason = next(c["reason"] for c in backing_off["conditions"] if c["type"] == "Ready")
    assert reason == "RestartBackOff" and backing_off["restartBackOffSeconds"] == 10
    assert [s["status"] for s in emulator.sessions()] == ["TERMINATED"]  # nothing started yet


def test_ttl_deletes_a_finished_resource(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator, clock: SharedClock
) -> None:
    apply(cluster, session_manifest("task", sessionTimeoutSeconds=60, ttlSecondsAfterFinished=5))
    apply(
        cluster,
        session_manifest(
            "broken", codeInterpreterIdentifier="missing_one-a1b2c3d4e5", ttlSecondsAfterFinished=5
        ),
    )
    eventually(lambda: status_of(cluster, "task").get("phase") == "Ready")
    eventually(lambda: status_of(cluster, "broken").get("phase") == "Failed")
    advance(clock, operator, 61)
    eventually(lambda: status_of(cluster, "task").get("phase") == "Terminated")
    expired_at = time.monotonic()
    advance(clock, operator, 5)
    eventually(lambda: cluster.get("codeinterpretersessions", "default", "task") is None, timeout=10)
    eventually(lambda: cluster.get("codeinterpretersessions", "default", "broken") is None, timeout=10)
    assert time.monotonic() - expired_at < 10


def test_a_foreign_configmap_is_left_untouched(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": EXPORT}, "data": {"owner": "me"}}
    apply(cluster, foreign)
    before = configmap(cluster)
    assert before is not None
    apply(cluster, session_manifest("intruder", export={"configMapName": EXPORT}))
    status = eventually(
        lambda: (
            (s := status_of(cluster, "intruder")).get("phase") == "Ready"
            and any(c["type"] == "Exported" for c in s.get("conditions", []))
            and s
        )
    )
    exported = next(c for c in status["conditions"] if c["type"] == "Exported")
    assert (exported["status"], exported["reason"]) == ("False", "ExportConflict")
    after = configmap(cluster)
    assert after is not None
    assert (
        after["data"] == {"owner": "me"}
        and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    )
    assert "ownerReferences" not in after["metadata"]
    eventually(lambda: "ExportConflict" in [e["reason"] for e in cluster.events("default")])


def test_a_session_owned_by_another_object_is_stopped_when_the_owner_goes(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    """The per-task pattern: the session names its owner; deleting the owner deletes the
    session by garbage collection, and the operator stops it. The emulated cluster serves no
    Pods, so a ConfigMap stands in for the task's Pod (garbage collection treats both alike)."""
    apply(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "task-pod"}})
    owner = configmap(cluster, "task-pod")
    assert owner is not None
    manifest = session_manifest("per-task")
    manifest["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "task-pod", "uid": owner["metadata"]["uid"]}
    ]
    apply(cluster, manifest)
    session_id = eventually(
        lambda: (
            status_of(cluster, "per-task").get("sessionId")
            and status_of(cluster, "per-task").get("phase") == "Ready"
            and status_of(cluster, "per-task")["sessionId"]
        )
    )
    cluster.kubectl("delete", "configmap", "task-pod")
    eventually(lambda: cluster.get("codeinterpretersessions", "default", "per-task") is None, timeout=20)
    assert by_id(emulator)[session_id]["status"] == "TERMINATED"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_during_renewals_never_doubles_or_leaks(
    cluster: ClusterHandle, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """SIGKILL the operator (a real process, on real time) at random points of renewals: a
    60 s session renewed 57 s before its end renews every ~3 s. RENEWAL_KILLS runs it longer."""
    rng = random.Random(int(os.environ.get("RENEWAL_SEED", "20261201")))
    kills = int(os.environ.get("RENEWAL_KILLS", "20"))
    process = OperatorProcess(cluster, emulator, tmp_path / "operator.log")
    names = ["renew-a", "renew-b"]
    try:
        process.start()
        for name in names:
            apply(
                cluster,
                session_manifest(
                    name,
                    sessionTimeoutSeconds=60,
                    restartPolicy="Always",
                    renewBeforeSeconds=57,
                    renewGraceSeconds=1,
                ),
            )
        with Watcher(cluster, emulator, "default-renew-a").running() as watcher:
            while process.kills < kills:
                process.wait_up()
                time.sleep(rng.uniform(0.0, 3.0))
                process.kill()
                ready = [s for s in emulator.sessions() if s["status"] == "READY"]
                for name in names:
                    mine = [s for s in ready if s["name"] == f"default-{name}"]
                    assert len(mine) <= 2, (name, mine)
                process.start()
            process.wait_up()
            counts = {n: status_of(cluster, n).get("restartCount", 0) for n in names}
            eventually(
                lambda: all(status_of(cluster, n).get("restartCount", 0) > counts[n] for n in names),
                timeout=30,
                message="renewals go on after the last kill",
            )
        for name in names:
            cluster.kubectl("delete", "codeinterpretersession", name, "--timeout=60s")
        eventually(
            lambda: all(s["status"] == "TERMINATED" for s in emulator.sessions()),
            timeout=30,
            message="no READY session without a resource",
        )
    finally:
        process.stop()
    assert watcher.max_ready <= 2, watcher.max_ready
    starts = emulator.call_count("StartCodeInterpreterSession", "Success")
    conflicts = emulator.call_count("StartCodeInterpreterSession", "ConflictException")
    assert conflicts == 0  # no token was sent for two different Starts
    tokens = emulator.emulator.backend._region("us-east-1").tokens
    start_answers = [
        answer["sessionId"] for (op, _), (_, answer) in tokens.items() if op == "StartCodeInterpreterSession"
    ]
    assert len(start_answers) == len(set(start_answers)) == len(emulator.sessions())
    print(
        f"\nrenewal SIGKILLs: {process.kills} kills, {len(emulator.sessions())} sessions, "
        f"{starts} Starts answered, max READY per resource {watcher.max_ready}, 0 token reused"
    )


def test_the_long_lived_example_and_its_deployment_apply(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    cluster.kubectl("apply", "-f", str(examples / "long-lived-session.yaml"))
    cluster.kubectl("apply", "-f", str(examples / "export" / "deployment.yaml"))
    status = eventually(lambda: (s := status_of(cluster, "agent-tools")).get("phase") == "Ready" and s)
    data = eventually(lambda: (configmap(cluster, "agent-tools-session") or {}).get("data"))
    assert data["sessionId"] == status["sessionId"]
    deployment = cluster.get("deployments", "default", "agent", group="apps", version="v1")
    assert deployment is not None
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == "agent-tools-session"
