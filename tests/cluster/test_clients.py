"""Real clients against the emulated cluster: the kubectl binary against the CLI server, and
kopf's own operator loop in-process, with no per-test workarounds."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import kopf
from agentcore_operator.local.cluster.testing import client_tool_env, kubectl_binary, running_cluster

CLI = str(Path(sys.executable).parent / "agentcore-operator")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_kubectl_against_the_cli_server(tmp_path: Path) -> None:
    port, kubeconfig = free_port(), tmp_path / "kubeconfig"
    server = subprocess.Popen(
        [CLI, "cluster", "--port", str(port), "--crds", str(REPO / "crds"), "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        assert f"127.0.0.1:{port}" in server.stdout.readline()

        def kubectl(*args: str, stdin: str | None = None) -> str:
            result = subprocess.run(
                [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=client_tool_env(kubeconfig),
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert "created" in kubectl("apply", "-f", str(REPO / "examples" / "basic-session.yaml"))
        header = kubectl("get", "cis").splitlines()[0].split()
        assert header == ["NAME", "PHASE", "SESSION", "INTERPRETER", "EXPIRES", "RESTARTS", "AGE"]
        kubectl("patch", "cis", "analysis", "--type=merge", "-p", '{"spec":{"deletionPolicy":"Retain"}}')
        status = {
            "status": {
                "phase": "Ready",
                "sessionId": "S1",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "SessionReady",
                        "message": "ready",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        }
        kubectl("patch", "cis", "analysis", "--subresource=status", "--type=merge", "-p", json.dumps(status))
        assert "condition met" in kubectl("wait", "--for=condition=Ready", "cis/analysis", "--timeout=10s")
        row = kubectl("get", "cis", "analysis", "--no-headers").split()
        assert row[:3] == ["analysis", "Ready", "S1"]
        assert "deleted" in kubectl("delete", "cis", "analysis", "--timeout=10s")
        assert kubectl("get", "cis", "--ignore-not-found") == ""
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0


def test_kopf_runs_in_loop_against_it(monkeypatch: Any) -> None:
    """A plain kopf operator (create handler, finalizer, status patch) needs nothing special."""
    registry = kopf.OperatorRegistry()
    seen: list[str] = []

    @kopf.on.login(registry=registry)  # a fresh registry has no default login handlers
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = True
        settings.watching.server_timeout = 5

    @kopf.on.create("agentcore.dev", "v1alpha1", "codeinterpretersessions", registry=registry)
    def created(name: str, patch: kopf.Patch, **_: Any) -> None:
        seen.append(name)
        patch.status["phase"] = "Ready"

    @kopf.on.delete("agentcore.dev", "v1alpha1", "codeinterpretersessions", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        seen.append(f"deleted {name}")

    with running_cluster() as cluster:
        monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))  # as a user points kopf anywhere
        stop, ready = threading.Event(), threading.Event()

        def run() -> None:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    standalone=True,
                    clusterwide=True,
                    stop_flag=stop,
                    ready_flag=ready,
                    settings=kopf.OperatorSettings(),
                )
            )

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            assert ready.wait(30)
            cluster.kubectl("apply", "-f", str(REPO / "examples" / "short-lived-session.yaml"))
            deadline_ok = _wait(
                lambda: (
                    (
                        (cluster.get("codeinterpretersessions", "default", "scratch") or {}).get("status")
                        or {}
                    ).get("phase")
                    == "Ready"
                )
            )
            assert deadline_ok and seen == ["scratch"]
            body = cluster.get("codeinterpretersessions", "default", "scratch")
            assert body is not None and body["metadata"]["finalizers"] == [
                "kopf.zalando.org/KopfFinalizerMarker"
            ]
            cluster.kubectl("delete", "cis", "scratch", "--timeout=20s")
            assert seen == ["scratch", "deleted scratch"]
            assert cluster.get("codeinterpretersessions", "default", "scratch") is None
            progress = (body.get("metadata") or {}).get("annotations") or {}
            assert any(key.startswith("kopf.zalando.org/") for key in progress)  # kopf's own bookkeeping
        finally:
            stop.set()
            thread.join(30)


def _wait(check: Any, timeout: float = 20.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
