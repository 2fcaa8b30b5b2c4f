"""What platform engineers see: kubectl get/describe/wait/explain, a second apply, /metrics.

The operator runs in-process against the emulated cluster and the AgentCore emulator; the
assertions are on the real kubectl's output and on a scrape of /metrics.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.local.harness import RunningOperator
from prometheus_client.parser import text_string_to_metric_families

from .conftest import eventually, session_manifest


def apply(cluster: ClusterHandle, manifest: dict[str, Any]) -> str:
    return str(cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout)


def ready(cluster: ClusterHandle, name: str) -> dict[str, Any]:
    return eventually(
        lambda: (
            (b := cluster.get("codeinterpretersessions", "default", name))
            and (b.get("status") or {}).get("phase") == "Ready"
            and b
        ),
        message=f"{name} Ready",
    )


def test_get_shows_our_columns_and_the_category_lists_it(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("columns", sessionTimeoutSeconds=600))
    body = ready(cluster, "columns")
    table = cluster.kubectl("get", "cis").stdout
    header, row = table.splitlines()[:2]
    assert re.split(r"\s{2,}", header.strip()) == [
        "NAME",
        "PHASE",
        "SESSION",
        "INTERPRETER",
        "EXPIRES",
        "RESTARTS",
        "AGE",
    ]
    assert row.split()[:4] == ["columns", "Ready", body["status"]["sessionId"], "aws.codeinterpreter.v1"]
    wide = cluster.kubectl("get", "cis", "-o", "wide").stdout
    assert "REASON" in wide.splitlines()[0] and "SessionReady" in wide
    # The category expands to both kinds. kubectl prefixes names with their kind only when it
    # prints more than one kind, and with no CodeInterpreter here that depends on its
    # discovery cache, so either spelling of the name is right.
    everything = cluster.kubectl("get", "agentcore").stdout
    name, phase = everything.splitlines()[1].split()[:2]
    assert name in ("columns", "codeinterpretersession.agentcore.dev/columns")
    assert phase == "Ready"


def test_wait_and_describe(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    apply(cluster, session_manifest("described"))
    waited = cluster.kubectl("wait", "--for=condition=Ready", "cis/described", "--timeout=20s").stdout
    assert "condition met" in waited

    def events_shown() -> str | None:
        described = str(cluster.kubectl("describe", "cis", "described").stdout)
        events = described.split("Events:", 1)[-1]
        return described if "Started" in events and "Ready" in events else None

    described = eventually(events_shown, timeout=10, message="describe shows Started and Ready")
    session_id = ready(cluster, "described")["status"]["sessionId"]
    assert session_id in described


def test_explain_describes_the_fields(cluster: ClusterHandle) -> None:
    explained = cluster.kubectl("explain", "codeinterpretersession.spec.sessionTimeoutSeconds").stdout
    assert "60 to 28800" in explained
    spec = cluster.kubectl("explain", "cis.spec").stdout
    for field in (
        "codeInterpreterIdentifier",
        "sessionName",
        "sessionTimeoutSeconds",
        "region",
        "deletionPolicy",
    ):
        assert field in spec


def test_second_apply_after_reconcile_changes_nothing(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    manifest = session_manifest("gitops", sessionTimeoutSeconds=1200, deletionPolicy="Delete")
    apply(cluster, manifest)
    before = ready(cluster, "gitops")
    output = apply(cluster, manifest)
    assert "unchanged" in output
    after = cluster.get("codeinterpretersessions", "default", "gitops")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == 1
    annotations = after["metadata"].get("annotations") or {}
    assert not [a for a in annotations if a.startswith("kopf.")], annotations
    assert set(after["metadata"].get("labels") or {}) == set()
    assert "kopf" not in json.dumps(after["status"]), "kopf bookkeeping leaked into status"


def test_metrics_match_the_calls_agentcore_recorded(
    cluster: ClusterHandle, emulator: EmulatorHandle, operator: RunningOperator
) -> None:
    for index in range(3):
        apply(cluster, session_manifest(f"metered-{index}"))
    for index in range(3):
        ready(cluster, f"metered-{index}")
    cluster.kubectl("delete", "cis", "metered-0", "--timeout=20s")
    assert operator.operator.health is not None
    text = requests.get(f"http://127.0.0.1:{operator.operator.health.port}/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(text)}

    scraped: dict[tuple[str, str], float] = {}
    for sample in families["agentcore_api_calls"].samples:
        if sample.name == "agentcore_api_calls_total":
            scraped[(sample.labels["operation"], sample.labels["outcome"])] = sample.value
    recorded = {
        (op, outcome): n for op, outcomes in emulator.calls().items() for outcome, n in outcomes.items()
    }
    assert scraped == recorded

    phases = {
        (s.labels["namespace"], s.labels["phase"]): s.value for s in families["agentcore_sessions"].samples
    }
    assert phases.get(("default", "Ready")) == 2
    ready_count = next(
        s.value
        for s in families["agentcore_session_time_to_ready_seconds"].samples
        if s.name.endswith("_count")
    )
    assert ready_count == 3


def test_readiness_says_when_the_api_server_is_unusable(
    cluster: ClusterHandle, operator: RunningOperator
) -> None:
    assert operator.operator.health is not None
    url = f"http://127.0.0.1:{operator.operator.health.port}/readyz"
    assert requests.get(url, timeout=5).status_code == 200
    cluster.inject_fault("GET", "^/version", 503, count=None)
    unready = requests.get(url, timeout=5)
    assert unready.status_code == 503
    assert "Kubernetes API unreachable" in unready.json()["checks"]["kubernetes"]
    cluster.clear_faults()
    assert requests.get(url, timeout=5).status_code == 200
    live = requests.get(f"http://127.0.0.1:{operator.operator.health.port}/healthz", timeout=5)
    assert live.status_code == 200  # liveness is about the operator itself, not its dependencies
