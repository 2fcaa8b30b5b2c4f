"""What the benchmarks share: processes on free ports, the stand-ins' and operator's command
lines, a watch that notes when each session is first seen in each phase, and small helpers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "agentcore-operator")
GROUP_PATH = "/apis/agentcore.dev/v1alpha1"
DEFAULT_NAMESPACE = "default"
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


def _cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds from a /proc `stat` file (a process's, or one thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_and_cpu(pid: int) -> tuple[float, float]:
    """Peak RSS (MB, VmHWM) and CPU seconds (user + system) of a live process."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return peak, _cpu_seconds(Path(f"/proc/{pid}/stat"))


def loop_thread_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process's main thread: an asyncio program's event
    loop. The rest of `rss_and_cpu`'s figure is its other threads' (boto3 calls, for ours)."""
    return _cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))


def wait_file(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not written")
        time.sleep(0.05)


@dataclass
class Watcher:
    """Follows the resources on a watch and notes when each was first seen in each phase
    (`ready_phase` is the one that counts as Ready: Bound for claims)."""

    base: str
    plural: str = "codeinterpretersessions"
    ready_phase: str = "Ready"
    namespace: str | None = DEFAULT_NAMESPACE  # None: every namespace, keys "namespace/name"
    on_ready: Callable[[str], None] | None = None  # told each key once, when first seen Ready
    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    throttled_in_status: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)

    async def run(self, session: aiohttp.ClientSession) -> None:
        where = f"/namespaces/{self.namespace}" if self.namespace else ""
        url = f"{self.base}{GROUP_PATH}{where}/{self.plural}"
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
        meta = body["metadata"]
        name = meta["name"] if self.namespace else f"{meta['namespace']}/{meta['name']}"
        now = time.monotonic()
        if kind == "DELETED":
            self.gone.add(name)
            return
        status = body.get("status") or {}
        phase = status.get("phase")
        if phase:
            self.phases[name] = phase
        if phase == self.ready_phase and name not in self.ready:
            self.ready[name] = now
            if self.on_ready is not None:
                self.on_ready(name)
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


async def until(predicate: Any, within: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return False


def print_rows(rows: list[tuple[str, ...]]) -> None:
    """A table in columns, the first row its header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def cluster_command(port: int, kubeconfig: Path) -> list[str]:
    """The emulated cluster, serving our CRDs, writing a kubeconfig for the operator."""
    return [
        CLI,
        "cluster",
        "--port",
        str(port),
        "--crds",
        str(REPO / "crds"),
        "--kubeconfig",
        str(kubeconfig),
    ]


def emulator_command(port: int, *options: str) -> list[str]:
    return [CLI, "emulator", "--port", str(port), *options]


def operator_command(kubeconfig: Path, health_port: int, *options: str) -> list[str]:
    return [
        CLI,
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(health_port),
        "--log-level",
        "warning",
        *options,
    ]


def aws_env(endpoint: str) -> dict[str, str]:
    """Credentials and endpoint that point an operator (or the kopf baseline) at the emulator."""
    return {
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AGENTCORE_ENDPOINT_URL": endpoint,
    }


def session_manifest(namespace: str, name: str, timeout: int) -> dict[str, Any]:
    return {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sessionTimeoutSeconds": timeout},
    }


async def for_each(items: list[Any], work: Callable[[Any], Awaitable[None]], concurrency: int = 64) -> None:
    """`work` on every item, at most `concurrency` at a time (requests to the cluster, say)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> None:
        async with semaphore:
            await work(item)

    await asyncio.gather(*(one(item) for item in items))


async def create_session(session: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> None:
    namespace = body["metadata"]["namespace"]
    url = f"{base}{GROUP_PATH}/namespaces/{namespace}/codeinterpretersessions"
    async with session.post(url, json=body) as response:
        if response.status >= 300:
            raise RuntimeError(f"create failed: {response.status} {await response.text()}")


async def delete_session(session: aiohttp.ClientSession, base: str, namespace: str, name: str) -> None:
    url = f"{base}{GROUP_PATH}/namespaces/{namespace}/codeinterpretersessions/{name}"
    async with session.delete(url) as response:
        await response.read()


async def create_namespace(session: aiohttp.ClientSession, base: str, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    async with session.post(f"{base}/api/v1/namespaces", json=body) as response:
        if response.status >= 300 and response.status != 409:
            raise RuntimeError(f"namespace {name}: {response.status} {await response.text()}")


@dataclass
class StandIns:
    """An emulated cluster, an emulator and an operator running against both."""

    http: aiohttp.ClientSession
    base: str  # the emulated cluster's URL
    endpoint: str  # the emulator's URL


@asynccontextmanager
async def operator_on_stand_ins(
    workdir: Path,
    tag: str,
    *,
    emulator_options: list[str],
    operator_options: list[str],
    namespaces: tuple[str, ...],
    before_operator: Callable[[StandIns], Awaitable[None]] | None = None,
) -> AsyncIterator[StandIns]:
    """The three processes on free ports, logs in `workdir` named by `tag`; the namespaces are
    made (and `before_operator` run) before the operator starts, which is given time to list."""
    cluster_port, emulator_port, health_port = free_port(), free_port(), free_port()
    kubeconfig = workdir / f"kubeconfig-{tag}"
    endpoint = f"http://127.0.0.1:{emulator_port}"
    base = f"http://127.0.0.1:{cluster_port}"
    with (
        process(
            cluster_command(cluster_port, kubeconfig),
            "cluster",
            cluster_port,
            log=workdir / f"cluster-{tag}.log",
        ),
        process(
            emulator_command(emulator_port, *emulator_options),
            "emulator",
            emulator_port,
            log=workdir / f"emulator-{tag}.log",
        ),
    ):
        wait_file(kubeconfig)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as http:
            stand_ins = StandIns(http, base, endpoint)
            for namespace in namespaces:
                await create_namespace(http, base, namespace)
            if before_operator is not None:
                await before_operator(stand_ins)
            with process(
                operator_command(kubeconfig, health_port, *operator_options),
                "operator",
                health_port,
                env=aws_env(endpoint),
                log=workdir / f"operator-{tag}.log",
            ):
                await asyncio.sleep(1.5)  # let the operator list and start watching
                yield stand_ins
