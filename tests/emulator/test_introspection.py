"""The introspection API under /_emulator/ (plain HTTP, no signature) and its Python twin."""

from __future__ import annotations

import pytest
from agentcore_operator.local.agentcore import EmulatorClock, FaultRule, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle

from .conftest import BUILTIN, CUSTOM, StartEmulator, code_of, get, introspect, listed, outcome, start, stop


def test_calls_are_counted_by_operation_and_outcome(emulator: EmulatorHandle) -> None:
    data, control = emulator.client(), emulator.client("bedrock-agentcore-control")
    session_id = start(data)["sessionId"]
    get(data, session_id)
    get(data, session_id)
    code_of(lambda: get(data, "NOSUCHSESSION"))
    code_of(lambda: start(data, sessionTimeoutSeconds=59))
    control.get_code_interpreter(codeInterpreterId=BUILTIN)
    expected = {
        "StartCodeInterpreterSession": {"Success": 1, "ValidationException": 1},
        "GetCodeInterpreterSession": {"Success": 2, "ResourceNotFoundException": 1},
        "GetCodeInterpreter": {"Success": 1},
    }
    body = introspect(emulator, "GET", "calls").json()
    assert body["counts"] == expected
    assert emulator.calls() == expected
    assert [(r["operation"], r["outcome"], r["status"], r["region"]) for r in body["recent"]] == [
        ("StartCodeInterpreterSession", "Success", 200, "us-east-1"),
        ("GetCodeInterpreterSession", "Success", 200, "us-east-1"),
        ("GetCodeInterpreterSession", "Success", 200, "us-east-1"),
        ("GetCodeInterpreterSession", "ResourceNotFoundException", 404, "us-east-1"),
        ("StartCodeInterpreterSession", "ValidationException", 400, "us-east-1"),
        ("GetCodeInterpreter", "Success", 200, "us-east-1"),
    ]
    assert emulator.call_count("GetCodeInterpreterSession") == 3
    assert emulator.call_count(outcome="Success") == 4
    assert emulator.call_count("StopCodeInterpreterSession") == 0
    assert introspect(emulator, "GET", "sessions").ok  # introspection is not counted
    assert emulator.call_count() == 6


def test_the_session_table(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(start_delay=2)
    data = emulator.client()
    started = start(data, name="seen", sessionTimeoutSeconds=60)
    west = start(emulator.client(region="us-west-2"))["sessionId"]
    (session,) = introspect(emulator, "GET", "sessions", params={"region": "us-east-1"}).json()["sessions"]
    assert session["sessionId"] == started["sessionId"]
    assert (session["region"], session["codeInterpreterIdentifier"], session["name"], session["status"]) == (
        "us-east-1",
        BUILTIN,
        "seen",
        "STARTING",
    )
    assert session["sessionTimeoutSeconds"] == 60
    assert session["readyAt"] - session["createdAt"] == pytest.approx(2)
    assert session["expiresAt"] - session["createdAt"] == pytest.approx(60)
    assert session["stoppedAt"] is None
    clock.advance(2)
    stop(data, started["sessionId"])
    everything = introspect(emulator, "GET", "sessions").json()["sessions"]
    assert {s["sessionId"]: s["status"] for s in everything} == {
        started["sessionId"]: "TERMINATED",
        west: "READY",
    }
    assert next(s for s in everything if s["sessionId"] == started["sessionId"])["stoppedAt"] is not None
    assert emulator.sessions("us-west-2")[0]["sessionId"] == west


def test_the_interpreter_table(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed(failure_reason="quota")})
    interpreters = introspect(emulator, "GET", "interpreters", params={"region": "eu-west-1"}).json()[
        "interpreters"
    ]
    by_id = {i["id"]: i for i in interpreters}
    assert by_id[BUILTIN]["status"] == "READY"
    assert (by_id[CUSTOM]["status"], by_id[CUSTOM]["failureReason"]) == ("CREATE_FAILED", "quota")
    assert ":eu-west-1:" in by_id[CUSTOM]["arn"]


def test_the_clock_moves_over_http(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(clock=EmulatorClock())  # its own clock, moved only over HTTP below
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    before = introspect(emulator, "POST", "clock", json={"advance": 0}).json()["now"]
    after = introspect(emulator, "POST", "clock", json={"advance": 61}).json()["now"]
    assert after - before == pytest.approx(61, abs=1)
    assert get(data, session_id)["status"] == "TERMINATED"


@pytest.mark.parametrize("body", [{"advance": -1}, {"advance": "soon"}, {"seconds": 5}, [61]])
def test_a_bad_clock_move_is_refused(emulator: EmulatorHandle, body: object) -> None:
    response = introspect(emulator, "POST", "clock", json=body)
    assert response.status_code == 400
    assert "advance" in response.json()["error"]


def test_a_clock_move_that_is_not_json_is_refused(emulator: EmulatorHandle) -> None:
    response = introspect(emulator, "POST", "clock", data=b"soon")
    assert response.status_code == 400


def test_an_injected_clock_is_not_moved_over_http(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(clock=lambda: 1_800_000_000.0)  # the caller owns this clock
    response = introspect(emulator, "POST", "clock", json={"advance": 1})
    assert response.status_code == 409 and "injected" in response.json()["error"]


def test_a_session_can_be_stopped_out_of_band(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    first, second = start(data)["sessionId"], start(data)["sessionId"]
    assert introspect(emulator, "POST", f"sessions/us-east-1/{first}/stop").json() == {"stopped": first}
    emulator.stop_session(second)
    assert [get(data, s)["status"] for s in (first, second)] == ["TERMINATED", "TERMINATED"]
    assert emulator.calls() == {
        "StartCodeInterpreterSession": {"Success": 2},
        "GetCodeInterpreterSession": {"Success": 2},
    }
    assert introspect(emulator, "POST", "sessions/us-east-1/NOSUCH/stop").status_code == 404
    assert introspect(emulator, "POST", f"sessions/eu-west-1/{first}/stop").status_code == 404
    with pytest.raises(KeyError):
        emulator.stop_session("NOSUCH")


def test_reset_forgets_everything(emulator: EmulatorHandle) -> None:
    data, control = emulator.client(), emulator.client("bedrock-agentcore-control")
    session_id = start(data)["sessionId"]
    created = control.create_code_interpreter(name="temp", networkConfiguration={"networkMode": "PUBLIC"})
    emulator.add_fault(operation="GetCodeInterpreter", error="InternalServerException")
    assert introspect(emulator, "POST", "reset").json() == {"reset": True}
    assert introspect(emulator, "GET", "sessions").json() == {"sessions": []}
    assert introspect(emulator, "GET", "calls").json() == {"counts": {}, "recent": []}
    assert introspect(emulator, "GET", "faults").json() == {"faults": []}
    assert code_of(lambda: get(data, session_id))[1] == 404
    assert (
        code_of(lambda: control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"]))[1]
        == 404
    )
    assert control.get_code_interpreter(codeInterpreterId=BUILTIN)["status"] == "READY"
    assert listed(data) == []


def test_reset_returns_to_the_configured_start(start_emulator: StartEmulator) -> None:
    rule = FaultRule("ListCodeInterpreterSessions", error="InternalServerException", rate=0.5)
    emulator = start_emulator(seed=3, faults=[rule], interpreters={CUSTOM: InterpreterSeed()})
    data = emulator.client()
    first = [outcome(lambda: listed(data)) for _ in range(16)]
    introspect(emulator, "POST", "reset")
    assert emulator.client("bedrock-agentcore-control").get_code_interpreter(codeInterpreterId=CUSTOM)
    assert [outcome(lambda: listed(data)) for _ in range(16)] == first
