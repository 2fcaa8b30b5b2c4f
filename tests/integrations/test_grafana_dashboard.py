"""The Grafana dashboard asks only for metrics the operator exposes, and is well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.manager.metrics import METRIC_NAMES, Metrics

DASHBOARD_FILE = (
    Path(__file__).resolve().parents[2] / "integrations" / "grafana" / "agentcore-operator-dashboard.json"
)
DASHBOARD: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
PANELS: list[dict[str, Any]] = DASHBOARD["panels"]
NAMESPACED = {
    "agentcore_sessions",
    "agentcore_pool_sessions_desired",
    "agentcore_pool_sessions_free",
    "agentcore_pool_sessions_free_ready",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def exposed() -> set[str]:
    """Every series name /metrics can show, from the operator's own registry."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        elif family.type == "counter":
            names.add(f"{family.name}_total")
        else:
            names.add(family.name)
    return names


def expressions() -> list[str]:
    found = [t["expr"] for p in PANELS for t in p.get("targets", [])]
    found += [v["query"] for v in DASHBOARD["templating"]["list"] if v["type"] == "query"]
    return found


def metric_names(expr: str) -> set[str]:
    """The agentcore_* identifiers of a PromQL expression (label matchers, ranges, strings removed)."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)
    return {word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if word.startswith("agentcore_")}


def test_every_metric_in_the_dashboard_is_exposed() -> None:
    names = exposed()
    used: set[str] = set()
    for expr in expressions():
        found = metric_names(expr)
        assert found, f"no operator metric in {expr!r}"
        assert found <= names, f"{found - names} in {expr!r} are not exposed by the operator"
        used |= found
    # ... and every metric the operator exposes has a panel.
    for name in METRIC_NAMES:
        assert any(u == name or u.startswith(f"{name}_") for u in used), f"{name} has no panel"


def test_metric_names_agree_with_the_registry() -> None:
    registry = exposed()
    for name in METRIC_NAMES:
        assert name in registry or f"{name}_bucket" in registry, name


@pytest.mark.parametrize("expr", expressions())
def test_expressions_are_balanced_and_use_the_variables(expr: str) -> None:
    for opening, closing in ("()", "{}", "[]"):
        depth = 0
        for char in re.sub(r"\"[^\"]*\"", "", expr):
            depth += (char == opening) - (char == closing)
            assert depth >= 0, expr
        assert depth == 0, expr
    for quantile in re.findall(r"histogram_quantile\(([^,]+),", expr):
        assert 0 < float(quantile) < 1
    if "histogram_quantile" in expr:
        assert "_bucket" in expr and "le" in re.findall(r"by \(([^)]*)\)", expr)[0]
    # Only the resource gauges carry a namespace label.
    if "$namespace" in expr:
        assert metric_names(expr) <= NAMESPACED


def test_panels_have_datasources_unique_ids_and_do_not_overlap() -> None:
    assert DASHBOARD["schemaVersion"] == 39
    assert len({p["id"] for p in PANELS}) == len(PANELS)
    cells: set[tuple[int, int]] = set()
    for panel in PANELS:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"] and all(t["datasource"] == DATASOURCE for t in panel["targets"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert panel["description"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        for target in panel["targets"]:
            by = set(re.findall(r"[a-z_]+", " ".join(re.findall(r"by \(([^)]*)\)", target["expr"]))))
            for label in re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")):
                assert label in by, f"legend {label} of {panel['title']} is not kept by the query"


def test_variables() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    namespace = variables["namespace"]
    assert namespace["type"] == "query" and namespace["datasource"] == DATASOURCE
    assert namespace["query"] == "label_values(agentcore_sessions, namespace)"
    assert namespace["includeAll"] and namespace["multi"] and namespace["allValue"] == ".*"


def test_the_panels_the_docs_promise() -> None:
    titles = {p["title"]: p for p in PANELS}
    assert {p["type"] for p in PANELS if "by phase" in p["title"]} == {"stat", "timeseries"}
    latency = " ".join(t["expr"] for t in titles["AgentCore call latency p50 / p95 / p99"]["targets"])
    assert all(f"histogram_quantile({q}," in latency for q in ("0.5", "0.95", "0.99"))
    ready = " ".join(t["expr"] for t in titles["Time from resource creation to Ready"]["targets"])
    assert all(f"histogram_quantile({q}," in ready for q in ("0.5", "0.95"))
