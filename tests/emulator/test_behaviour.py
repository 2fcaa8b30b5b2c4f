"""The emulator's behaviours, one test each, through boto3 over a real socket.

Time moves by the emulator's clock (`clock.advance`), never by sleeping.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from agentcore_operator.local.agentcore import (
    AgentCoreEmulator,
    EmulatorClock,
    EmulatorConfig,
    FaultRule,
    InterpreterSeed,
)
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from .conftest import BUILTIN, CUSTOM, TOKEN, StartEmulator


def code_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def start(data: Any, **params: Any) -> dict[str, Any]:
    params.setdefault("codeInterpreterIdentifier", BUILTIN)
    result: dict[str, Any] = data.start_code_interpreter_session(**params)
    return result


# -- interpreters --------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_builtin_interpreter_is_always_ready(emulator: EmulatorHandle, region: str) -> None:
    control = emulator.client("bedrock-agentcore-control", region)
    got = control.get_code_interpreter(codeInterpreterId=BUILTIN)
    assert got["status"] == "READY"
    assert got["codeInterpreterArn"] == f"arn:aws:bedrock-agentcore:{region}:aws:code-interpreter/{BUILTIN}"
    assert start(emulator.client("bedrock-agentcore", region))["sessionId"]


def test_seeded_interpreter_is_creating_then_ready(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed(create_delay=30)})
    control, data = emulator.client("bedrock-agentcore-control"), emulator.client()
    assert control.get_code_interpreter(codeInterpreterId=CUSTOM)["status"] == "CREATING"
    assert code_of(lambda: start(data, codeInterpreterIdentifier=CUSTOM)) == ("ConflictException", 409)
    clock.advance(30)
    assert control.get_code_interpreter(codeInterpreterId=CUSTOM)["status"] == "READY"
    assert start(data, codeInterpreterIdentifier=CUSTOM)["codeInterpreterIdentifier"] == CUSTOM


def test_create_interpreter_can_be_made_to_fail(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(create_delay=5, fail_create=frozenset({"broken"}))
    control = emulator.client("bedrock-agentcore-control")
    created = control.create_code_interpreter(name="broken", networkConfiguration={"networkMode": "PUBLIC"})
    assert created["status"] == "CREATING"
    clock.advance(5)
    got = control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"])
    assert got["status"] == "CREATE_FAILED" and "fail" in got["failureReason"]
    assert code_of(
        lambda: start(emulator.client(), codeInterpreterIdentifier=created["codeInterpreterId"])
    ) == (
        "ValidationException",
        400,
    )


def test_deleted_interpreter_is_gone(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    control = emulator.client("bedrock-agentcore-control")
    created = control.create_code_interpreter(
        name="shortlived", networkConfiguration={"networkMode": "SANDBOX"}
    )
    control.delete_code_interpreter(codeInterpreterId=created["codeInterpreterId"])
    assert code_of(lambda: control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"]))[
        0
    ] == ("ResourceNotFoundException")


def test_list_interpreters_filters_by_type(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    control = emulator.client("bedrock-agentcore-control")
    system = control.list_code_interpreters(type="SYSTEM")["codeInterpreterSummaries"]
    custom = control.list_code_interpreters(type="CUSTOM")["codeInterpreterSummaries"]
    assert [s["codeInterpreterId"] for s in system] == [BUILTIN]
    assert [s["codeInterpreterId"] for s in custom] == [CUSTOM]


# -- start validation -------------------------------------------------------------------------


def test_start_validates_like_the_service(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    assert code_of(lambda: start(data, codeInterpreterIdentifier="nobody_here-a1b2c3d4e5")) == (
        "ResourceNotFoundException",
        404,
    )
    assert code_of(lambda: start(data, sessionTimeoutSeconds=59)) == ("ValidationException", 400)
    unchecked = emulator.client(parameter_validation=False)
    assert code_of(lambda: start(unchecked, sessionTimeoutSeconds=28801)) == ("ValidationException", 400)
    assert code_of(lambda: start(unchecked, name="n" * 101)) == ("ValidationException", 400)
    assert emulator.sessions() == []
    assert start(data, sessionTimeoutSeconds=60) and start(data, sessionTimeoutSeconds=28800)


def test_arn_identifiers_name_the_same_interpreter(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    arn = f"arn:aws:bedrock-agentcore:us-east-1:aws:code-interpreter/{BUILTIN}"
    session_id = start(data, codeInterpreterIdentifier=arn)["sessionId"]
    assert data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)[
        "status"
    ]
    other_region = f"arn:aws:bedrock-agentcore:us-west-2:aws:code-interpreter/{BUILTIN}"
    assert (
        code_of(lambda: start(data, codeInterpreterIdentifier=other_region))[0] == "ResourceNotFoundException"
    )


# -- session lifecycle --------------------------------------------------------------------------


def test_start_delay_then_ready(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(start_delay=3)
    data = emulator.client()
    session_id = start(data)["sessionId"]
    got = data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    assert "status" not in got  # the model has no value for "starting"
    assert data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)["items"] == []
    clock.advance(3)
    got = data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    assert got["status"] == "READY"


def test_session_expires_at_created_plus_timeout(emulator: EmulatorHandle, clock: EmulatorClock) -> None:
    data = emulator.client()
    started = start(data, sessionTimeoutSeconds=120)
    clock.advance(119)
    get = lambda: data.get_code_interpreter_session(  # noqa: E731
        codeInterpreterIdentifier=BUILTIN, sessionId=started["sessionId"]
    )
    assert get()["status"] == "READY"
    clock.advance(1)
    assert get()["status"] == "TERMINATED"
    (item,) = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="TERMINATED")[
        "items"
    ]
    assert (item["lastUpdatedAt"] - started["createdAt"]).total_seconds() == pytest.approx(120, abs=0.01)


def test_stop_terminates_and_stopping_again_succeeds(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    session_id = start(data)["sessionId"]
    first = data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    again = data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    assert first["lastUpdatedAt"] == again["lastUpdatedAt"]
    got = data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    assert got["status"] == "TERMINATED"
    assert code_of(
        lambda: data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="X1")
    ) == (
        "ResourceNotFoundException",
        404,
    )


def test_terminated_sessions_can_be_forgotten(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(terminated_retention=60)
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    clock.advance(60 + 61)
    assert code_of(
        lambda: data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    )[0] == ("ResourceNotFoundException")


# -- idempotency ---------------------------------------------------------------------------------


def test_same_token_same_parameters_same_session(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    first = start(data, name="a", sessionTimeoutSeconds=600, clientToken=TOKEN)
    again = start(data, name="a", sessionTimeoutSeconds=600, clientToken=TOKEN)
    assert (again["sessionId"], again["createdAt"]) == (first["sessionId"], first["createdAt"])
    assert len(emulator.sessions()) == 1
    assert code_of(lambda: start(data, name="b", sessionTimeoutSeconds=600, clientToken=TOKEN)) == (
        "ConflictException",
        409,
    )
    assert len(emulator.sessions()) == 1


def test_stop_with_a_token_is_idempotent(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    session_id = start(data)["sessionId"]
    answers = [
        data.stop_code_interpreter_session(
            codeInterpreterIdentifier=BUILTIN, sessionId=session_id, clientToken=TOKEN
        )
        for _ in range(2)
    ]
    assert answers[0]["lastUpdatedAt"] == answers[1]["lastUpdatedAt"]
    other = start(data)["sessionId"]
    assert (
        code_of(
            lambda: data.stop_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, sessionId=other, clientToken=TOKEN
            )
        )[0]
        == "ConflictException"
    )


def test_regions_are_separate_and_come_from_the_signature(emulator: EmulatorHandle) -> None:
    start(emulator.client(region="us-west-2"))
    east = emulator.client(region="us-east-1")
    assert east.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)["items"] == []
    assert [s["region"] for s in emulator.sessions()] == ["us-west-2"]


# -- list -----------------------------------------------------------------------------------------


def test_list_filters_by_status_and_pages_at_the_default_of_ten(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    ids = [start(data)["sessionId"] for _ in range(12)]
    data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=ids[0])
    first = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    assert len(first["items"]) == 10 and first["nextToken"]
    ready = data.list_code_interpreter_sessions(
        codeInterpreterIdentifier=BUILTIN, status="READY", maxResults=100
    )
    assert [i["sessionId"] for i in ready["items"]] == ids[1:]
    terminated = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="TERMINATED")
    assert [i["sessionId"] for i in terminated["items"]] == ids[:1]
    unchecked = emulator.client(parameter_validation=False)
    for bad in (0, 101):
        assert (
            code_of(
                lambda bad=bad: unchecked.list_code_interpreter_sessions(
                    codeInterpreterIdentifier=BUILTIN, maxResults=bad
                )
            )[0]
            == "ValidationException"
        )


def test_pagination_across_250_sessions_is_complete_and_stable(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    ids = [start(data)["sessionId"] for _ in range(250)]
    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"codeInterpreterIdentifier": BUILTIN, "maxResults": 100}
    while True:
        page = data.list_code_interpreter_sessions(**params)
        pages += 1
        seen += [item["sessionId"] for item in page["items"]]
        if "nextToken" not in page:
            break
        params["nextToken"] = page["nextToken"]
    assert pages == 3
    assert seen == ids  # all, once each, in creation order
    tampered = params["nextToken"][:-2] + "zz"
    assert (
        code_of(
            lambda: data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, nextToken=tampered)
        )[0]
        == "ValidationException"
    )


# -- quotas -----------------------------------------------------------------------------------------


def test_concurrent_session_quota_is_402(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=3)
    data = emulator.client()
    ids = [start(data, clientToken=f"{TOKEN}-{i}")["sessionId"] for i in range(3)]
    assert code_of(lambda: start(data)) == ("ServiceQuotaExceededException", 402)
    assert start(data, clientToken=f"{TOKEN}-0")["sessionId"] == ids[0]  # a replay takes no new slot
    data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=ids[1])
    assert start(data)["sessionId"]


def test_request_rate_is_limited_per_operation(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(tps=5)
    data = emulator.client()
    session_id = start(data)["sessionId"]
    outcomes = []
    for _ in range(12):
        try:
            data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert outcomes.count("ThrottlingException") >= 5
    # Another operation has its own bucket.
    assert data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)["items"]


# -- faults -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("InternalServerException", 500),
        ("ThrottlingException", 429),
        ("ServiceQuotaExceededException", 402),
        ("AccessDeniedException", 403),
    ],
)
def test_each_fault_kind(emulator: EmulatorHandle, error: str, status: int) -> None:
    emulator.add_fault(operation="StartCodeInterpreterSession", error=error, count=1)
    data = emulator.client()
    assert code_of(lambda: start(data)) == (error, status)
    assert start(data)["sessionId"]  # count=1: the next call is fine
    assert emulator.calls()["StartCodeInterpreterSession"] == {error: 1, "Success": 1}


def test_faults_over_http_and_seeded_rates_repeat(start_emulator: StartEmulator) -> None:
    def pattern(seed: int) -> list[str]:
        emulator = start_emulator(seed=seed)
        rule = {"operation": "ListCodeInterpreterSessions", "error": "InternalServerException", "rate": 0.5}
        assert (
            requests.post(f"{emulator.endpoint_url}/_emulator/faults", json=rule, timeout=5).status_code
            == 201
        )
        data = emulator.client()
        out = []
        for _ in range(20):
            try:
                data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
                out.append("ok")
            except ClientError:
                out.append("fail")
        return out

    first, second = pattern(7), pattern(7)
    assert first == second and 3 <= first.count("fail") <= 17


def test_latency_before_and_after(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation="GetCodeInterpreter", latency=0.3, count=1)
    control = emulator.client("bedrock-agentcore-control")
    began = time.monotonic()
    control.get_code_interpreter(codeInterpreterId=BUILTIN)
    assert time.monotonic() - began >= 0.3

    emulator.add_fault(operation="StartCodeInterpreterSession", latency=2.0, latency_after=True, count=1)
    impatient = emulator.client(read_timeout=0.5)
    with pytest.raises(ReadTimeoutError):
        start(impatient, clientToken=TOKEN)
    assert len(emulator.sessions()) == 1  # it happened, though the caller never heard


def test_unsigned_or_misscoped_requests_are_refused(emulator: EmulatorHandle) -> None:
    url = f"{emulator.endpoint_url}/code-interpreters/{BUILTIN}/sessions/start"
    unsigned = requests.put(url, json={}, timeout=5)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")
    assert "Signature Version 4" in unsigned.json()["message"]
    wrong = boto3.session.Session(
        aws_access_key_id="AKID", aws_secret_access_key="x", region_name="us-east-1"
    ).client("s3", endpoint_url=emulator.endpoint_url, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        wrong.list_buckets()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# -- introspection ---------------------------------------------------------------------------------------


def test_introspection_api(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(clock=EmulatorClock())  # its own clock: advanced over HTTP below
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    base = f"{emulator.endpoint_url}/_emulator"
    calls = requests.get(f"{base}/calls", timeout=5).json()
    assert calls["counts"] == {"StartCodeInterpreterSession": {"Success": 1}}
    (session,) = requests.get(f"{base}/sessions", timeout=5).json()["sessions"]
    assert session["sessionId"] == session_id and session["status"] == "READY"
    assert requests.post(f"{base}/clock", json={"advance": 61}, timeout=5).ok
    assert requests.get(f"{base}/sessions", timeout=5).json()["sessions"][0]["status"] == "TERMINATED"
    assert requests.post(f"{base}/reset", timeout=5).ok
    assert requests.get(f"{base}/sessions", timeout=5).json()["sessions"] == []


def test_an_injected_clock_is_not_advanced_over_http(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(clock=lambda: 1_800_000_000.0)  # the caller owns this clock
    response = requests.post(f"{emulator.endpoint_url}/_emulator/clock", json={"advance": 1}, timeout=5)
    assert response.status_code == 409 and "injected" in response.json()["error"]


# -- the CLI ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_serves_until_terminated() -> None:
    port = free_port()
    cli = str(Path(sys.executable).parent / "agentcore-operator")
    process = subprocess.Popen(
        [cli, "emulator", "--port", str(port), "--max-sessions", "5", "--interpreter", f"{CUSTOM}:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first_line
        handle = EmulatorHandle(f"http://127.0.0.1:{port}", AgentCoreEmulator(EmulatorConfig()))
        assert start(handle.client(), codeInterpreterIdentifier=CUSTOM)["sessionId"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--fault", "StartCodeInterpreterSession:NoSuchError"], "unknown fault error"),
        (["--fault", "oops"], "OPERATION:ERROR"),
        (["--max-sessions", "-1"], "must not be negative"),
    ],
)
def test_cli_rejects_bad_flags(argv: list[str], fragment: str) -> None:
    cli = str(Path(sys.executable).parent / "agentcore-operator")
    result = subprocess.run([cli, "emulator", *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_running_emulator_is_reusable_from_python() -> None:
    config = EmulatorConfig(faults=[FaultRule("GetCodeInterpreter", error="AccessDeniedException")])
    with running_emulator(config) as handle:
        control = handle.client("bedrock-agentcore-control")
        assert code_of(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) == (
            "AccessDeniedException",
            403,
        )
        assert json.loads(requests.get(f"{handle.endpoint_url}/_emulator/faults", timeout=5).text)["faults"]
