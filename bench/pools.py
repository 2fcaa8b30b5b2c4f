"""Warm pool benchmark: how fast a CodeInterpreterSessionPool fills, refreshes and drains, and what it costs.

Runs the emulated cluster, the AgentCore emulator (published quotas: 30 Starts per second)
and the operator in this process (the operator in its own thread and loop), then for each
pool size: applies a pool and waits until `readyReplicas` reaches it; moves the shared
clock past the refresh point so every free session is due, and waits until all are
replaced and Ready; then scales to 0 and waits until every session is gone and stopped in
AgentCore. Prints one table: the three times, against the physical limit of N / 30 Starts
per second, and the API-server writes and AgentCore calls per pooled session.

    .venv/bin/python bench/pools.py                 # pools of 10, 50 and 200
    .venv/bin/python bench/pools.py --sizes 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from agentcore_operator.local.harness import SharedClock, running_operator
from agentcore_operator.manager.settings import Settings
from agentcore_operator.pools.decision import PoolTiming

POOLS = "codeinterpretersessionpools"
SESSIONS = "codeinterpretersessions"
STARTS_PER_SECOND = 30.0
TIMEOUT = 900
TIMING = Timing(start_poll_seconds=0.2, start_settle_seconds=0.1)


def wait(check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError("the pool did not get there in time")
        time.sleep(0.05)
    return time.monotonic() - start


def status(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    return dict((cluster.get(POOLS, "default", name) or {}).get("status") or {})


def children(cluster: ClusterHandle, name: str) -> list[dict[str, Any]]:
    return [s for s in cluster.objects(SESSIONS, "default") if s["metadata"]["name"].startswith(f"{name}-")]


def operator_writes(cluster: ClusterHandle, since: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for request in cluster.requests()[since:]:
        if "kubectl" in request["user_agent"] or request["method"] == "GET":
            continue
        path = request["path"]
        what = "pool status" if POOLS in path else "event" if "/events" in path else ""
        if not what and SESSIONS in path:
            if request["method"] == "POST":
                what = "session create"
            elif request["method"] == "DELETE":
                what = "session delete"
            else:
                what = "session status/finalizer"
        counts[what or "other"] += 1
    return counts


def run_size(
    cluster: ClusterHandle, emulator: EmulatorHandle, clock: SharedClock, size: int
) -> dict[str, Any]:
    name = f"bench-{size}"
    pool = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": size, "template": {"spec": {"sessionTimeoutSeconds": TIMEOUT}}},
    }
    limit = max(60.0, size / STARTS_PER_SECOND * 10)
    requests_before, calls_before = len(cluster.requests()), emulator.calls()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pool))
    fill = wait(lambda: status(cluster, name).get("readyReplicas") == size, limit)
    first = {c["metadata"]["name"] for c in children(cluster, name)}
    clock.advance(TIMEOUT - 60 - 30 + 1)  # every free session due: 60 s minimum left + 30 s lead

    def refreshed() -> bool:
        now = {
            c["metadata"]["name"]
            for c in children(cluster, name)
            if not c["metadata"].get("deletionTimestamp")
        }
        return not (now & first) and status(cluster, name).get("readyReplicas") == size

    refresh = wait(refreshed, limit)
    cluster.kubectl("scale", f"codeinterpretersessionpool/{name}", "--replicas=0")
    drain = wait(lambda: not children(cluster, name), limit)
    writes = operator_writes(cluster, requests_before)
    calls = emulator.calls()
    started = calls.get("StartCodeInterpreterSession", {}).get("Success", 0) - calls_before.get(
        "StartCodeInterpreterSession", {}
    ).get("Success", 0)
    total_calls = sum(sum(v.values()) for v in calls.values()) - sum(
        sum(v.values()) for v in calls_before.values()
    )
    return {
        "size": size,
        "fill": fill,
        "refresh": refresh,
        "drain": drain,
        "ideal": size / STARTS_PER_SECOND,
        "sessions": started,
        "writes": writes,
        "calls": total_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    clock = SharedClock()
    rows = []
    with running_emulator(EmulatorConfig(clock=clock.epoch)) as emulator, running_cluster() as cluster:
        settings = Settings(
            region="us-east-1",
            endpoint_url=emulator.endpoint_url,
            kubeconfig=str(cluster.kubeconfig),
            http_host="127.0.0.1",
            http_port=-1,
            sweep_interval=1.0,
            ledger_namespace="default",
            timing=TIMING,
            # The clock jumps instead of flowing: a pool's timer set for its next due session
            # would fire in real seconds, so it looks again every second instead.
            pool_timing=PoolTiming(resync_seconds=1.0),
            log_level="warning",
        )
        with running_operator(settings, clock=clock):
            for size in args.sizes:
                rows.append(run_size(cluster, emulator, clock, size))
    print()
    print(
        "| pool | fill to Ready | N/30 Starts/s | refresh all | drain to 0 | sessions started |"
        " K8s writes/session | AgentCore calls/session |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        sessions = max(1, row["sessions"])
        writes = sum(row["writes"].values()) / sessions
        print(
            f"| {row['size']} | {row['fill']:.2f} s | {row['ideal']:.2f} s | {row['refresh']:.2f} s |"
            f" {row['drain']:.2f} s | {row['sessions']} | {writes:.1f} | {row['calls'] / sessions:.1f} |"
        )
    print()
    for row in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(row["writes"].items()))
        print(f"pool {row['size']}: operator writes: {detail}")


if __name__ == "__main__":
    main()
