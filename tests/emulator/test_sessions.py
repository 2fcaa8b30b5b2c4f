"""Sessions: Start's validation, the lifecycle, identifiers, idempotency and regions.

Time moves by the emulator's clock (`clock.advance`), never by sleeping.
"""

from __future__ import annotations

import json

import pytest
import requests
from agentcore_operator.local.agentcore import EmulatorClock, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import (
    ACCOUNT,
    BUILTIN,
    BUILTIN_ARN,
    CUSTOM,
    CUSTOM_ARN,
    TOKEN,
    FrozenClock,
    StartEmulator,
    code_of,
    error_of,
    get,
    listed,
    start,
    stop,
    token,
)

# -- Start validates like the service ---------------------------------------------------------------


def test_unknown_interpreter_is_not_found(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    response = error_of(lambda: start(data, codeInterpreterIdentifier="nobody_here-a1b2c3d4e5"))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ResourceNotFoundException",
        404,
    )
    assert "nobody_here-a1b2c3d4e5" in response["Error"]["Message"]
    assert emulator.sessions() == []


@pytest.mark.parametrize(("timeout", "accepted"), [(59, False), (60, True), (28800, True), (28801, False)])
def test_session_timeout_must_be_within_60_and_28800(
    emulator: EmulatorHandle, timeout: int, accepted: bool
) -> None:
    # botocore checks only the model's minimum (1): both 59 and 28801 reach the emulator.
    data = emulator.client()
    if accepted:
        session_id = start(data, sessionTimeoutSeconds=timeout)["sessionId"]
        assert get(data, session_id)["sessionTimeoutSeconds"] == timeout
    else:
        response = error_of(lambda: start(data, sessionTimeoutSeconds=timeout))
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ValidationException",
            400,
        )
        assert "sessionTimeoutSeconds" in response["Error"]["Message"]
        assert emulator.sessions() == []


def test_timeout_below_the_models_minimum_is_refused_by_the_server_too(emulator: EmulatorHandle) -> None:
    unchecked = emulator.client(parameter_validation=False)
    assert code_of(lambda: start(unchecked, sessionTimeoutSeconds=0)) == ("ValidationException", 400)


def test_default_timeout_is_900_seconds(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    assert get(data, start(data)["sessionId"])["sessionTimeoutSeconds"] == 900


def test_name_is_1_to_100_characters(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    assert get(data, start(data, name="n" * 100)["sessionId"])["name"] == "n" * 100
    # botocore does not check maximum lengths: this reaches the emulator.
    assert code_of(lambda: start(data, name="n" * 101)) == ("ValidationException", 400)
    unchecked = emulator.client(parameter_validation=False)
    assert code_of(lambda: start(unchecked, name="")) == ("ValidationException", 400)
    assert len(emulator.sessions()) == 1


def test_interpreter_states_decide_what_start_says(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(
        interpreters={
            CUSTOM: InterpreterSeed(create_delay=10),
            "broken_one-b1b2b3b4b5": InterpreterSeed(failure_reason="no capacity"),
        }
    )
    data = emulator.client()
    creating = error_of(lambda: start(data, codeInterpreterIdentifier=CUSTOM))
    assert (creating["Error"]["Code"], creating["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ConflictException",
        409,
    )
    assert "CREATING" in creating["Error"]["Message"]
    failed = error_of(lambda: start(data, codeInterpreterIdentifier="broken_one-b1b2b3b4b5"))
    assert (failed["Error"]["Code"], failed["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationException",
        400,
    )
    assert "no capacity" in failed["Error"]["Message"]
    assert emulator.sessions() == []
    clock.advance(10)
    assert start(data, codeInterpreterIdentifier=CUSTOM)["sessionId"]


# -- lifecycle ---------------------------------------------------------------------------------------


def test_a_starting_session_has_no_status_and_is_not_listed(start_emulator: StartEmulator) -> None:
    clock = FrozenClock()
    emulator = start_emulator(start_delay=3, clock=clock)
    data = emulator.client()
    session_id = start(data)["sessionId"]
    assert "status" not in get(data, session_id)  # the model has no value for "starting"
    assert (
        listed(data) == [] and listed(data, status="READY") == [] and listed(data, status="TERMINATED") == []
    )
    assert emulator.sessions()[0]["status"] == "STARTING"  # introspection says what it is
    clock.advance(2.999)
    assert "status" not in get(data, session_id)
    clock.advance(0.001)
    assert get(data, session_id)["status"] == "READY"
    assert listed(data) == [session_id]


def test_session_expires_at_created_plus_timeout(start_emulator: StartEmulator) -> None:
    clock = FrozenClock()
    emulator = start_emulator(clock=clock)
    data = emulator.client()
    started = start(data, sessionTimeoutSeconds=120)
    session_id = started["sessionId"]
    assert started["createdAt"].timestamp() == clock.now
    clock.advance(119.999)
    assert get(data, session_id)["status"] == "READY"
    clock.advance(0.001)
    assert get(data, session_id)["status"] == "TERMINATED"
    assert listed(data, status="READY") == []
    (item,) = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="TERMINATED")[
        "items"
    ]
    assert item["sessionId"] == session_id
    assert (item["lastUpdatedAt"] - started["createdAt"]).total_seconds() == pytest.approx(
        120, abs=0.5
    )  # a loaded machine takes its time between calls
    assert get(data, session_id)["createdAt"] == started["createdAt"]


def test_expiry_counts_from_creation_even_with_a_start_delay(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(start_delay=30)
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    clock.advance(59)
    assert get(data, session_id)["status"] == "READY"
    clock.advance(1)
    assert get(data, session_id)["status"] == "TERMINATED"


def test_stop_terminates(emulator: EmulatorHandle, clock: EmulatorClock) -> None:
    data = emulator.client()
    started = start(data)
    clock.advance(10)
    stopped = stop(data, started["sessionId"])
    assert (stopped["codeInterpreterIdentifier"], stopped["sessionId"]) == (BUILTIN, started["sessionId"])
    assert (stopped["lastUpdatedAt"] - started["createdAt"]).total_seconds() == pytest.approx(
        10, abs=0.5
    )  # a loaded machine takes its time between calls
    assert get(data, started["sessionId"])["status"] == "TERMINATED"
    assert listed(data, status="TERMINATED") == [started["sessionId"]]


def test_stopping_a_terminated_session_succeeds(emulator: EmulatorHandle, clock: EmulatorClock) -> None:
    data = emulator.client()
    stopped_id = start(data)["sessionId"]
    first = stop(data, stopped_id)
    clock.advance(5)
    again = stop(data, stopped_id)
    assert again["lastUpdatedAt"] == first["lastUpdatedAt"]  # it ended once, when first stopped

    expired = start(data, sessionTimeoutSeconds=60)
    clock.advance(100)
    answer = stop(data, expired["sessionId"])
    assert (answer["lastUpdatedAt"] - expired["createdAt"]).total_seconds() == pytest.approx(
        60, abs=0.5
    )  # a loaded machine takes its time between calls
    assert get(data, expired["sessionId"])["status"] == "TERMINATED"


def test_stopping_a_starting_session_terminates_it(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(start_delay=10)
    data = emulator.client()
    session_id = start(data)["sessionId"]
    stop(data, session_id)
    clock.advance(10)
    assert get(data, session_id)["status"] == "TERMINATED"  # never READY


def test_stopping_an_unknown_session_is_not_found(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    assert code_of(lambda: stop(data, "NOSUCHSESSION0123456789")) == ("ResourceNotFoundException", 404)
    # A real session under the wrong interpreter is unknown too.
    session_id = start(data)["sessionId"]
    assert code_of(lambda: stop(data, session_id, "nobody_here-a1b2c3d4e5"))[1] == 404
    assert get(data, session_id)["status"] == "READY"


def test_terminated_sessions_are_kept_until_the_retention_passes(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(terminated_retention=60)
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    clock.advance(60 + 59)
    assert get(data, session_id)["status"] == "TERMINATED"
    clock.advance(1)
    assert code_of(lambda: get(data, session_id)) == ("ResourceNotFoundException", 404)
    assert listed(data, status="TERMINATED") == []
    assert emulator.sessions() == []


def test_terminated_sessions_are_kept_forever_by_default(
    emulator: EmulatorHandle, clock: EmulatorClock
) -> None:
    data = emulator.client()
    session_id = start(data, sessionTimeoutSeconds=60)["sessionId"]
    clock.advance(10 * 365 * 24 * 3600)
    assert get(data, session_id)["status"] == "TERMINATED"


# -- identifiers ---------------------------------------------------------------------------------------


def test_arn_identifiers_name_the_same_interpreter(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    data = emulator.client()
    session_id = start(data, codeInterpreterIdentifier=BUILTIN_ARN)["sessionId"]
    assert get(data, session_id)["codeInterpreterIdentifier"] == BUILTIN
    assert get(data, session_id, BUILTIN_ARN)["sessionId"] == session_id
    assert listed(data, BUILTIN_ARN) == [session_id]
    stop(data, session_id, BUILTIN_ARN)

    custom_id = start(data, codeInterpreterIdentifier=CUSTOM_ARN)["sessionId"]
    assert get(data, custom_id, CUSTOM)["status"] == "READY"
    assert emulator.client("bedrock-agentcore-control").get_code_interpreter(codeInterpreterId=CUSTOM)[
        "codeInterpreterArn"
    ] == (CUSTOM_ARN)


@pytest.mark.parametrize(
    "arn",
    [
        BUILTIN_ARN.replace("us-east-1", "us-west-2"),
        CUSTOM_ARN.replace("us-east-1", "eu-west-1"),
        CUSTOM_ARN.replace(ACCOUNT, "210987654321"),
    ],
    ids=["builtin-other-region", "custom-other-region", "custom-other-account"],
)
def test_an_arn_from_elsewhere_names_nothing_here(start_emulator: StartEmulator, arn: str) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    data = emulator.client(region="us-east-1")
    assert code_of(lambda: start(data, codeInterpreterIdentifier=arn)) == ("ResourceNotFoundException", 404)
    assert code_of(lambda: data.list_code_interpreter_sessions(codeInterpreterIdentifier=arn))[1] == 404
    assert emulator.sessions() == []


# -- idempotency ---------------------------------------------------------------------------------------


def test_same_token_same_parameters_same_session(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    first = start(data, name="a", sessionTimeoutSeconds=600, clientToken=TOKEN)
    again = start(data, name="a", sessionTimeoutSeconds=600, clientToken=TOKEN)
    assert again["sessionId"] == first["sessionId"] and again["createdAt"] == first["createdAt"]
    assert [s["sessionId"] for s in emulator.sessions()] == [first["sessionId"]]
    assert emulator.call_count("StartCodeInterpreterSession", "Success") == 2


def test_same_token_different_parameters_is_a_conflict(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    start(data, name="a", sessionTimeoutSeconds=600, clientToken=TOKEN)
    for changed in ({"name": "b", "sessionTimeoutSeconds": 600}, {"name": "a", "sessionTimeoutSeconds": 601}):
        response = error_of(lambda changed=changed: start(data, clientToken=TOKEN, **changed))
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ConflictException",
            409,
        )
        assert TOKEN in response["Error"]["Message"]
    assert len(emulator.sessions()) == 1


def test_parameters_are_compared_as_sent(emulator: EmulatorHandle) -> None:
    """The same interpreter by id, then by ARN, under one token: a different request (documented)."""
    data = emulator.client()
    start(data, clientToken=TOKEN)
    assert code_of(lambda: start(data, codeInterpreterIdentifier=BUILTIN_ARN, clientToken=TOKEN))[0] == (
        "ConflictException"
    )


def test_a_token_is_remembered_after_its_session_ends(emulator: EmulatorHandle, clock: EmulatorClock) -> None:
    data = emulator.client()
    first = start(data, sessionTimeoutSeconds=60, clientToken=TOKEN)
    clock.advance(3600)
    assert start(data, sessionTimeoutSeconds=60, clientToken=TOKEN)["sessionId"] == first["sessionId"]
    assert len(emulator.sessions()) == 1


def test_a_refused_start_does_not_use_up_its_token(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed(create_delay=10)})
    data = emulator.client()
    assert (
        code_of(lambda: start(data, codeInterpreterIdentifier=CUSTOM, clientToken=TOKEN))[0]
        == "ConflictException"
    )
    clock.advance(10)
    assert start(data, codeInterpreterIdentifier=CUSTOM, clientToken=TOKEN)["sessionId"]


def test_stop_with_a_token_is_idempotent(emulator: EmulatorHandle, clock: EmulatorClock) -> None:
    data = emulator.client()
    session_id = start(data)["sessionId"]
    first = stop(data, session_id, clientToken=TOKEN)
    clock.advance(30)
    again = stop(data, session_id, clientToken=TOKEN)
    assert again == {**first, "ResponseMetadata": again["ResponseMetadata"]}
    other = start(data)["sessionId"]
    assert code_of(lambda: stop(data, other, clientToken=TOKEN)) == ("ConflictException", 409)
    assert get(data, other)["status"] == "READY"  # the refused Stop stopped nothing


# -- regions -------------------------------------------------------------------------------------------


def test_regions_are_separate(emulator: EmulatorHandle) -> None:
    west, east = emulator.client(region="us-west-2"), emulator.client(region="us-east-1")
    session_id = start(west)["sessionId"]
    assert listed(east) == [] and listed(west) == [session_id]
    assert code_of(lambda: get(east, session_id)) == ("ResourceNotFoundException", 404)
    assert code_of(lambda: stop(east, session_id))[1] == 404
    assert get(west, session_id)["status"] == "READY"
    # Tokens are per region too: the same one starts a second session elsewhere.
    assert start(west, clientToken=TOKEN)["sessionId"] != start(east, clientToken=TOKEN)["sessionId"]
    assert sorted(s["region"] for s in emulator.sessions()) == ["us-east-1", "us-west-2", "us-west-2"]
    assert [s["region"] for s in emulator.sessions("us-east-1")] == ["us-east-1"]


def test_the_region_comes_from_the_signatures_credential_scope(emulator: EmulatorHandle) -> None:
    """Nothing but the SigV4 credential scope says which region a request is for."""
    url = f"{emulator.endpoint_url}/code-interpreters/{BUILTIN}/sessions/start"
    body = json.dumps({"clientToken": token(7)})
    request = AWSRequest(method="PUT", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIDANYONE", "any-secret"), "bedrock-agentcore", "eu-north-1").add_auth(request)
    response = requests.put(url, data=body, headers=dict(request.headers), timeout=10)
    assert response.status_code == 200
    session_id = response.json()["sessionId"]
    assert [(s["region"], s["sessionId"]) for s in emulator.sessions()] == [("eu-north-1", session_id)]
    assert get(emulator.client(region="eu-north-1"), session_id)["status"] == "READY"
