"""The Argo CD health check, run as Lua (lupa) the way Argo CD runs it.

Argo CD runs health scripts in gopher-lua (Lua 5.1) with only the base, table, package and
a safe os library unless `useOpenLibs` is set: the tests use lupa's Lua 5.1 with the rest of
the standard library (string methods included) taken away, so a script that would fail in
Argo CD fails here too. The objects come from the real state machine (session_states.py),
and the upstream-format cases (health_test.yaml + testdata/) run as Argo CD's own test would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51
import pytest
import yaml
from agentcore_operator.api.v1alpha1 import SessionStatus
from agentcore_operator.controller.state_machine import TERMINAL_REASONS
from agentcore_operator.runtime.errors import ErrorKind

from .session_states import SESSION, State, body, failed, spec, states, step, view

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "integrations" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
CONFIG_KEY = "resource.customizations.health.agentcore.dev_CodeInterpreterSession"
CASES: list[dict[str, Any]] = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]
STATES = {state.name: state for state in states()}
HEALTH_CODES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

# Argo CD opens package, base, table and a restricted os; everything else is absent, and
# without the string library strings have no metatable (so no ("x"):sub(...) either).
SANDBOX = """
debug.setmetatable("", nil)
string, math, io, debug, coroutine = nil, nil, nil, nil, nil
"""


def to_lua(lua: Any, value: Any) -> Any:
    """Python data to Lua tables the way Argo CD hands objects to scripts (lists 1-based)."""
    if isinstance(value, dict):
        return lua.table_from({key: to_lua(lua, item) for key, item in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, item) for item in value])
    return value


def lua_runtime() -> Any:
    lua = lupa.lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    lua.execute(SANDBOX)
    return lua


def health(obj: dict[str, Any], script: str = SCRIPT) -> dict[str, str]:
    lua = lua_runtime()
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(script)
    assert lupa.lua51.lua_type(result) == "table", "a health script must return a table"
    out = {"status": result["status"], "message": result["message"]}
    assert out["status"] in HEALTH_CODES
    assert isinstance(out["message"], str) and out["message"]
    return out


def ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def load_sample(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ARGOCD / path).read_text())
    return loaded


# --- the script on what the operator writes -------------------------------------------------------


@pytest.mark.parametrize("state", STATES.values(), ids=STATES.keys())
def test_health_of_every_state_the_operator_writes(state: State) -> None:
    result = health(state.obj)
    assert result["status"] == state.health
    status = state.obj.get("status") or {}
    condition = ready_condition(state.obj)
    if state.name in ("no-status", "stale-generation"):
        generation = state.obj["metadata"]["generation"]
        assert result["message"] == f"Waiting for the operator to observe generation {generation}"
    elif status["phase"] == "Ready":
        assert result["message"].startswith(
            f"Session {status['sessionId']} is ready until {status['expiresAt']}"
        )
        handover = next((c for c in status["conditions"] if c["type"] == "Handover"), None)
        if handover is not None and handover["status"] == "True":  # a renewal under way says so
            assert result["message"].endswith(f"(renewing: {handover['message']})")
        else:
            assert result["message"] == f"Session {SESSION} is ready until {status['expiresAt']}"
    elif state.name == "unknown-phase":
        assert result["message"] == "Unknown phase Hibernating"
    else:
        # The Ready condition's reason and message, so the user sees why without kubectl.
        assert result["message"].startswith(f"{condition['reason']}: {condition['message']}")


def test_every_phase_and_reason_is_covered() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "agentcore.dev_codeinterpretersessions.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    phases = set(schema["properties"]["status"]["properties"]["phase"]["enum"])
    seen_phases = {(s.obj.get("status") or {}).get("phase") for s in STATES.values()}
    assert phases <= seen_phases
    reasons = {ready_condition(s.obj).get("reason") for s in STATES.values()}
    notable = {
        "CheckingInterpreter",
        "InterpreterNotReady",
        "Starting",
        "SessionReady",
        "SessionExpired",
        "SessionStopped",
        "Stopping",
        "StopFailed",
        "Stopped",
        ErrorKind.THROTTLED.value,
        ErrorKind.QUOTA_EXCEEDED.value,
        ErrorKind.ACCESS_DENIED.value,
    }
    assert TERMINAL_REASONS | notable <= reasons


@pytest.mark.parametrize("kind", list(ErrorKind), ids=[k.value for k in ErrorKind])
def test_every_aws_error_while_starting(kind: ErrorKind) -> None:
    """Errors the operator retries keep the resource Progressing; the ones it gives up on (or that
    need IAM fixed) make it Degraded: exactly when the operator writes phase Failed."""
    builtin = view(spec())
    starting = step(builtin, SessionStatus(), None)
    status = step(builtin, starting, failed(kind, "StartCodeInterpreterSession", f"{kind}Code", "from AWS"))
    obj = body(status)
    result = health(obj)
    assert result["status"] == ("Degraded" if obj["status"]["phase"] == "Failed" else "Progressing")
    assert result["message"].startswith(
        ready_condition(obj)["reason"] + ": StartCodeInterpreterSession failed"
    )


# --- odd objects: never an error, never Healthy ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, "Waiting for the operator to observe generation 1"),
        ({"kopf": {"progress": {}}}, "Waiting for the operator to observe generation 1"),
        ({"phase": "Pending"}, "Waiting for the operator to observe generation 1"),
        ({"phase": "Failed", "observedGeneration": 1, "message": "boom"}, "boom"),
        ({"phase": "Failed", "observedGeneration": 1, "conditions": []}, "The session cannot start"),
        (
            {"phase": "Starting", "observedGeneration": 1, "conditions": [{"type": "Other", "reason": "X"}]},
            "Starting",
        ),
        (
            {
                "phase": "Pending",
                "observedGeneration": 1,
                "message": "from status",
                "conditions": [{"type": "Ready", "status": "False", "reason": "Throttled"}],
            },
            "Throttled: from status",
        ),
    ],
)
def test_odd_objects(status: dict[str, Any], expected: str) -> None:
    obj = {"metadata": {"name": "x", "generation": 1}, "status": status}
    result = health(obj)
    assert result["message"] == expected
    assert result["status"] != "Healthy"


def test_a_terminated_resource_switched_to_always_is_progressing() -> None:
    """The user set restartPolicy Always on a Terminated resource: the operator restarts it."""
    terminated = STATES["terminated-expired"].obj
    switched = {**terminated, "spec": {**terminated["spec"], "restartPolicy": "Always"}}
    assert health(switched)["status"] == "Progressing"
    assert health(terminated)["status"] == "Degraded"


def test_an_object_without_generation() -> None:
    assert health({"metadata": {"name": "x"}}) == {
        "status": "Progressing",
        "message": "Waiting for the operator to observe the resource",
    }


def test_the_sandbox_is_as_strict_as_argo_cd() -> None:
    with pytest.raises(lupa.lua51.LuaError):
        health({}, 'return {status = "Healthy", message = ("x"):upper()}')
    with pytest.raises(lupa.lua51.LuaError):
        health({}, 'return {status = "Healthy", message = string.format("%s", "x")}')


# --- Argo CD's own test format --------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_upstream_format_case(case: dict[str, Any]) -> None:
    assert health(load_sample(case["inputPath"])) == case["healthStatus"]


def test_testdata_is_what_the_operator_writes() -> None:
    """Each sample file matches the state of the same name in phase, reason and generations,
    and every state has a sample and a case (so the folder can go upstream as is)."""
    files = {p.stem for p in (ARGOCD / "testdata").glob("*.yaml")}
    cased = {Path(c["inputPath"]).stem for c in CASES}
    assert files == cased == set(STATES)
    for name, state in STATES.items():
        sample = load_sample(f"testdata/{name}.yaml")
        for obj in (sample, state.obj):
            obj.setdefault("status", {})
        assert (sample["status"].get("phase"), ready_condition(sample).get("reason")) == (
            state.obj["status"].get("phase"),
            ready_condition(state.obj).get("reason"),
        ), name
        assert sample["metadata"]["generation"] == state.obj["metadata"]["generation"], name
        assert sample["status"].get("observedGeneration") == state.obj["status"].get("observedGeneration")
        assert ("deletionTimestamp" in sample["metadata"]) == ("deletionTimestamp" in state.obj["metadata"])
    assert {c["healthStatus"]["status"] for c in CASES} == {"Healthy", "Progressing", "Degraded"}
    for case in CASES:
        assert case["healthStatus"]["status"] == STATES[Path(case["inputPath"]).stem].health


# --- the copies users install ---------------------------------------------------------------------


def test_the_configmap_snippet_carries_the_same_script() -> None:
    documents = [d for d in yaml.safe_load_all((ARGOCD / "argocd-cm.yaml").read_text()) if d]
    (configmap,) = documents
    assert (configmap["kind"], configmap["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert configmap["data"][CONFIG_KEY] == SCRIPT, "copy health.lua into argocd-cm.yaml"


def test_the_helm_values_carry_the_same_script() -> None:
    values = yaml.safe_load((ARGOCD / "values-argo-cd.yaml").read_text())
    assert values["configs"]["cm"][CONFIG_KEY] == SCRIPT, "copy health.lua into values-argo-cd.yaml"
