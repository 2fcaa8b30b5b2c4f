"""The Argo CD health check, run as Lua (lupa) on every case of its upstream-format test file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

ARGOCD = Path(__file__).resolve().parents[2] / "integrations" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
CASES = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]


def to_lua(lua: Any, value: Any) -> Any:
    """Python data to Lua tables the way Argo CD hands objects to scripts (lists 1-based)."""
    if isinstance(value, dict):
        return lua.table_from({key: to_lua(lua, item) for key, item in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, item) for item in value])
    return value


def health(obj: dict[str, Any]) -> dict[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(SCRIPT)
    return {"status": result["status"], "message": result["message"]}


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_health_of_each_sample(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    assert health(obj) == case["healthStatus"]


def test_every_phase_is_covered() -> None:
    phases = {
        (yaml.safe_load((ARGOCD / c["inputPath"]).read_text()).get("status") or {}).get("phase")
        for c in CASES
    }
    assert {"Pending", "Starting", "Ready", "Stopping", "Terminated", "Failed", None} <= phases


def test_the_configmap_snippet_carries_the_same_script() -> None:
    documents = list(yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()))
    (configmap,) = [d for d in documents if d]
    assert configmap["data"]["resource.customizations.health.agentcore.dev_CodeInterpreterSession"] == SCRIPT
