"""Several operator replicas as real processes, and the record of who led when (tests, bench).

A replica dies the way a pod does (SIGTERM, SIGKILL) and comes back with a new identity
(`<slot>-<life>`, through POD_NAME as the chart sets it). `LeaseHistory` keeps every
version of the Lease it sees, so a run can be judged afterwards: each mutating AgentCore
call in the emulator's log names its caller in the user agent, and must fall inside that
caller's term as leader.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.runtime.elector import ElectionTiming, LeaderRecord, record_of

CLI = str(Path(sys.executable).parent / "agentcore-operator")
NAMESPACE = "default"
LEASE = "agentcore-operator"
MUTATING = ("StartCodeInterpreterSession", "StopCodeInterpreterSession")
# The emulator logs a call when it has been served, a little after the replica sent it.
TRANSIT_SECONDS = 0.25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubeconfig_with_token(source: Path, target: Path, token: str) -> Path:
    """A copy of a kubeconfig that presents its own bearer token (so a fault can single it out)."""
    config = yaml.safe_load(source.read_text())
    for user in config["users"]:
        user["user"]["token"] = token
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def epoch(micro_time: str | None) -> float | None:
    if not micro_time:
        return None
    return datetime.fromisoformat(micro_time.replace("Z", "+00:00")).timestamp()


class ReplicaProcess:
    """One replica slot: `agentcore-operator run --leader-elect` as a process, restartable."""

    def __init__(
        self,
        slot: str,
        cluster: ClusterHandle,
        emulator: EmulatorHandle,
        workdir: Path,
        election: ElectionTiming,
        *,
        token: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.slot = slot
        self.life = 0
        self.port = free_port()
        kubeconfig = cluster.kubeconfig
        if token is not None:
            kubeconfig = kubeconfig_with_token(cluster.kubeconfig, workdir / f"kubeconfig-{slot}", token)
        self.token = token
        self.args = [
            CLI,
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--endpoint-url",
            emulator.endpoint_url,
            "--region",
            "us-east-1",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--sweep-interval",
            "1",
            "--ledger-namespace",
            NAMESPACE,
            "--orphan-sweep-interval",
            "2",
            "--log-level",
            "info",
            "--leader-elect",
            "--leader-elect-lease-duration",
            str(election.lease_duration),
            "--leader-elect-renew-deadline",
            str(election.renew_deadline),
            "--leader-elect-retry-period",
            str(election.retry_period),
            *extra_args,
        ]
        self.log = workdir / f"replica-{slot}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def identity(self) -> str:
        return f"replica-{self.slot}-{self.life}"

    def start(self) -> None:
        self.life += 1
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "AKIDREPLICA",
            "AWS_SECRET_ACCESS_KEY": "replica-secret",
            "POD_NAME": self.identity,
        }
        env.pop("POD_NAMESPACE", None)
        with open(self.log, "ab") as out:
            out.write(f"--- life {self.life}: {self.identity} ---\n".encode())
            self.process = subprocess.Popen(self.args, env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@dataclass
class Term:
    """One holder's time as leader, in wall-clock seconds from the Lease's own timestamps."""

    holder: str
    acquired: float
    last_renewed: float
    released: float | None = None

    def fence_end(self, renew_deadline: float) -> float:
        """The latest moment this holder may have acted: its release, or deadline after its last renewal."""
        if self.released is not None:
            return self.released
        return self.last_renewed + renew_deadline


class LeaseHistory:
    """Every version of the Lease, read from the emulated cluster's store every few milliseconds."""

    def __init__(self, cluster: ClusterHandle, namespace: str = NAMESPACE, name: str = LEASE) -> None:
        self._cluster = cluster
        self._namespace = namespace
        self._name = name
        self.records: list[LeaderRecord] = []
        self._version: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="lease-history", daemon=True)

    def __enter__(self) -> LeaseHistory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            lease = self._cluster.get("leases", self._namespace, self._name, "coordination.k8s.io", "v1")
            if lease is None or lease["metadata"]["resourceVersion"] == self._version:
                continue
            self._version = lease["metadata"]["resourceVersion"]
            self.records.append(record_of(lease))

    def holder(self) -> str:
        return self.records[-1].holder if self.records else ""

    def terms(self) -> list[Term]:
        terms: list[Term] = []
        for record in list(self.records):
            current = terms[-1] if terms else None
            renewed = epoch(record.renew_time) or 0.0
            if record.holder:
                if current is not None and current.holder == record.holder and current.released is None:
                    current.last_renewed = renewed
                else:
                    terms.append(Term(record.holder, epoch(record.acquire_time) or renewed, renewed))
            elif current is not None and current.released is None:
                current.released = renewed
        return terms

    def acquired_after(self, moment: float, other_than: str) -> Term | None:
        return next(
            (t for t in self.terms() if t.holder != other_than and t.acquired >= moment - 0.001), None
        )


def calls_outside_terms(
    emulator: EmulatorHandle, history: LeaseHistory, renew_deadline: float, identities: set[str]
) -> list[str]:
    """Every mutating AgentCore call that its caller made while not the leader (should be none)."""
    terms = history.terms()
    violations: list[str] = []
    for call in emulator.emulator.call_log():
        if call.operation not in MUTATING:
            continue
        caller = next((i for i in identities if f"agentcore-operator/{i}" in call.user_agent.split()), None)
        if caller is None:
            violations.append(f"{call.operation} at {call.at:.3f} by an unknown caller {call.user_agent!r}")
            continue
        mine = [t for t in terms if t.holder == caller]
        if not any(t.acquired <= call.at <= t.fence_end(renew_deadline) + TRANSIT_SECONDS for t in mine):
            spans = [(round(t.acquired, 3), round(t.fence_end(renew_deadline), 3)) for t in mine]
            violations.append(f"{call.operation} at {call.at:.3f} by {caller}, whose terms were {spans}")
    return violations


def wait_for(check: Callable[[], Any], timeout: float, message: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout}s: {message}")


# -- the chaos run: two replicas, sessions coming and going, the leader killed again and again


@dataclass
class ChaosReport:
    sessions: int = 0
    deleted: int = 0
    failovers: list[tuple[str, float]] = field(default_factory=list)  # (SIGTERM|SIGKILL, seconds)
    exit_codes: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    unconverged: list[str] = field(default_factory=list)
    non_leader_calls: list[str] = field(default_factory=list)
    converge_seconds: float = 0.0
    elapsed: float = 0.0

    def seconds(self, kind: str) -> list[float]:
        return sorted(s for k, s in self.failovers if k == kind)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _apply(cluster: ClusterHandle, names: list[str]) -> None:
    manifests = [
        {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSession",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"sessionTimeoutSeconds": 3600},
        }
        for name in names
    ]
    if manifests:
        cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests))


@contextmanager
def replica_pair(
    cluster: ClusterHandle, emulator: EmulatorHandle, workdir: Path, election: ElectionTiming
) -> Iterator[list[ReplicaProcess]]:
    replicas = [ReplicaProcess(slot, cluster, emulator, workdir, election) for slot in ("a", "b")]
    try:
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


def run_chaos(
    cluster: ClusterHandle,
    emulator: EmulatorHandle,
    workdir: Path,
    *,
    sessions: int,
    kills: int,
    election: ElectionTiming,
    seed: int = 14,
    converge_timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> ChaosReport:
    """Create and delete `sessions` over time while killing the leader `kills` times
    (SIGTERM and SIGKILL in turn), restarting it each time; then judge the outcome."""
    rng = random.Random(seed)
    report = ChaosReport(sessions=sessions)
    say = progress or (lambda _: None)
    names = [f"ha-{i:04}" for i in range(sessions)]
    per_round = max(1, math.ceil(sessions / (kills + 1)))
    live: list[str] = []
    deleted: set[str] = set()
    identities: set[str] = set()
    started = time.monotonic()
    with LeaseHistory(cluster) as history, replica_pair(cluster, emulator, workdir, election) as replicas:
        for replica in replicas:
            replica.start()
            identities.add(replica.identity)
        wait_for(lambda: history.holder(), 30 + election.lease_duration, "a first leader")

        def churn(batch: list[str]) -> None:
            _apply(cluster, batch)
            live.extend(batch)
            for name in rng.sample(live, k=min(len(live), rng.randint(0, max(1, per_round // 2)))):
                cluster.kubectl("delete", "codeinterpretersession", name, "--wait=false")
                live.remove(name)
                deleted.add(name)

        for kill in range(kills):
            churn(names[kill * per_round : (kill + 1) * per_round])
            time.sleep(rng.uniform(0.2, 1.0))  # the leader is mid-work when it dies
            wait_for(lambda: all(r.ready() for r in replicas), 60, "both replicas serving")
            leader_identity = history.holder()
            leader = next((r for r in replicas if r.identity == leader_identity), None)
            if leader is None:  # between terms (a release just happened): wait for the next holder
                leader_identity = wait_for(
                    lambda: next((r.identity for r in replicas if r.identity == history.holder()), None),
                    election.lease_duration + 10,
                    "a leader among the replicas",
                )
                leader = next(r for r in replicas if r.identity == leader_identity)
            sig = signal.SIGTERM if kill % 2 == 0 else signal.SIGKILL
            signalled = time.time()
            leader.send(sig)
            term = wait_for(
                lambda: history.acquired_after(signalled, leader_identity),  # noqa: B023
                election.lease_duration + 30,
                f"a new leader after {sig.name}",
            )
            report.failovers.append((sig.name, term.acquired - signalled))
            report.exit_codes.append((sig.name, leader.wait(60)))
            say(
                f"kill {kill + 1}/{kills}: {sig.name} {leader_identity}, {term.holder} leads after "
                f"{term.acquired - signalled:.2f}s"
            )
            leader.start()
            identities.add(leader.identity)
        churn(names[kills * per_round :])
        report.deleted = len(deleted)

        converge_started = time.monotonic()

        def converged() -> bool:
            bodies = {b["metadata"]["name"]: b for b in cluster.objects("codeinterpretersessions", NAMESPACE)}
            return set(bodies) == set(live) and all(
                (b.get("status") or {}).get("phase") == "Ready" for b in bodies.values()
            )

        try:
            wait_for(converged, converge_timeout, "every resource Ready, every deleted one gone", 0.5)
        except TimeoutError:
            bodies = {b["metadata"]["name"]: b for b in cluster.objects("codeinterpretersessions", NAMESPACE)}
            report.unconverged = sorted(
                f"{n}: {(bodies[n].get('status') or {}).get('phase') if n in bodies else 'missing'}"
                for n in set(live) | set(bodies)
                if n not in bodies or n not in live or (bodies[n].get("status") or {}).get("phase") != "Ready"
            )
        report.converge_seconds = time.monotonic() - converge_started
        # Let the orphan sweeps and the last Stops land before judging.
        time.sleep(3)
        for replica in replicas:
            code = replica.stop()
            report.exit_codes.append(("final SIGTERM", code if code is not None else -1))
        by_name: dict[str, list[dict[str, Any]]] = {}
        for session in emulator.sessions():
            by_name.setdefault(session["name"], []).append(session)
        for name in names:
            mine = by_name.get(f"{NAMESPACE}-{name}", [])
            if len(mine) > 1:
                report.duplicates.append(f"{name}: {len(mine)} sessions")
            if name in deleted and any(s["status"] == "READY" for s in mine):
                report.leaked.append(f"{name}: deleted, but its session is READY")
        report.non_leader_calls = calls_outside_terms(emulator, history, election.renew_deadline, identities)
    report.elapsed = time.monotonic() - started
    return report
