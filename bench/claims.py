"""Claim benchmark: a pool of 50 and 200 CodeInterpreterSessionClaims created at a steady 10 per second.

Runs, as separate processes, the emulated cluster, the AgentCore emulator (the published
30 TPS per operation, a Start READY after `--start-delay`) and the operator; fills a pool
of `--pool` sessions and waits until all are free and Ready; then creates `--claims`
claims at `--rate` per second and follows them on a watch. Prints one table:

- claim-to-Ready latency p50/p95/p99, warm and cold, from the client's side: from the
  moment the create request is sent until the benchmark's own watch sees the claim Bound;
- the fraction of claims served warm; then a burst of `--burst` claims created at once
  (more than the pool holds), whose overflow is served cold;
- AgentCore calls per claim, from the emulator's call log, over the claims' window (the
  pool's refills included: a warm claim costs its replacement's Start and Get);
- in the same run, the cold path of a plain CodeInterpreterSession (create -> its watch
  sees Ready), `--plain` of them at the same rate.

It ends with the line `warm claim to Ready p50 N ms p99 N ms`. Targets: p50 < 100 ms, p99 <
500 ms. The pool refills what the claims take (a Start and a Get each, counted in the calls
per claim), so whether a claim is served warm depends on the refill keeping pace.

    .venv/bin/python bench/claims.py
    .venv/bin/python bench/claims.py --pool 20 --claims 60 --plain 10
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from harness import (
    DEFAULT_NAMESPACE,
    GROUP_PATH,
    Watcher,
    aws_env,
    cluster_command,
    diff,
    emulator_calls,
    emulator_command,
    free_port,
    operator_command,
    percentile,
    process,
    total,
    until,
    wait_file,
)

NAMESPACE = DEFAULT_NAMESPACE
POOL_NAME = "bench"
PUBLISHED_TPS = 30.0


def pool_manifest(size: int, timeout: int) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": POOL_NAME, "namespace": NAMESPACE},
        "spec": {"replicas": size, "template": {"spec": {"sessionTimeoutSeconds": timeout}}},
    }


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as response:
        if response.status >= 300:
            raise RuntimeError(f"create failed: {response.status} {await response.text()}")
        created: dict[str, Any] = await response.json()
        return created


async def list_items(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(url) as response:
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def steady(
    session: aiohttp.ClientSession, url: str, bodies: list[dict[str, Any]], rate: float, watcher: Watcher
) -> None:
    """Create `bodies` at `rate` per second; the clock of each starts as its request is sent."""
    start = time.monotonic()
    tasks = []
    for index, body in enumerate(bodies):
        delay = start + index / rate - time.monotonic()  # rate inf: all at once
        if delay > 0:
            await asyncio.sleep(delay)
        watcher.created[body["metadata"]["name"]] = time.monotonic()
        tasks.append(asyncio.create_task(post(session, url, body)))
    await asyncio.gather(*tasks)


@dataclass
class Report:
    warm_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    plain_ms: list[float] = field(default_factory=list)
    unbound: int = 0
    burst_warm_ms: list[float] = field(default_factory=list)
    burst_cold_ms: list[float] = field(default_factory=list)
    burst_unbound: int = 0
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    plain_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    pool_fill_s: float = 0.0
    operator_buckets: dict[str, list[tuple[float, float]]] = field(
        default_factory=dict
    )  # launch -> (le, count)


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    report = Report()
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / "kubeconfig"
    base = f"http://127.0.0.1:{cluster_port}"
    endpoint = f"http://127.0.0.1:{emulator_port}"
    cluster_args = cluster_command(cluster_port, kubeconfig)
    emulator_args = emulator_command(
        emulator_port, "--tps", str(PUBLISHED_TPS), "--start-delay", str(args.start_delay)
    )
    operator_args = operator_command(
        kubeconfig, health_port, "--sweep-interval", str(args.sweep_interval), "--ledger-namespace", NAMESPACE
    )
    sessions_url = f"{base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessions"
    claims_url = f"{base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessionclaims"
    pools_url = f"{base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessionpools"
    with (
        process(cluster_args, "cluster", cluster_port, log=workdir / "cluster.log"),
        process(emulator_args, "emulator", emulator_port, log=workdir / "emulator.log"),
    ):
        wait_file(kubeconfig)
        with process(
            operator_args, "operator", health_port, env=aws_env(endpoint), log=workdir / "operator.log"
        ):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
                filled = time.monotonic()
                await post(session, pools_url, pool_manifest(args.pool, args.session_timeout))

                async def free_ready() -> int:
                    return sum(
                        1
                        for body in await list_items(session, sessions_url)
                        if (body["metadata"].get("labels") or {}).get("agentcore.dev/pool-state") == "free"
                        and (body.get("status") or {}).get("phase") == "Ready"
                    )

                async def pool_full() -> None:
                    deadline = time.monotonic() + args.fill_timeout
                    while await free_ready() < args.pool:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"the pool was not full and Ready within {args.fill_timeout}s")
                        await asyncio.sleep(0.2)

                await pool_full()
                report.pool_fill_s = time.monotonic() - filled

                async def claim_wave(
                    prefix: str, count: int, rate: float
                ) -> tuple[list[float], list[float], int]:
                    """Create `count` claims at `rate` per second, timed from their own watch:
                    (warm latencies ms, cold latencies ms, not Bound)."""
                    claims = Watcher(base, plural="codeinterpretersessionclaims", ready_phase="Bound")
                    watching = asyncio.create_task(claims.run(session))
                    await asyncio.sleep(0.5)  # the watch is open
                    bodies = [
                        {
                            "apiVersion": "agentcore.dev/v1alpha1",
                            "kind": "CodeInterpreterSessionClaim",
                            "metadata": {"name": f"{prefix}-{i:04}", "namespace": NAMESPACE},
                            "spec": {"poolRef": {"name": POOL_NAME}, "ttlSecondsUnbound": args.ttl_unbound},
                        }
                        for i in range(count)
                    ]
                    await steady(session, claims_url, bodies, rate, claims)
                    names = [b["metadata"]["name"] for b in bodies]
                    await until(
                        lambda: all(n in claims.ready or claims.phases.get(n) == "Failed" for n in names),
                        args.ready_timeout,
                    )
                    watching.cancel()
                    launches = {
                        b["metadata"]["name"]: (b.get("status") or {}).get("launchType")
                        for b in await list_items(session, claims_url)
                    }
                    warm: list[float] = []
                    cold: list[float] = []
                    for name in names:
                        if name in claims.ready:
                            latency = (claims.ready[name] - claims.created[name]) * 1000
                            (warm if launches.get(name) == "Warm" else cold).append(latency)
                    return warm, cold, sum(1 for n in names if n not in claims.ready)

                # The steady claims: the calls and the operator's histogram are theirs.
                before = await emulator_calls(session, endpoint)
                report.warm_ms, report.cold_ms, report.unbound = await claim_wave(
                    "claim", args.claims, args.rate
                )
                report.calls = diff(await emulator_calls(session, endpoint), before)
                async with session.get(f"http://127.0.0.1:{health_port}/metrics") as response:
                    report.operator_buckets = claim_buckets(await response.text())

                # A burst larger than the pool, once it has refilled: the rest are served cold.
                await pool_full()
                report.burst_warm_ms, report.burst_cold_ms, report.burst_unbound = await claim_wave(
                    "burst", args.burst, float("inf")
                )

                # The cold path of a plain session, in the same run.
                plain = Watcher(base)
                watching = asyncio.create_task(plain.run(session))
                await asyncio.sleep(0.5)
                before = await emulator_calls(session, endpoint)
                plain_bodies = [
                    {
                        "apiVersion": "agentcore.dev/v1alpha1",
                        "kind": "CodeInterpreterSession",
                        "metadata": {"name": f"plain-{i:04}", "namespace": NAMESPACE},
                        "spec": {"sessionTimeoutSeconds": args.session_timeout},
                    }
                    for i in range(args.plain)
                ]
                await steady(session, sessions_url, plain_bodies, args.rate, plain)
                plain_names = [b["metadata"]["name"] for b in plain_bodies]
                await until(lambda: all(n in plain.ready for n in plain_names), args.ready_timeout)
                report.plain_calls = diff(await emulator_calls(session, endpoint), before)
                watching.cancel()
                report.plain_ms = [
                    (plain.ready[n] - plain.created[n]) * 1000 for n in plain_names if n in plain.ready
                ]
    return report


BUCKET = re.compile(
    r'^agentcore_claim_time_to_ready_seconds_bucket\{launch="(?P<launch>\w+)",le="(?P<le>[^"]+)"\} (?P<n>\S+)$'
)


def claim_buckets(metrics: str) -> dict[str, list[tuple[float, float]]]:
    """The operator's own claim-to-Ready histogram (first watch event -> status written), by launch."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    for line in metrics.splitlines():
        match = BUCKET.match(line)
        if match:
            buckets.setdefault(match["launch"], []).append((float(match["le"]), float(match["n"])))
    return buckets


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> str:
    """The upper bound of the bucket holding the q-th quantile (as Prometheus would bound it)."""
    total_count = buckets[-1][1] if buckets else 0.0
    for le, count in buckets:
        if total_count and count >= q * total_count:
            return f"<= {le * 1000:.0f} ms" if le != float("inf") else "> last bucket"
    return "-"


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label:<36} | {0:>5} | {'-':>8} | {'-':>8} | {'-':>8} |"
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    return f"| {label:<36} | {len(values):>5} | {p50:>8.0f} | {p95:>8.0f} | {p99:>8.0f} |"


def print_table(report: Report, args: argparse.Namespace) -> None:
    claims = args.claims
    served = len(report.warm_ms) + len(report.cold_ms)
    operator_side = "; ".join(
        f"{launch} p50 {bucket_quantile(b, 0.5)}, p99 {bucket_quantile(b, 0.99)}"
        for launch, b in sorted(report.operator_buckets.items())
    )
    print(
        f"\nclaims: pool of {args.pool} (filled in {report.pool_fill_s:.1f}s), {claims} claims at "
        f"{args.rate:g}/s, emulator {PUBLISHED_TPS:g} TPS, Start READY after {args.start_delay:g}s, "
        f"sweep every {args.sweep_interval:g}s\n"
    )
    print(
        f"| {'create -> Ready, as a client sees it':<36} | {'n':>5} | {'p50 ms':>8} | {'p95 ms':>8} | {'p99 ms':>8} |"
    )
    print(f"|{'-' * 38}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    print(row("warm claim (a pooled session bound)", report.warm_ms))
    print(row("cold claim (a session started)", report.cold_ms))
    print(row(f"burst of {args.burst}: warm", report.burst_warm_ms))
    print(row(f"burst of {args.burst}: cold", report.burst_cold_ms))
    print(row("plain CodeInterpreterSession", report.plain_ms))
    print()
    warm_share = len(report.warm_ms) / claims if claims else 0.0
    print(
        f"served warm: {len(report.warm_ms)}/{claims} ({warm_share:.0%}); cold {len(report.cold_ms)}; "
        f"not Bound (Unbound or timed out): {report.unbound}"
    )
    per_claim = total(report.calls) / claims if claims else 0.0
    by_operation = ", ".join(
        f"{op} {total(report.calls, op) / claims:.2f}"
        for op in sorted(report.calls)
        if total(report.calls, op)
    )
    print(
        f"inside the operator (its histogram: first watch event -> Bound status written): {operator_side or '-'}"
    )
    print(
        f"AgentCore calls per claim: {per_claim:.2f} ({by_operation or 'none'}): the pool's refills; "
        f"a warm bind makes none; {served} served"
    )
    plain = args.plain or 1
    by_operation = ", ".join(
        f"{op} {total(report.plain_calls, op) / plain:.2f}"
        for op in sorted(report.plain_calls)
        if total(report.plain_calls, op)
    )
    print(
        f"AgentCore calls per plain session: {total(report.plain_calls) / plain:.2f} ({by_operation or 'none'})"
    )
    if report.warm_ms:
        print(
            f"warm claim to Ready p50 {percentile(report.warm_ms, 50):.0f} ms "
            f"p99 {percentile(report.warm_ms, 99):.0f} ms"
        )
    else:
        print("warm claim to Ready p50 - ms p99 - ms (no claim was served warm)")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=50, help="pool size (replicas)")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=10.0, help="claims (and plain sessions) created per second"
    )
    parser.add_argument("--burst", type=int, default=80, help="claims created at once after the steady ones")
    parser.add_argument("--plain", type=int, default=20, help="plain sessions for the cold-path comparison")
    parser.add_argument("--start-delay", type=float, default=1.0, help="emulator seconds from Start to READY")
    parser.add_argument("--session-timeout", type=int, default=3600)
    parser.add_argument("--ttl-unbound", type=int, default=60, help="each claim's ttlSecondsUnbound")
    parser.add_argument("--sweep-interval", type=float, default=10.0)
    parser.add_argument("--fill-timeout", type=float, default=120.0)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--workdir", help="keep logs and the kubeconfig here")
    args = parser.parse_args()
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(run(args, workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="agentcore-claims-") as tmp:
            report = asyncio.run(run(args, Path(tmp)))
    print_table(report, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
