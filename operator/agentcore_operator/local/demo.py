"""`make demo`: the whole product on one machine, with nothing but Python.

Starts the emulated cluster (serving our CRD) and the AgentCore emulator, runs the real
operator against them, applies examples/ with the real kubectl, shows the sessions going
Starting -> Ready in a live table, deletes one and shows AgentCore stopped it, and exits 0
(or 1 with the reason if anything did not happen as it should).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from agentcore_operator.controller.state_machine import Timing
from agentcore_operator.local.agentcore import EmulatorConfig, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.cluster.testing import running_cluster
from agentcore_operator.local.harness import running_operator
from agentcore_operator.manager.logs import configure_logging
from agentcore_operator.manager.settings import Settings

REPO = Path(__file__).resolve().parents[3]
CUSTOM_INTERPRETER = "datasci_vpc-a1b2c3d4e5"
COLUMNS = ("NAME", "PHASE", "SESSION", "INTERPRETER", "EXPIRES", "REASON")


def main(*, prog: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--examples", default=str(REPO / "examples"), help="folder of manifests to apply")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each step")
    parser.add_argument("--keep-running", action="store_true", help="stay up after the demo (Ctrl-C to stop)")
    args = parser.parse_args(argv)
    configure_logging("text", "warning")
    try:
        run_demo(Path(args.examples), args.timeout, args.keep_running)
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    return 0


class DemoFailed(Exception):
    pass


def run_demo(examples: Path, timeout: float, keep_running: bool) -> None:
    manifests = sorted(examples.glob("*.yaml"))
    if not manifests:
        raise DemoFailed(f"no manifests in {examples}")
    config = EmulatorConfig(
        start_delay=1.5,
        create_delay=2.0,
        interpreters={CUSTOM_INTERPRETER: InterpreterSeed(create_delay=3.0)},
    )
    with running_emulator(config) as emulator, running_cluster() as cluster:
        say(f"emulated cluster at {cluster.url}, AgentCore emulator at {emulator.endpoint_url}")
        settings = Settings(
            region="us-east-1",
            endpoint_url=emulator.endpoint_url,
            kubeconfig=str(cluster.kubeconfig),
            http_port=0,
            http_host="127.0.0.1",
            sweep_interval=2.0,
            ledger_namespace="default",
            timing=Timing(start_poll_seconds=0.5, start_settle_seconds=0.5, interpreter_poll_seconds=1.0),
        )
        with running_operator(settings) as running:
            port = running.operator.health.port if running.operator.health else None
            say(f"operator running (health and metrics on http://127.0.0.1:{port})")
            say(
                f"$ kubectl apply -f {examples.relative_to(REPO) if examples.is_relative_to(REPO) else examples}"
            )
            print(
                cluster.kubectl("apply", *[arg for m in manifests for arg in ("-f", str(m))]).stdout.rstrip()
            )

            names = [doc_name(m) for m in manifests]
            watch_table(cluster, names, lambda rows: all(r[1] == "Ready" for r in rows), timeout)
            say("$ kubectl get codeinterpretersessions")
            print(cluster.kubectl("get", "codeinterpretersessions", "-n", "default").stdout.rstrip())

            victim = next((n for n in names if policy_of(cluster, n) == "Delete"), names[0])
            session_id = (
                (cluster.get("codeinterpretersessions", "default", victim) or {})
                .get("status", {})
                .get("sessionId")
            )
            say(f"$ kubectl delete codeinterpretersession {victim}")
            print(
                cluster.kubectl(
                    "delete",
                    "codeinterpretersession",
                    victim,
                    "-n",
                    "default",
                    "--timeout",
                    f"{int(timeout)}s",
                ).stdout.rstrip()
            )
            state = emulator_session_status(emulator, session_id)
            if state != "TERMINATED":
                raise DemoFailed(
                    f"session {session_id} of {victim} is {state} in AgentCore, expected TERMINATED"
                )
            say(f"AgentCore reports session {session_id} TERMINATED: the operator stopped it")
            show_claims(cluster, emulator, timeout)
            demo_interpreter(cluster, examples / "interpreters", timeout)
            say("$ kubectl get events --sort-by=.lastTimestamp")
            print(
                cluster.kubectl("get", "events", "-n", "default", "--sort-by=.lastTimestamp").stdout.rstrip()
            )
            run_workload(cluster, emulator, [n for n in names if n != victim], timeout)
            show_renewal(cluster, emulator, timeout)
            if keep_running:
                say(
                    f"still running; KUBECONFIG={cluster.kubeconfig} kubectl get agentcore -A  (Ctrl-C to stop)"
                )
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
        say(
            "demo finished: every session went Ready, code ran in one, one renewed live, and deleting one "
            "stopped it in AgentCore"
        )


CLAIMS = "codeinterpretersessionclaims"


def show_claims(cluster: Any, emulator: EmulatorHandle, timeout: float) -> None:
    """A pool of 3 Ready sessions, two claims bound warm, and how long each took as a client sees it."""
    pool = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSessionPool",
        "metadata": {"name": "warm", "namespace": "default"},
        "spec": {"replicas": 3, "template": {"spec": {"sessionTimeoutSeconds": 900}}},
    }
    say("$ kubectl apply -f - (a CodeInterpreterSessionPool of 3)")
    print(cluster.kubectl("apply", "-f", "-", input=json.dumps(pool)).stdout.rstrip())

    def free_ready() -> int:
        return sum(
            1
            for body in cluster.objects("codeinterpretersessions", "default")
            if (body["metadata"].get("labels") or {}).get("agentcore.dev/pool") == "warm"
            and body["metadata"]["labels"].get("agentcore.dev/pool-state") == "free"
            and (body.get("status") or {}).get("phase") == "Ready"
        )

    deadline = time.monotonic() + timeout
    while free_ready() < 3:
        if time.monotonic() > deadline:
            raise DemoFailed(f"the pool has {free_ready()} free Ready sessions after {timeout:.0f}s, not 3")
        time.sleep(0.1)
    say("3 pooled sessions are Ready; two claims take one each")
    for name in ("agent-task-1", "agent-task-2"):
        claim: dict[str, Any] = {
            "apiVersion": "agentcore.dev/v1alpha1",
            "kind": "CodeInterpreterSessionClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"poolRef": {"name": "warm"}, "ttlSecondsUnbound": 30},
        }
        sent = time.monotonic()
        created = requests.post(
            f"{cluster.url}/apis/agentcore.dev/v1alpha1/namespaces/default/{CLAIMS}", json=claim
        )
        if created.status_code != 201:
            raise DemoFailed(f"creating claim {name}: {created.status_code} {created.text[:300]}")
        status: dict[str, Any] = {}
        while status.get("phase") != "Bound":
            if time.monotonic() - sent > timeout:
                raise DemoFailed(f"claim {name} not Bound within {timeout:.0f}s: {status}")
            time.sleep(0.002)
            status = (cluster.get("codeinterpretersessionclaims", "default", name) or {}).get("status") or {}
        took = (time.monotonic() - sent) * 1000
        if status.get("launchType") != "Warm":
            raise DemoFailed(f"claim {name} was served {status.get('launchType')}, expected Warm")
        say(f"claim {name} Bound to {status['sessionName']} ({status['sessionId']}), warm, in {took:.0f} ms")
    say("$ kubectl get codeinterpretersessionclaims")
    print(cluster.kubectl("get", "codeinterpretersessionclaims", "-n", "default").stdout.rstrip())


def demo_interpreter(cluster: Any, folder: Path, timeout: float) -> None:
    """A CodeInterpreter created by the operator, and a session on it by reference."""
    manifests = sorted(folder.glob("*.yaml"))
    if not manifests:
        return
    say(f"$ kubectl apply -f {folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}")
    print(cluster.kubectl("apply", *[arg for m in manifests for arg in ("-f", str(m))]).stdout.rstrip())
    sessions = [doc_name(m) for m in manifests if doc_kind(m) == "CodeInterpreterSession"]
    watch_table(cluster, sessions, lambda rows: all(r[1] == "Ready" for r in rows), timeout)
    say("$ kubectl get codeinterpreters")
    print(cluster.kubectl("get", "codeinterpreters", "-n", "default").stdout.rstrip())
    for name in (doc_name(m) for m in manifests if doc_kind(m) == "CodeInterpreter"):
        interpreter = (cluster.get("codeinterpreters", "default", name) or {}).get("status") or {}
        if interpreter.get("phase") != "Ready":
            raise DemoFailed(f"CodeInterpreter {name} is {interpreter.get('phase')}, expected Ready")
        say(
            f"CodeInterpreter {name} is {interpreter.get('codeInterpreterId')}; its session runs on it by reference"
        )


def doc_kind(path: Path) -> str:
    import yaml

    return str(yaml.safe_load(path.read_text())["kind"])


def watch_table(
    cluster: Any, names: list[str], done: Callable[[list[tuple[str, ...]]], bool], timeout: float
) -> None:
    """Redraw the sessions table in place on a terminal; print it on change otherwise."""
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + timeout
    last: list[tuple[str, ...]] = []
    drawn = 0
    while True:
        rows = [row_of(name, cluster.get("codeinterpretersessions", "default", name)) for name in names]
        if rows != last:
            lines = render([COLUMNS, *rows])
            if tty and drawn:
                sys.stdout.write(f"\x1b[{drawn}F\x1b[J")
            print("\n".join(lines), flush=True)
            if not tty:
                print()
            drawn, last = len(lines), rows
        if done(rows):
            return
        if time.monotonic() > deadline:
            raise DemoFailed(f"sessions not Ready within {timeout:.0f}s: {rows}")
        time.sleep(0.25)


def row_of(name: str, body: dict[str, Any] | None) -> tuple[str, ...]:
    status = (body or {}).get("status") or {}
    spec = (body or {}).get("spec") or {}
    reason = next(
        (c.get("reason", "") for c in status.get("conditions") or [] if c.get("type") == "Ready"), ""
    )
    return (
        name,
        status.get("phase", "-"),
        status.get("sessionId", "-"),
        status.get("codeInterpreterIdentifier") or spec.get("codeInterpreterIdentifier", "-"),
        status.get("expiresAt", "-"),
        reason or "-",
    )


def render(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def doc_name(path: Path) -> str:
    import yaml

    return str(yaml.safe_load(path.read_text())["metadata"]["name"])


def policy_of(cluster: Any, name: str) -> str:
    body = cluster.get("codeinterpretersessions", "default", name) or {}
    return str((body.get("spec") or {}).get("deletionPolicy", "Delete"))


def emulator_session_status(emulator: EmulatorHandle, session_id: str | None) -> str | None:
    return next((s["status"] for s in emulator.sessions() if s["sessionId"] == session_id), None)


def run_workload(cluster: Any, emulator: EmulatorHandle, names: list[str], timeout: float) -> None:
    """Close the loop: examples/workload/run_code.py attaches to a Ready session and runs code in it."""
    import os
    import subprocess
    import tempfile

    name = next(
        (n for n in names if row_of(n, cluster.get("codeinterpretersessions", "default", n))[1] == "Ready"),
        None,
    )
    if name is None:
        raise DemoFailed("no Ready session left to run code in")
    program, code = REPO / "examples" / "workload" / "run_code.py", "print(sum(range(10)))"
    say(f"$ SESSION_NAME={name} python {program.relative_to(REPO)} --code '{code}'")
    with tempfile.TemporaryDirectory() as nowhere:  # no export mounted here: the program reads the status
        env = {
            **os.environ,
            "BEDROCK_AGENTCORE_DP_ENDPOINT": emulator.endpoint_url,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "KUBECONFIG": str(cluster.kubeconfig),
            "SESSION_NAME": name,
            "SESSION_EXPORT_DIR": nowhere,
        }
        done = subprocess.run(
            [sys.executable, str(program), "--code", code, "--wait", str(timeout)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=False,
        )
    print((done.stderr + done.stdout).rstrip())
    if done.returncode != 0 or done.stdout.strip() != "45":
        raise DemoFailed(f"the workload did not print 45 (exit {done.returncode})")
    say(f"the code ran in {name}'s session, in AgentCore (emulated), and printed {done.stdout.strip()}")


def show_renewal(cluster: Any, emulator: EmulatorHandle, timeout: float) -> None:
    """restartPolicy Always with renewal, live: a 60 s session is renewed 55 s before its end."""
    import json

    manifest = {
        "apiVersion": "agentcore.dev/v1alpha1",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": "renewing", "namespace": "default"},
        "spec": {
            "sessionTimeoutSeconds": 60,
            "restartPolicy": "Always",
            "renewBeforeSeconds": 55,
            "renewGraceSeconds": 2,
            "export": {"configMapName": "renewing-session"},
        },
    }
    say("$ kubectl apply -f - (a 60 s session, restartPolicy Always, renewBeforeSeconds 55)")
    print(cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout.rstrip())

    def status() -> dict[str, Any]:
        return dict((cluster.get("codeinterpretersessions", "default", "renewing") or {}).get("status") or {})

    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline and first is None:
        first = status().get("sessionId") if status().get("phase") == "Ready" else None
        time.sleep(0.25)
    renewed = None
    while time.monotonic() < deadline and first is not None and renewed is None:
        current = status()
        renewed = current if current.get("sessionId") not in (None, first) else None
        time.sleep(0.25)
    if first is None or renewed is None:
        raise DemoFailed(f"the renewing session did not renew within {timeout:.0f}s: {status()}")
    say(
        f"renewed: {first} -> {renewed['sessionId']} (restartCount {renewed.get('restartCount')}); "
        f"{first} keeps running until {renewed.get('previousSessionStopAt')}"
    )
    exported = cluster.get("configmaps", "default", "renewing-session", group="", version="v1") or {}
    say(f"ConfigMap renewing-session now says sessionId={exported.get('data', {}).get('sessionId')}")
    while time.monotonic() < deadline and emulator_session_status(emulator, first) != "TERMINATED":
        time.sleep(0.25)
    if emulator_session_status(emulator, first) != "TERMINATED":
        raise DemoFailed(f"the predecessor {first} was not stopped")
    say(f"AgentCore reports {first} TERMINATED after the grace: no gap, no leftover")


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)
