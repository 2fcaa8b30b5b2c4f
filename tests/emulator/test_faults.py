"""Injected faults (errors, rates, counts, latency) and the SigV4 gate."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
import requests
from agentcore_operator.local.agentcore import FaultRule
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ReadTimeoutError

from .conftest import BUILTIN, TOKEN, StartEmulator, code_of, error_of, introspect, listed, outcome, start

KINDS = [
    ("InternalServerException", 500),
    ("ThrottlingException", 429),
    ("ServiceQuotaExceededException", 402),
    ("AccessDeniedException", 403),
]
START = "StartCodeInterpreterSession"


# -- error kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "status"), KINDS)
@pytest.mark.parametrize("source", ["config", "python", "http"])
def test_each_fault_kind(start_emulator: StartEmulator, source: str, error: str, status: int) -> None:
    rule = {"operation": START, "error": error, "count": 1}
    emulator = start_emulator(faults=[FaultRule(**rule)] if source == "config" else [])
    if source == "python":
        emulator.add_fault(**rule)
    elif source == "http":
        response = introspect(emulator, "POST", "faults", json=rule)
        assert response.status_code == 201
    data = emulator.client()
    assert code_of(lambda: start(data)) == (error, status)
    assert emulator.sessions() == []  # the fault came before the operation
    assert start(data)["sessionId"]  # count=1: the next call is fine
    assert emulator.calls()[START] == {error: 1, "Success": 1}


def test_a_fault_can_carry_its_own_message(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation=START, error="AccessDeniedException", message="not authorized: no policy")
    response = error_of(lambda: start(emulator.client()))
    assert response["Error"]["Message"] == "not authorized: no policy"


def test_faults_match_their_operation_or_all(emulator: EmulatorHandle) -> None:
    data, control = emulator.client(), emulator.client("bedrock-agentcore-control")
    emulator.add_fault(operation=START, error="InternalServerException")
    assert outcome(lambda: listed(data)) == "ok"
    assert outcome(lambda: start(data)) == "InternalServerException"
    emulator.emulator.clear_faults()
    emulator.add_fault(operation="*", error="AccessDeniedException")
    assert outcome(lambda: listed(data)) == "AccessDeniedException"
    assert outcome(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) == "AccessDeniedException"


def test_count_limits_how_many_calls_a_fault_hits(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation="ListCodeInterpreterSessions", error="ThrottlingException", count=3)
    data = emulator.client()
    outcomes = [outcome(lambda: listed(data)) for _ in range(5)]
    assert outcomes == ["ThrottlingException"] * 3 + ["ok"] * 2
    (rule,) = introspect(emulator, "GET", "faults").json()["faults"]
    assert (rule["count"], rule["remaining"]) == (3, 0)


def pattern(start_emulator: StartEmulator, seed: int, calls: int = 40) -> list[str]:
    """Which of `calls` Lists fail under a 50 % fault, on a fresh emulator with this seed."""
    rule = {"operation": "ListCodeInterpreterSessions", "error": "InternalServerException", "rate": 0.5}
    emulator = start_emulator(seed=seed)
    assert introspect(emulator, "POST", "faults", json=rule).status_code == 201
    data = emulator.client()
    return [outcome(lambda: listed(data)) for _ in range(calls)]


def test_a_seeded_rate_repeats_the_same_pattern(start_emulator: StartEmulator) -> None:
    first, second, other = pattern(start_emulator, 7), pattern(start_emulator, 7), pattern(start_emulator, 8)
    assert first == second
    assert first != other
    assert 8 <= first.count("InternalServerException") <= 32  # about half


def test_a_rate_with_a_count_stops_after_count_hits(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(
        seed=1, faults=[FaultRule("GetCodeInterpreter", error="InternalServerException", rate=0.5, count=2)]
    )
    control = emulator.client("bedrock-agentcore-control")
    outcomes = [outcome(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) for _ in range(30)]
    assert outcomes.count("InternalServerException") == 2


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"operation": START, "error": "NoSuchError"}, "unknown fault error"),
        ({"operation": START, "error": "InternalServerException", "rate": 2}, "rate"),
        ({"operation": START, "colour": "red"}, "unknown fault fields"),
        (["not", "an", "object"], "unknown fault fields"),
    ],
)
def test_a_bad_fault_is_refused_over_http(emulator: EmulatorHandle, rule: Any, fragment: str) -> None:
    response = introspect(emulator, "POST", "faults", json=rule)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert introspect(emulator, "GET", "faults").json()["faults"] == []


def test_faults_can_be_cleared_over_http(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation="*", error="InternalServerException")
    assert introspect(emulator, "DELETE", "faults").json() == {"faults": []}
    assert outcome(lambda: listed(emulator.client())) == "ok"


def test_a_fault_for_an_operation_that_does_not_exist_is_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="operation"):
        FaultRule(operation="StartSession", error="InternalServerException")
    response = introspect(
        emulator, "POST", "faults", json={"operation": "StartSession", "error": "ThrottlingException"}
    )
    assert response.status_code == 400


# -- latency --------------------------------------------------------------------------------------


def test_latency_delays_the_answer(emulator: EmulatorHandle) -> None:
    control = emulator.client("bedrock-agentcore-control")
    control.get_code_interpreter(codeInterpreterId=BUILTIN)  # warm the connection
    emulator.add_fault(operation="GetCodeInterpreter", latency=0.2, count=1)
    began = time.monotonic()
    assert control.get_code_interpreter(codeInterpreterId=BUILTIN)["status"] == "READY"
    slow = time.monotonic() - began
    began = time.monotonic()
    control.get_code_interpreter(codeInterpreterId=BUILTIN)
    fast = time.monotonic() - began
    assert 0.2 <= slow < 5
    assert fast < slow


def test_latency_before_the_operation_means_nothing_happened_yet(emulator: EmulatorHandle) -> None:
    emulator.add_fault(operation=START, latency=0.8, count=1)
    impatient = emulator.client(read_timeout=0.2)
    with pytest.raises(ReadTimeoutError):
        start(impatient, clientToken=TOKEN)
    assert emulator.sessions() == []  # the request is still waiting; the operation has not run


def test_latency_after_the_operation_the_session_exists_though_the_caller_timed_out(
    emulator: EmulatorHandle,
) -> None:
    emulator.add_fault(operation=START, latency=0.6, latency_after=True, count=1)
    impatient = emulator.client(read_timeout=0.2)
    with pytest.raises(ReadTimeoutError):
        start(impatient, clientToken=TOKEN)
    (session,) = emulator.sessions()  # AWS acted; the caller never heard
    assert emulator.call_count(START, "Success") == 1
    # The retry with the same token finds it: the case idempotency tokens exist for.
    assert start(emulator.client(), clientToken=TOKEN)["sessionId"] == session["sessionId"]
    assert len(emulator.sessions()) == 1


# -- authentication -------------------------------------------------------------------------------


def signed(
    emulator: EmulatorHandle,
    method: str,
    path: str,
    *,
    service: str = "bedrock-agentcore",
    region: str = "us-east-1",
) -> requests.Response:
    url = f"{emulator.endpoint_url}{path}"
    request = AWSRequest(method=method, url=url, data=b"{}", headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIDANYONE", "secret"), service, region).add_auth(request)
    return requests.request(method, url, data=b"{}", headers=dict(request.headers), timeout=10)


START_PATH = f"/code-interpreters/{BUILTIN}/sessions/start"


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", START_PATH), ("GET", f"/code-interpreters/{BUILTIN}"), ("POST", "/no/such/route")],
)
def test_unsigned_requests_are_refused_403(emulator: EmulatorHandle, method: str, path: str) -> None:
    response = requests.request(method, f"{emulator.endpoint_url}{path}", json={}, timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].split(":")[0] == "MissingAuthenticationTokenException"
    assert "Missing Authentication Token" in response.json()["message"]
    assert "Signature Version 4" in response.json()["message"]
    assert emulator.sessions() == []


def test_a_malformed_signature_is_refused_403(emulator: EmulatorHandle) -> None:
    url = f"{emulator.endpoint_url}{START_PATH}"
    for headers in (
        {"Authorization": "Bearer abc"},
        {
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock-agentcore/aws4_request"
        },
    ):
        response = requests.put(url, json={}, headers=headers, timeout=10)
        assert response.status_code == 403
        assert response.headers["x-amzn-ErrorType"].startswith("IncompleteSignatureException")
    # A well-formed header without X-Amz-Date is incomplete too.
    request = AWSRequest(method="PUT", url=url, data=b"{}")
    SigV4Auth(Credentials("AKID", "secret"), "bedrock-agentcore", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-date"}
    response = requests.put(url, data=b"{}", headers=headers, timeout=10)
    assert response.status_code == 403 and "X-Amz-Date" in response.json()["message"]
    assert emulator.sessions() == []


def test_a_signature_for_another_service_is_refused_403(emulator: EmulatorHandle) -> None:
    response = signed(emulator, "PUT", START_PATH, service="s3")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
    assert "'bedrock-agentcore'" in response.json()["message"] and "'s3'" in response.json()["message"]
    assert emulator.sessions() == []
    # boto3 pointed at the emulator with another service's client gets the same 403.
    s3 = boto3.session.Session(
        aws_access_key_id="AKID", aws_secret_access_key="x", region_name="us-east-1"
    ).client("s3", endpoint_url=emulator.endpoint_url, config=Config(retries={"total_max_attempts": 1}))
    assert code_of(lambda: s3.list_buckets())[1] == 403


def test_any_credentials_will_do_for_either_plane(emulator: EmulatorHandle) -> None:
    assert signed(emulator, "PUT", START_PATH).status_code == 200
    for key, secret in (("AKIAFIRSTONE", "a"), ("ASIASECONDONE", "b" * 40)):
        session = boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
        )
        data = session.client("bedrock-agentcore", endpoint_url=emulator.endpoint_url)
        control = session.client("bedrock-agentcore-control", endpoint_url=emulator.endpoint_url)
        assert start(data)["sessionId"]
        assert control.get_code_interpreter(codeInterpreterId=BUILTIN)["status"] == "READY"
    assert len(emulator.sessions()) == 3
