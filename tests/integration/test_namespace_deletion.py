"""A whole team's namespace deleted: the operator's finalizer stops every session in AgentCore
before the namespace goes, as on a real cluster (namespace controller, then finalizers)."""

from __future__ import annotations

import json

from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator

from .conftest import eventually, session_manifest

SESSIONS = 20


def test_deleting_a_namespace_stops_every_session_in_it(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    manifests = [session_manifest(f"analysis-{i:02}", namespace="team") for i in range(SESSIONS)]
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests))

    def ready() -> bool:
        bodies = cluster.objects("codeinterpretersessions", "team")
        return len(bodies) == SESSIONS and all(
            (b.get("status") or {}).get("phase") == "Ready" for b in bodies
        )

    eventually(ready, timeout=60, message=f"{SESSIONS} sessions Ready")
    started = {s["sessionId"] for s in emulator.sessions() if s["status"] == "READY"}
    assert len(started) == SESSIONS

    cluster.kubectl("delete", "namespace", "team", "--wait=false")
    row = cluster.kubectl("get", "namespace", "team", "--no-headers", check=False).stdout.split()
    assert row[:2] == ["team", "Terminating"] or row == []  # it may already be gone

    eventually(
        lambda: cluster.kubectl("get", "namespace", "team", check=False).returncode == 1,
        timeout=60,
        message="namespace gone",
    )
    stopped = {s["sessionId"] for s in emulator.sessions() if s["status"] == "TERMINATED"}
    assert stopped == started
    assert cluster.objects("codeinterpretersessions", "team") == []
