"""The Grafana dashboard asks only for metrics the operator exposes, and is well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agentcore_operator.manager.metrics import Metrics

DASHBOARD = json.loads(
    (
        Path(__file__).resolve().parents[2] / "integrations" / "grafana" / "agentcore-operator-dashboard.json"
    ).read_text()
)
PROMQL_FUNCTIONS = {
    "sum",
    "rate",
    "increase",
    "histogram_quantile",
    "clamp_min",
    "by",
    "ignoring",
    "group_left",
}


def exposed() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        elif family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        else:
            names.add(family.name)
    return names


def expressions() -> list[str]:
    found = [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]
    found += [v["query"] for v in DASHBOARD["templating"]["list"] if v["type"] == "query"]
    return found


def test_every_metric_in_the_dashboard_exists() -> None:
    names = exposed()
    used: set[str] = set()
    for expr in expressions():
        without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)
        for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels):
            if word.startswith("agentcore_"):
                used.add(word)
                assert word in names, f"{word} is not exposed by the operator"
    assert {
        "agentcore_sessions",
        "agentcore_api_calls_total",
        "agentcore_api_call_duration_seconds_bucket",
        "agentcore_session_time_to_ready_seconds_bucket",
        "agentcore_reconcile_errors_total",
        "agentcore_rate_limiter_wait_seconds_bucket",
    } <= used


def test_panels_have_datasources_and_unique_ids() -> None:
    panels: list[dict[str, Any]] = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    assert DASHBOARD["schemaVersion"] >= 39
