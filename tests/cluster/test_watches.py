"""Watches as real clients use them: the Python client's `watch.Watch().stream` (which sends
`watch=True`), label-selected watches that see objects leave and enter the selection, and
`kubectl get -w`, which asks for Table events and keeps the CRD's printer columns."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from typing import Any

import pytest
from agentcore_operator.local.cluster.testing import ClusterHandle, kubectl_binary
from kubernetes import client, watch

from .conftest import Apply, configmap, session


def stream_in_thread(call: Any, *args: Any, **kwargs: Any) -> tuple[watch.Watch, queue.Queue[Any]]:
    """Events from the Python client's watch, as (type, name, labels), read on a thread."""
    watcher = watch.Watch()
    events: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            for event in watcher.stream(call, *args, timeout_seconds=20, **kwargs):
                if event["type"] == "BOOKMARK":  # left undecoded by the client: only a resourceVersion
                    events.put(("BOOKMARK", event["object"]["metadata"]["resourceVersion"], {}))
                    continue
                meta = event["object"].metadata
                events.put((event["type"], meta.name, meta.labels or {}))
        except Exception as exc:  # the server stopping under a test's open stream
            events.put(("ERROR", repr(exc), {}))

    threading.Thread(target=run, daemon=True).start()
    return watcher, events


def test_the_python_client_watches(core: client.CoreV1Api, apply: Apply) -> None:
    apply(configmap("before"))
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", watch=False).items] == [
        "before"
    ]
    watcher, events = stream_in_thread(core.list_namespaced_config_map, "default")
    try:
        assert events.get(timeout=10)[:2] == ("ADDED", "before")
        apply(configmap("after"))
        assert events.get(timeout=10)[:2] == ("ADDED", "after")
        core.delete_namespaced_config_map("after", "default")
        assert events.get(timeout=10)[:2] == ("DELETED", "after")
    finally:
        watcher.stop()


def test_the_python_client_gets_bookmarks_when_it_allows_them(
    cluster: ClusterHandle, core: client.CoreV1Api
) -> None:
    cluster.call(lambda: setattr(cluster.cluster, "bookmark_interval", 0.2))
    watcher, events = stream_in_thread(core.list_namespaced_config_map, "default", allow_watch_bookmarks=True)
    try:
        kind, version, _ = events.get(timeout=10)
        assert kind == "BOOKMARK" and watcher.resource_version == version
    finally:
        watcher.stop()


def test_a_label_selected_watch_sees_objects_leave_and_enter(
    cluster: ClusterHandle, core: client.CoreV1Api, apply: Apply
) -> None:
    watcher, events = stream_in_thread(core.list_namespaced_config_map, "default", label_selector="team=a")
    try:
        apply(configmap("member", labels={"team": "a"}))
        assert events.get(timeout=10) == ("ADDED", "member", {"team": "a"})
        cluster.kubectl("label", "cm", "member", "team=b", "--overwrite")
        assert events.get(timeout=10) == ("DELETED", "member", {"team": "b"})
        cluster.kubectl("annotate", "cm", "member", "unrelated=change")  # outside the selection: unseen
        cluster.kubectl("label", "cm", "member", "team=a", "--overwrite")
        assert events.get(timeout=10) == ("ADDED", "member", {"team": "a"})
        cluster.kubectl("annotate", "cm", "member", "seen=yes")
        assert events.get(timeout=10) == ("MODIFIED", "member", {"team": "a"})
        assert events.empty()
    finally:
        watcher.stop()


def test_kubectl_get_watch_keeps_the_printer_columns(cluster: ClusterHandle, apply: Apply) -> None:
    apply(session("analysis"))
    process = subprocess.Popen(
        [kubectl_binary(), "--kubeconfig", str(cluster.kubeconfig), "get", "codeinterpretersessions", "-w"],
        env=cluster.tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        header = lines.get(timeout=20).split()
        assert header == ["NAME", "PHASE", "SESSION", "INTERPRETER", "EXPIRES", "RESTARTS", "AGE"]
        assert lines.get(timeout=10).split()[0] == "analysis"
        status = {
            "status": {
                "phase": "Ready",
                "sessionId": "S-1",
                "codeInterpreterIdentifier": "aws.codeinterpreter.v1",
            }
        }
        cluster.kubectl(
            "patch", "cis", "analysis", "--subresource=status", "--type=merge", "-p", json.dumps(status)
        )
        update = lines.get(timeout=10).split()
        assert update[:4] == ["analysis", "Ready", "S-1", "aws.codeinterpreter.v1"]
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    ("value", "watches"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("", True),
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_watch_flag_is_a_boolean_as_apimachinery_reads_one(
    cluster: ClusterHandle, apply: Apply, value: str, watches: bool
) -> None:
    apply(configmap("present"))
    raw = cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/default/configmaps?watch={value}&timeoutSeconds=1"
    ).stdout
    if watches:
        (event,) = [json.loads(line) for line in raw.splitlines() if line.strip()]
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "present"
    else:
        assert json.loads(raw)["kind"] == "ConfigMapList"
