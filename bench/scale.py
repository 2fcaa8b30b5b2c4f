"""Scale benchmark: N sessions at once against the published AgentCore quotas.

Runs, as separate processes, the emulated cluster, the AgentCore emulator (30 TPS per
operation, 1,000 concurrent sessions, as published) and an operator; creates N
CodeInterpreterSession resources at once; and prints one table:

- time until all N are Ready, against the physical limit N / 30 TPS of Starts;
- time to Ready p50/p95/p99, as the benchmark saw the phases change on a watch;
- AgentCore calls per session over one hour of Ready time (see "the hour" below);
- ThrottlingException answers from AgentCore, and any Throttled reason seen in a status;
- API-server writes per session lifecycle (create, Ready, delete), split into status,
  finalizer, events and ledger ConfigMaps, from the emulated cluster's request log;
- the operator's CPU seconds per 1,000 session lifecycles (from the first create until the
  last resource is gone, the steady-state window left out; startup left out), its ratio to
  the baseline's, the share of it on the event loop's thread (the rest is threads: boto3's
  calls, for ours), and its CPU in the steady state; its peak RSS.

Our operator runs `--runs` times (3 by default, each with fresh processes) and the table
gives each time until all Ready and the median; only the first run measures the steady
state. The same scenario runs once against bench/baseline/tutorial_operator.py (a kopf
tutorial operator) for comparison; then our operator alone holds 10,000 resources for the
RSS figure, read once all 10,000 are Ready.

`--profile` samples the operator of the first run with py-spy (`--gil`) from the first
create until the last resource is gone, writes the collapsed stacks and an SVG flame
graph (`--workdir`, or the current directory) and prints the top components.

The hour: the operator runs with the production sweep interval (60 s). Start, the
confirming Get and Stop are counted as made; the steady state of Ready sessions (sweeps,
expiry checks) is counted over a `--steady-window` of Ready time and scaled to 3600 s.
The baseline polls every 10 s: its calls are counted over `--baseline-window`, scaled alike.

    .venv/bin/python bench/scale.py            # N=1000, with baseline and 10k RSS
    .venv/bin/python bench/scale.py --n 200 --no-baseline --no-10k
    .venv/bin/python bench/scale.py --n 300 --runs 1 --steady-window 30 --no-baseline --no-10k --profile
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import flamegraph
from harness import (
    DEFAULT_NAMESPACE,
    REPO,
    Watcher,
    aws_env,
    cluster_command,
    create_session,
    delete_session,
    diff,
    emulator_calls,
    emulator_command,
    for_each,
    free_port,
    loop_thread_cpu,
    operator_command,
    percentile,
    print_rows,
    process,
    rss_and_cpu,
    session_manifest,
    total,
    until,
    wait_file,
)

KOPF = str(Path(sys.executable).parent / "kopf")
NAMESPACE = DEFAULT_NAMESPACE
PUBLISHED_TPS = 30.0
PRODUCTION_SWEEP_SECONDS = 60.0
BASELINE_INTERVAL = 10.0


async def create_all(
    session: aiohttp.ClientSession, base: str, n: int, lifetime: int, watcher: Watcher
) -> None:
    async def create(index: int) -> None:
        body = session_manifest(NAMESPACE, f"bench-{index:05}", lifetime)
        watcher.created[body["metadata"]["name"]] = time.monotonic()
        await create_session(session, base, body)

    await for_each(list(range(n)), create)


async def delete_all(session: aiohttp.ClientSession, base: str, names: list[str]) -> None:
    await for_each(names, lambda name: delete_session(session, base, NAMESPACE, name))


SETTLE_SECONDS = 2.0

# Writes of an operator, by what they change; the benchmark's own creates and deletes are no
# operator's writes and match none of these.
WRITE_KINDS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("status", "PATCH PUT", re.compile(r"/codeinterpretersessions/[^/]+/status$")),
    ("finalizer", "PATCH PUT", re.compile(r"/codeinterpretersessions/[^/]+$")),
    ("events", "POST PATCH PUT", re.compile(r"/events(/[^/]+)?$")),
    ("ledger ConfigMaps", "POST PATCH PUT DELETE", re.compile(r"/configmaps(/[^/]+)?$")),
)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OWN_WRITE = re.compile(r"/codeinterpretersessions(/[^/]+)?$")  # the benchmark's POST and DELETE


def write_kind(method: str, path: str) -> str | None:
    if method not in WRITE_METHODS:
        return None
    for kind, methods, pattern in WRITE_KINDS:
        if method in methods.split() and pattern.search(path):
            return kind
    if method in ("POST", "DELETE") and OWN_WRITE.search(path):
        return None
    return "other"


class RequestLog:
    """The emulated cluster's request log, fetched at checkpoints (it keeps the newest 50,000)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: dict[tuple[float, str, str, str], dict[str, Any]] = {}

    async def fetch(self, session: aiohttp.ClientSession) -> None:
        async with session.get(f"{self.base}/_cluster/requests") as response:
            for request in (await response.json())["requests"]:
                key = (request["at"], request["method"], request["path"], request["query"])
                self.seen[key] = request

    def writes(self, windows: list[tuple[float, float]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for request in self.seen.values():
            if any(start <= request["at"] <= end for start, end in windows):
                kind = write_kind(request["method"], request["path"])
                if kind is not None:
                    counts[kind] += 1
        return counts


@dataclass
class Run:
    """One run of the scenario: fresh cluster, emulator and operator."""

    n: int
    all_ready_s: float | None = None
    ready_count: int = 0
    p50: float = float("nan")
    p95: float = float("nan")
    p99: float = float("nan")
    calls_per_session_hour: dict[str, float] = field(default_factory=dict)
    throttles: int = 0
    throttled_in_status: int = 0
    stopped: int = 0
    gone: int = 0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0  # the process's whole life, startup included
    lifecycle_cpu_s: float = 0.0  # first create to last gone, the steady window left out
    lifecycle_loop_cpu_s: float = 0.0  # the part of it on the event loop's thread
    steady_cpu_s: float | None = None
    steady_window_s: float = 0.0
    writes: Counter[str] = field(default_factory=Counter)  # during the lifecycle windows
    steady_writes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    label: str
    n: int
    runs: list[Run] = field(default_factory=list)

    @property
    def first(self) -> Run:
        return self.runs[0]

    def median_ready(self) -> float | None:
        times = [r.all_ready_s for r in self.runs]
        if any(t is None for t in times):
            return None
        return statistics.median(t for t in times if t is not None)

    def lifecycle_cpu_per_1000(self) -> float:
        return statistics.median(r.lifecycle_cpu_s * 1000 / r.n for r in self.runs)

    def loop_share(self) -> float:
        return statistics.median(r.lifecycle_loop_cpu_s / max(r.lifecycle_cpu_s, 1e-9) for r in self.runs)

    def writes_per_session(self, kind: str | None = None) -> float:
        return statistics.median(
            (sum(r.writes.values()) if kind is None else r.writes.get(kind, 0)) / r.n for r in self.runs
        )


async def scenario(
    args: argparse.Namespace,
    label: str,
    workdir: Path,
    baseline: bool,
    *,
    steady: bool = True,
    profile: Path | None = None,
) -> Run:
    n = args.n
    result = Run(n)
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / f"kubeconfig-{label}"
    cluster_args = cluster_command(cluster_port, kubeconfig)
    emulator_args = emulator_command(
        emulator_port,
        "--tps",
        str(PUBLISHED_TPS),
        "--max-sessions",
        "1000",
        "--start-delay",
        str(args.start_delay),
    )
    endpoint = f"http://127.0.0.1:{emulator_port}"
    base = f"http://127.0.0.1:{cluster_port}"
    if baseline:
        operator_args = [
            KOPF,
            "run",
            str(REPO / "bench/baseline/tutorial_operator.py"),
            "--standalone",
            "--all-namespaces",
            "--quiet",
        ]  # kopf finds the cluster through KUBECONFIG
        operator_env = {
            **aws_env(endpoint),
            "BASELINE_TIMER_INTERVAL": str(BASELINE_INTERVAL),
            "KUBECONFIG": str(kubeconfig),
        }
        operator_port = None
    else:
        operator_args = operator_command(
            kubeconfig,
            health_port,
            "--sweep-interval",
            str(args.sweep_interval),
            "--ledger-namespace",
            NAMESPACE,
        )
        operator_env = aws_env(endpoint)
        operator_port = health_port
    with (
        process(cluster_args, "cluster", cluster_port, log=workdir / f"cluster-{label}.log"),
        process(emulator_args, "emulator", emulator_port, log=workdir / f"emulator-{label}.log"),
    ):
        wait_file(kubeconfig)
        with process(
            operator_args, "operator", operator_port, env=operator_env, log=workdir / f"operator-{label}.log"
        ) as operator:
            await asyncio.sleep(1.5)  # let the operator list and start watching
            if operator.poll() is not None:
                log = workdir / f"operator-{label}.log"
                raise RuntimeError(f"{label} exited with {operator.returncode}; see {log}")
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
                requests = RequestLog(base)
                watcher = Watcher(base)
                watch = asyncio.create_task(watcher.run(session))
                await asyncio.sleep(0.3)
                sampler = flamegraph.start(operator.pid, profile) if profile is not None else None
                _, cpu_at_start = rss_and_cpu(operator.pid)
                loop_at_start = loop_thread_cpu(operator.pid)
                wall_at_start = time.time()
                started = time.monotonic()
                await create_all(session, base, n, args.session_timeout, watcher)
                limit = args.ready_timeout if not baseline else args.baseline_ready_timeout
                all_ready = await until(lambda: len(watcher.ready) >= n, limit)
                result.ready_count = len(watcher.ready)
                if all_ready:
                    result.all_ready_s = max(watcher.ready.values()) - started
                latencies = [watcher.ready[k] - watcher.created[k] for k in watcher.ready]
                result.p50, result.p95, result.p99 = (percentile(latencies, q) for q in (50, 95, 99))
                at_ready = await emulator_calls(session, endpoint)
                await asyncio.sleep(SETTLE_SECONDS)  # the writes that follow the last Ready
                await requests.fetch(session)
                _, cpu_at_ready = rss_and_cpu(operator.pid)
                loop_at_ready = loop_thread_cpu(operator.pid)
                wall_at_ready = time.time()

                # Steady state: what a Ready session costs while it lives.
                window_s = args.baseline_window if baseline else args.steady_window
                steady_calls: dict[str, float] = {}
                if steady:
                    await asyncio.sleep(window_s)
                    window = diff(await emulator_calls(session, endpoint), at_ready)
                    scale = 3600.0 / window_s
                    steady_calls = {op: total(window, op) * scale for op in window}
                    if baseline:
                        result.notes.append(f"baseline steady state measured over {window_s:g}s, x{scale:g}")
                    else:
                        result.notes.append(
                            f"steady state measured over {window_s:g}s of Ready time with sweeps every "
                            f"{args.sweep_interval:g}s, x{scale:g}"
                        )
                _, cpu_at_steady_end = rss_and_cpu(operator.pid)
                loop_at_steady_end = loop_thread_cpu(operator.pid)
                wall_at_steady_end = time.time()
                result.peak_rss_mb, _ = rss_and_cpu(operator.pid)

                names = list(watcher.created)
                before_delete = await emulator_calls(session, endpoint)
                await delete_all(session, base, names)
                await until(lambda: len(watcher.gone) >= n, args.ready_timeout)
                result.gone = len(watcher.gone)
                after = await emulator_calls(session, endpoint)
                await asyncio.sleep(SETTLE_SECONDS)  # ledger flushes and last events
                await requests.fetch(session)
                _, cpu_at_end = rss_and_cpu(operator.pid)
                loop_at_end = loop_thread_cpu(operator.pid)
                wall_at_end = time.time()
                if sampler is not None and profile is not None:
                    error = flamegraph.stop(sampler, profile)
                    if error is not None:
                        result.notes.append(f"py-spy wrote no profile: {error[-300:]}")
                deleting = diff(after, before_delete)
                watch.cancel()
                async with session.get(f"{endpoint}/_emulator/sessions") as response:
                    sessions = (await response.json())["sessions"]
                result.stopped = sum(1 for s in sessions if s["stoppedAt"] is not None)
                rss, cpu = rss_and_cpu(operator.pid)
                result.peak_rss_mb, result.cpu_s = max(result.peak_rss_mb, rss), cpu
                result.lifecycle_cpu_s = (cpu_at_ready - cpu_at_start) + (cpu_at_end - cpu_at_steady_end)
                result.lifecycle_loop_cpu_s = (loop_at_ready - loop_at_start) + (
                    loop_at_end - loop_at_steady_end
                )
                result.writes = requests.writes(
                    [(wall_at_start, wall_at_ready), (wall_at_steady_end, wall_at_end)]
                )
                if steady:
                    result.steady_cpu_s = cpu_at_steady_end - cpu_at_ready
                    result.steady_window_s = wall_at_steady_end - wall_at_ready
                    result.steady_writes = requests.writes([(wall_at_ready, wall_at_steady_end)])
                result.throttles = total(after, outcome="ThrottlingException")
                result.throttled_in_status = len(watcher.throttled_in_status)
                operations = sorted(set(at_ready) | set(steady_calls) | set(deleting))
                result.calls_per_session_hour = {
                    op: (total(at_ready, op) + steady_calls.get(op, 0.0) + total(deleting, op)) / n
                    for op in operations
                }
    return result


@dataclass
class Memory:
    held: int
    ready: int
    seconds: float
    rss_mb: float
    cpu_s: float


async def memory_at(args: argparse.Namespace, workdir: Path, n: int) -> Memory:
    """Our operator holding n resources, read once all n are Ready (or at `--memory-timeout`).

    AgentCore is unthrottled here and the operator's rate limits raised: this measures memory,
    not the quota's pace.
    """
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / f"kubeconfig-mem-{n}"
    endpoint = f"http://127.0.0.1:{emulator_port}"
    base = f"http://127.0.0.1:{cluster_port}"
    env = aws_env(endpoint)
    with (
        process(
            cluster_command(cluster_port, kubeconfig),
            "cluster",
            cluster_port,
            log=workdir / f"cluster-mem-{n}.log",
        ),
        process(
            emulator_command(emulator_port, "--tps", "0", "--max-sessions", str(n)),
            "emulator",
            emulator_port,
        ),
    ):
        wait_file(kubeconfig)
        operator_args = operator_command(
            kubeconfig,
            health_port,
            "--ledger-namespace",
            NAMESPACE,
            "--tps",
            "StartCodeInterpreterSession=1000",
            "--tps",
            "GetCodeInterpreterSession=1000",
        )
        with process(
            operator_args, "operator", health_port, env=env, log=workdir / f"operator-mem-{n}.log"
        ) as op:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
                watcher = Watcher(base)
                watch = asyncio.create_task(watcher.run(session))
                await asyncio.sleep(0.3)
                started = time.monotonic()
                await create_all(session, base, n, 3600, watcher)
                await until(lambda: len(watcher.ready) >= n, max(args.memory_timeout, n / 50))
                took = time.monotonic() - started
                await asyncio.sleep(2.0)
                watch.cancel()
                rss, cpu = rss_and_cpu(op.pid)
                return Memory(n, len(watcher.ready), took, rss, cpu)


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "not reached"
    return f"{value:.{digits}f}{unit}"


def ready_cell(run: Run) -> str:
    return fmt(run.all_ready_s, "s") if run.all_ready_s is not None else f"{run.ready_count}/{run.n} Ready"


def print_table(results: list[Result], args: argparse.Namespace, memory: list[Memory]) -> None:
    limit = args.n / PUBLISHED_TPS
    ours = results[0]
    baseline = results[1] if len(results) > 1 else None
    rows: list[tuple[str, ...]] = [("metric", *(r.label for r in results))]
    rows.append(("sessions created at once", *(str(r.n) for r in results)))
    rows.append(("physical limit N/30 TPS", *(f"{limit:.1f}s" for _ in results)))
    rows.append(("time until all Ready, each run", *(" / ".join(map(ready_cell, r.runs)) for r in results)))
    rows.append(("time until all Ready, median", *(fmt(r.median_ready(), "s") for r in results)))
    rows.append(
        (
            "  ratio to physical limit",
            *(f"{m / limit:.2f}x" if (m := r.median_ready()) is not None else "-" for r in results),
        )
    )
    rows.append(
        (
            "time to Ready p50 / p95 / p99 (run 1)",
            *(f"{r.first.p50:.1f} / {r.first.p95:.1f} / {r.first.p99:.1f}s" for r in results),
        )
    )
    operations = sorted({op for r in results for op in r.first.calls_per_session_hour})
    for op in operations:
        rows.append(
            (
                f"calls/session/hour {op}",
                *(f"{r.first.calls_per_session_hour.get(op, 0.0):.2f}" for r in results),
            )
        )
    rows.append(
        (
            "calls/session/hour (all)",
            *(f"{sum(r.first.calls_per_session_hour.values()):.2f}" for r in results),
        )
    )
    rows.append(
        ("ThrottlingException from AgentCore", *(str(sum(x.throttles for x in r.runs)) for r in results))
    )
    rows.append(
        (
            "resources with Throttled in status",
            *(str(sum(x.throttled_in_status for x in r.runs)) for r in results),
        )
    )
    rows.append(
        ("sessions stopped on delete", *(" / ".join(f"{x.stopped}/{x.n}" for x in r.runs) for r in results))
    )
    rows.append(
        ("API-server writes per session lifecycle", *(f"{r.writes_per_session():.2f}" for r in results))
    )
    kinds = [kind for kind, _, _ in WRITE_KINDS] + ["other"]
    for kind in kinds:
        if any(x.writes.get(kind) for r in results for x in r.runs):
            rows.append((f"  {kind}", *(f"{r.writes_per_session(kind):.2f}" for r in results)))
    rows.append(
        (
            "API-server writes per session-hour, steady",
            *(
                f"{sum(r.first.steady_writes.values()) * 3600 / r.first.steady_window_s / r.n:.2f}"
                if r.first.steady_window_s
                else "-"
                for r in results
            ),
        )
    )
    rows.append(
        (
            "operator CPU s per 1,000 session lifecycles",
            *(
                f"{r.lifecycle_cpu_per_1000():.1f} ("
                + " / ".join(f"{x.lifecycle_cpu_s * 1000 / x.n:.1f}" for x in r.runs)
                + ")"
                for r in results
            ),
        )
    )
    if baseline is not None:
        ratio = ours.lifecycle_cpu_per_1000() / max(baseline.lifecycle_cpu_per_1000(), 1e-9)
        rows.append(("  ratio to the baseline", f"{ratio:.2f}x", "1.00x"))
    rows.append(
        (
            "  on the event loop's thread (the rest: threads)",
            *(f"{100 * r.loop_share():.0f}%" for r in results),
        )
    )
    rows.append(
        (
            "operator CPU s per 1,000 Ready sessions per hour",
            *(
                f"{r.first.steady_cpu_s * 3600 / r.first.steady_window_s * 1000 / r.n:.1f}"
                if r.first.steady_cpu_s is not None and r.first.steady_window_s
                else "-"
                for r in results
            ),
        )
    )
    rows.append(("operator peak RSS", *(f"{max(x.peak_rss_mb for x in r.runs):.0f} MB" for r in results)))
    rows.append(("operator CPU seconds, whole run 1", *(f"{r.first.cpu_s:.1f}" for r in results)))
    print()
    print_rows(rows)
    for result in results:
        for run in result.runs:
            for note in run.notes:
                print(f"note ({result.label}): {note}")
    print(
        "note: lifecycle = first create to last resource gone, the steady window and startup left out; "
        "writes counted from the emulated cluster's request log"
    )
    # The operator inherits this environment: these say which HTTP clients carried its requests.
    kube_http = os.environ.get("AGENTCORE_KUBE_HTTP_CLIENT") or "builtin"
    aws_http = os.environ.get("AGENTCORE_AWS_HTTP_CLIENT") or "builtin"
    aws_calls = os.environ.get("AGENTCORE_AWS_CALLS") or "direct"
    print(
        f"note: operator HTTP clients: API server {kube_http} (AGENTCORE_KUBE_HTTP_CLIENT), "
        f"AgentCore {aws_http} (AGENTCORE_AWS_HTTP_CLIENT), session calls {aws_calls} (AGENTCORE_AWS_CALLS)"
    )
    if memory:
        print()
        print("resources held  Ready when read  seconds  peak RSS   CPU seconds")
        for m in memory:
            print(f"{m.held:>14}  {m.ready:>15}  {m.seconds:>7.0f}  {m.rss_mb:>5.0f} MB  {m.cpu_s:>11.1f}")


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="agentcore-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        profile_dir = Path(args.workdir) if args.workdir else Path.cwd()
        profile = profile_dir / "operator-profile.txt" if args.profile else None
        if profile is not None and not flamegraph.available():
            raise SystemExit("--profile needs py-spy: pip install py-spy (it is in the dev extra)")
        ours = Result("agentcore-operator", args.n)
        for index in range(args.runs):
            run = await scenario(
                args,
                f"agentcore-operator-{index + 1}",
                workdir,
                baseline=False,
                steady=index == 0,
                profile=profile if index == 0 else None,
            )
            ours.runs.append(run)
            print(
                f"run {index + 1}: all Ready {ready_cell(run)}, "
                f"lifecycle CPU {run.lifecycle_cpu_s:.1f}s, writes {sum(run.writes.values())}",
                file=sys.stderr,
            )
        results = [ours]
        if args.baseline:
            base = Result("kopf tutorial baseline", args.n)
            base.runs.append(await scenario(args, "kopf-tutorial-baseline", workdir, baseline=True))
            results.append(base)
        memory: list[Memory] = []
        if args.memory:
            memory.append(await memory_at(args, workdir, args.n))
        if args.ten_k:
            memory.append(await memory_at(args, workdir, 10_000))
        print_table(results, args, memory)
        if profile is not None and profile.exists():
            stacks = flamegraph.read_stacks(profile)
            svg = profile.with_suffix(".svg")
            flamegraph.render_svg(stacks, svg, f"agentcore-operator, {args.n} sessions, py-spy --gil")
            print()
            print(f"profile of run 1 (py-spy --gil): {profile} (collapsed stacks), {svg} (flame graph)")
            print("\n".join(flamegraph.report(stacks)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="sessions created at once")
    parser.add_argument("--runs", type=int, default=3, help="runs of our operator (the median is reported)")
    parser.add_argument("--session-timeout", type=int, default=3600, help="sessionTimeoutSeconds of each")
    parser.add_argument("--start-delay", type=float, default=1.0, help="emulator seconds from Start to READY")
    parser.add_argument(
        "--sweep-interval", type=float, default=PRODUCTION_SWEEP_SECONDS, help="operator's sweep interval"
    )
    parser.add_argument("--steady-window", type=float, default=120.0, help="seconds of Ready time measured")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--baseline-ready-timeout", type=float, default=120.0)
    parser.add_argument("--baseline-window", type=float, default=30.0)
    parser.add_argument("--memory-timeout", type=float, default=600.0, help="wait this long for 10,000 Ready")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--no-10k", dest="ten_k", action="store_false", help="skip the 10,000-resource RSS run"
    )
    parser.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the N-resource RSS run"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy --gil flame graph of run 1")
    parser.add_argument("--workdir", help="keep logs, kubeconfigs and the profile here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
