"""Scale benchmark: N sessions at once against the published AgentCore quotas.

Runs, as separate processes, the emulated cluster, the AgentCore emulator (30 TPS per
operation, 1,000 concurrent sessions, as published) and an operator; creates N
CodeInterpreterSession resources at once; and prints one table:

- time until all N are Ready, against the physical limit N / 30 TPS of Starts;
- time to Ready p50/p95/p99, as the benchmark saw the phases change on a watch;
- AgentCore calls per session over one hour of Ready time (see "the hour" below);
- ThrottlingException answers from AgentCore, and any Throttled reason seen in a status;
- the operator's peak RSS and CPU seconds.

The same scenario runs against bench/baseline/tutorial_operator.py (a kopf tutorial
operator) for comparison; then our operator alone holds 10,000 resources for the RSS
figure.

The hour: the operator runs with the production sweep interval (60 s). Start, the
confirming Get and Stop are counted as made; the steady state of Ready sessions (sweeps,
expiry checks) is counted over a `--steady-window` of Ready time and scaled to 3600 s.
The baseline polls every 10 s: its calls are counted over `--baseline-window`, scaled alike.

    .venv/bin/python bench/scale.py            # N=1000, with baseline and 10k RSS
    .venv/bin/python bench/scale.py --n 200 --no-baseline --no-10k
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "agentcore-operator")
KOPF = str(Path(sys.executable).parent / "kopf")
GROUP_PATH = "/apis/agentcore.dev/v1alpha1"
NAMESPACE = "default"
PUBLISHED_TPS = 30.0
PRODUCTION_SWEEP_SECONDS = 60.0
BASELINE_INTERVAL = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


@contextmanager
def process(
    args: list[str], what: str, port: int | None, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        if port is not None:
            wait_port(port, proc, what)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def rss_and_cpu(pid: int) -> tuple[float, float]:
    """Peak RSS (MB, VmHWM) and CPU seconds (user + system) of a live process."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return peak, cpu


def manifest(index: int, timeout: int) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": f"bench-{index:05}", "namespace": NAMESPACE},
        "spec": {"sessionTimeoutSeconds": timeout},
    }


@dataclass
class Watcher:
    """Follows the resources on a watch and notes when each was first seen in each phase."""

    base: str
    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    throttled_in_status: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)

    async def run(self, session: aiohttp.ClientSession) -> None:
        url = f"{self.base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessions"
        async with session.get(url) as response:
            listing = await response.json()
        version = listing["metadata"]["resourceVersion"]
        while True:
            params = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true"}
            async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as stream:
                async for line in stream.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    body = event["object"]
                    version = body["metadata"].get("resourceVersion", version)
                    if event["type"] == "BOOKMARK":
                        continue
                    self.note(event["type"], body)

    def note(self, kind: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        now = time.monotonic()
        if kind == "DELETED":
            self.gone.add(name)
            return
        status = body.get("status") or {}
        phase = status.get("phase")
        if phase:
            self.phases[name] = phase
        if phase == "Ready" and name not in self.ready:
            self.ready[name] = now
        for condition in status.get("conditions") or []:
            if condition.get("reason") == "Throttled":
                self.throttled_in_status.add(name)


async def emulator_calls(session: aiohttp.ClientSession, endpoint: str) -> dict[str, dict[str, int]]:
    async with session.get(f"{endpoint}/_emulator/calls") as response:
        counts: dict[str, dict[str, int]] = (await response.json())["counts"]
        return counts


def total(counts: dict[str, dict[str, int]], operation: str | None = None, outcome: str | None = None) -> int:
    return sum(
        n
        for op, outcomes in counts.items()
        if operation is None or op == operation
        for out, n in outcomes.items()
        if outcome is None or out == outcome
    )


def diff(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        op: {out: n - before.get(op, {}).get(out, 0) for out, n in outcomes.items()}
        for op, outcomes in after.items()
    }


async def create_all(
    session: aiohttp.ClientSession, base: str, n: int, lifetime: int, watcher: Watcher
) -> None:
    url = f"{base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessions"
    semaphore = asyncio.Semaphore(64)

    async def create(index: int) -> None:
        async with semaphore:
            body = manifest(index, lifetime)
            watcher.created[body["metadata"]["name"]] = time.monotonic()
            async with session.post(url, json=body) as response:
                if response.status >= 300:
                    raise RuntimeError(f"create failed: {response.status} {await response.text()}")

    await asyncio.gather(*(create(i) for i in range(n)))


async def delete_all(session: aiohttp.ClientSession, base: str, names: list[str]) -> None:
    semaphore = asyncio.Semaphore(64)

    async def delete(name: str) -> None:
        async with semaphore:
            url = f"{base}{GROUP_PATH}/namespaces/{NAMESPACE}/codeinterpretersessions/{name}"
            async with session.delete(url) as response:
                await response.read()

    await asyncio.gather(*(delete(name) for name in names))


async def until(predicate: Any, within: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Result:
    label: str
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
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)


async def scenario(args: argparse.Namespace, label: str, workdir: Path, baseline: bool) -> Result:
    n = args.n
    result = Result(label, n)
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / f"kubeconfig-{label}"
    cluster_args = [
        CLI,
        "cluster",
        "--port",
        str(cluster_port),
        "--crds",
        str(REPO / "crds"),
        "--kubeconfig",
        str(kubeconfig),
    ]
    emulator_args = [
        CLI,
        "emulator",
        "--port",
        str(emulator_port),
        "--tps",
        str(PUBLISHED_TPS),
        "--max-sessions",
        "1000",
        "--start-delay",
        str(args.start_delay),
    ]
    endpoint = f"http://127.0.0.1:{emulator_port}"
    base = f"http://127.0.0.1:{cluster_port}"
    aws_env = {
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AGENTCORE_ENDPOINT_URL": endpoint,
    }
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
            **aws_env,
            "BASELINE_TIMER_INTERVAL": str(BASELINE_INTERVAL),
            "KUBECONFIG": str(kubeconfig),
        }
        operator_port = None
    else:
        operator_args = [
            CLI,
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(health_port),
            "--sweep-interval",
            str(args.sweep_interval),
            "--ledger-namespace",
            NAMESPACE,
            "--log-level",
            "warning",
        ]
        operator_env = aws_env
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
                watcher = Watcher(base)
                watch = asyncio.create_task(watcher.run(session))
                await asyncio.sleep(0.3)
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

                # Steady state: what a Ready session costs while it lives.
                if baseline:
                    await asyncio.sleep(args.baseline_window)
                    window = diff(await emulator_calls(session, endpoint), at_ready)
                    scale = 3600.0 / args.baseline_window
                    steady = {op: total(window, op) * scale for op in window}
                    result.notes.append(
                        f"baseline steady state measured over {args.baseline_window:g}s, x{scale:g}"
                    )
                else:
                    await asyncio.sleep(args.steady_window)
                    window = diff(await emulator_calls(session, endpoint), at_ready)
                    scale = 3600.0 / args.steady_window
                    steady = {op: total(window, op) * scale for op in window}
                    result.notes.append(
                        f"steady state measured over {args.steady_window:g}s of Ready time with sweeps every "
                        f"{args.sweep_interval:g}s, x{scale:g}"
                    )
                result.peak_rss_mb, result.cpu_s = rss_and_cpu(operator.pid)

                names = list(watcher.created)
                before_delete = await emulator_calls(session, endpoint)
                await delete_all(session, base, names)
                await until(lambda: len(watcher.gone) >= n, args.ready_timeout)
                after = await emulator_calls(session, endpoint)
                deleting = diff(after, before_delete)
                watch.cancel()
                async with session.get(f"{endpoint}/_emulator/sessions") as response:
                    sessions = (await response.json())["sessions"]
                result.stopped = sum(1 for s in sessions if s["stoppedAt"] is not None)
                rss, cpu = rss_and_cpu(operator.pid)
                result.peak_rss_mb, result.cpu_s = max(result.peak_rss_mb, rss), cpu
                result.throttles = total(after, outcome="ThrottlingException")
                result.throttled_in_status = len(watcher.throttled_in_status)
                operations = sorted(set(at_ready) | set(steady) | set(deleting))
                result.calls_per_session_hour = {
                    op: (total(at_ready, op) + steady.get(op, 0.0) + total(deleting, op)) / n
                    for op in operations
                }
    return result


async def memory_at(args: argparse.Namespace, workdir: Path, n: int) -> tuple[float, float]:
    """Our operator holding n resources (AgentCore unthrottled here: this measures memory only)."""
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / f"kubeconfig-mem-{n}"
    endpoint = f"http://127.0.0.1:{emulator_port}"
    base = f"http://127.0.0.1:{cluster_port}"
    env = {
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AGENTCORE_ENDPOINT_URL": endpoint,
    }
    with (
        process(
            [
                CLI,
                "cluster",
                "--port",
                str(cluster_port),
                "--crds",
                str(REPO / "crds"),
                "--kubeconfig",
                str(kubeconfig),
            ],
            "cluster",
            cluster_port,
            log=workdir / f"cluster-mem-{n}.log",
        ),
        process(
            [CLI, "emulator", "--port", str(emulator_port), "--tps", "0", "--max-sessions", str(n)],
            "emulator",
            emulator_port,
        ),
    ):
        wait_file(kubeconfig)
        operator_args = [
            CLI,
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(health_port),
            "--ledger-namespace",
            NAMESPACE,
            "--log-level",
            "warning",
            "--tps",
            "StartCodeInterpreterSession=1000",
            "--tps",
            "GetCodeInterpreterSession=1000",
        ]
        with process(
            operator_args, "operator", health_port, env=env, log=workdir / f"operator-mem-{n}.log"
        ) as op:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
                watcher = Watcher(base)
                watch = asyncio.create_task(watcher.run(session))
                await asyncio.sleep(0.3)
                await create_all(session, base, n, 3600, watcher)
                await until(lambda: len(watcher.ready) >= n, max(120.0, n / 50))
                await asyncio.sleep(2.0)
                watch.cancel()
                rss, cpu = rss_and_cpu(op.pid)
                if len(watcher.ready) < n:
                    print(f"  note: {len(watcher.ready)}/{n} Ready when RSS was read", file=sys.stderr)
                return rss, cpu


def wait_file(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not written")
        time.sleep(0.05)


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "not reached"
    return f"{value:.{digits}f}{unit}"


def print_table(
    results: list[Result], args: argparse.Namespace, memory: dict[int, tuple[float, float]]
) -> None:
    limit = args.n / PUBLISHED_TPS
    rows: list[tuple[str, ...]] = [("metric", *(r.label for r in results))]
    rows.append(("sessions created at once", *(str(r.n) for r in results)))
    rows.append(("physical limit N/30 TPS", *(f"{limit:.1f}s" for _ in results)))
    rows.append(
        (
            "time until all Ready",
            *(
                fmt(r.all_ready_s, "s") if r.all_ready_s is not None else f"{r.ready_count}/{r.n} Ready"
                for r in results
            ),
        )
    )
    rows.append(
        (
            "  ratio to physical limit",
            *(f"{r.all_ready_s / limit:.2f}x" if r.all_ready_s is not None else "-" for r in results),
        )
    )
    rows.append(
        ("time to Ready p50 / p95 / p99", *(f"{r.p50:.1f} / {r.p95:.1f} / {r.p99:.1f}s" for r in results))
    )
    operations = sorted({op for r in results for op in r.calls_per_session_hour})
    for op in operations:
        rows.append(
            (f"calls/session/hour {op}", *(f"{r.calls_per_session_hour.get(op, 0.0):.2f}" for r in results))
        )
    rows.append(
        ("calls/session/hour (all)", *(f"{sum(r.calls_per_session_hour.values()):.2f}" for r in results))
    )
    rows.append(("ThrottlingException from AgentCore", *(str(r.throttles) for r in results)))
    rows.append(("resources with Throttled in status", *(str(r.throttled_in_status) for r in results)))
    rows.append(("sessions stopped on delete", *(f"{r.stopped}/{r.n}" for r in results)))
    rows.append(("operator peak RSS", *(f"{r.peak_rss_mb:.0f} MB" for r in results)))
    rows.append(("operator CPU seconds", *(f"{r.cpu_s:.1f}" for r in results)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    for result in results:
        for note in result.notes:
            print(f"note ({result.label}): {note}")
    if memory:
        print()
        print("resources held  peak RSS   CPU seconds")
        for count, (rss, cpu) in sorted(memory.items()):
            print(f"{count:>14}  {rss:>5.0f} MB  {cpu:>11.1f}")


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="agentcore-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [await scenario(args, "agentcore-operator", workdir, baseline=False)]
        if args.baseline:
            results.append(await scenario(args, "kopf tutorial baseline", workdir, baseline=True))
        memory: dict[int, tuple[float, float]] = {}
        memory[args.n] = await memory_at(args, workdir, args.n)
        if args.ten_k:
            memory[10_000] = await memory_at(args, workdir, 10_000)
        print_table(results, args, memory)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="sessions created at once")
    parser.add_argument("--session-timeout", type=int, default=3600, help="sessionTimeoutSeconds of each")
    parser.add_argument("--start-delay", type=float, default=1.0, help="emulator seconds from Start to READY")
    parser.add_argument(
        "--sweep-interval", type=float, default=PRODUCTION_SWEEP_SECONDS, help="operator's sweep interval"
    )
    parser.add_argument("--steady-window", type=float, default=120.0, help="seconds of Ready time measured")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--baseline-ready-timeout", type=float, default=120.0)
    parser.add_argument("--baseline-window", type=float, default=30.0)
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--no-10k", dest="ten_k", action="store_false", help="skip the 10,000-resource RSS run"
    )
    parser.add_argument("--workdir", help="keep logs and kubeconfigs here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
