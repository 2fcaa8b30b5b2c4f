"""Interpreters: the built-in one, seeded ones, and the control plane's create/list/delete.

Time moves by the emulator's clock (`clock.advance`), never by sleeping.
"""

from __future__ import annotations

from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorClock, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle

from .conftest import ACCOUNT, BUILTIN, CUSTOM, FrozenClock, StartEmulator, code_of, start, token

PUBLIC = {"networkMode": "PUBLIC"}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_builtin_interpreter_is_always_ready(
    emulator: EmulatorHandle, clock: EmulatorClock, region: str
) -> None:
    control = emulator.client("bedrock-agentcore-control", region)
    data = emulator.client("bedrock-agentcore", region)
    for _ in range(2):
        got = control.get_code_interpreter(codeInterpreterId=BUILTIN)
        assert got["status"] == "READY"
        assert (
            got["codeInterpreterArn"] == f"arn:aws:bedrock-agentcore:{region}:aws:code-interpreter/{BUILTIN}"
        )
        (summary,) = control.list_code_interpreters(type="SYSTEM")["codeInterpreterSummaries"]
        assert (summary["codeInterpreterId"], summary["status"]) == (BUILTIN, "READY")
        assert start(data)["codeInterpreterIdentifier"] == BUILTIN  # the data plane agrees
        clock.advance(365 * 24 * 3600)  # and it stays so


def test_seeded_interpreter_is_creating_then_ready(start_emulator: StartEmulator) -> None:
    clock = FrozenClock()  # a boundary half a second away: wall time must not move it
    emulator = start_emulator(clock=clock, interpreters={CUSTOM: InterpreterSeed(create_delay=30)})
    control, data = emulator.client("bedrock-agentcore-control"), emulator.client()
    got = control.get_code_interpreter(codeInterpreterId=CUSTOM)
    assert got["status"] == "CREATING" and got["name"] == "datasci_vpc"
    assert got["codeInterpreterArn"] == (
        f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:code-interpreter-custom/{CUSTOM}"
    )
    assert code_of(lambda: start(data, codeInterpreterIdentifier=CUSTOM)) == ("ConflictException", 409)
    clock.advance(29.5)
    assert control.get_code_interpreter(codeInterpreterId=CUSTOM)["status"] == "CREATING"
    clock.advance(0.5)
    got = control.get_code_interpreter(codeInterpreterId=CUSTOM)
    assert got["status"] == "READY" and "failureReason" not in got
    assert got["lastUpdatedAt"] > got["createdAt"]
    assert start(data, codeInterpreterIdentifier=CUSTOM)["codeInterpreterIdentifier"] == CUSTOM


def test_seeds_may_be_plain_mappings_and_exist_in_every_region(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: {"network_mode": "SANDBOX", "name": "renamed"}})
    for region in ("us-east-1", "sa-east-1"):
        got = emulator.client("bedrock-agentcore-control", region).get_code_interpreter(
            codeInterpreterId=CUSTOM
        )
        assert (got["status"], got["name"], got["networkConfiguration"]) == (
            "READY",
            "renamed",
            {"networkMode": "SANDBOX"},
        )
        assert f":{region}:{ACCOUNT}:" in got["codeInterpreterArn"]


def test_seeded_failure_ends_create_failed(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(
        interpreters={CUSTOM: InterpreterSeed(create_delay=5, failure_reason="no subnet")}
    )
    control = emulator.client("bedrock-agentcore-control")
    assert control.get_code_interpreter(codeInterpreterId=CUSTOM)["status"] == "CREATING"
    clock.advance(5)
    got = control.get_code_interpreter(codeInterpreterId=CUSTOM)
    assert (got["status"], got["failureReason"]) == ("CREATE_FAILED", "no subnet")
    code, status = code_of(lambda: start(emulator.client(), codeInterpreterIdentifier=CUSTOM))
    assert (code, status) == ("ValidationException", 400)


def test_create_goes_creating_then_ready(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(create_delay=20)
    control = emulator.client("bedrock-agentcore-control")
    role = f"arn:aws:iam::{ACCOUNT}:role/interpreter"
    created = control.create_code_interpreter(
        name="analytics", description="for notebooks", executionRoleArn=role, networkConfiguration=PUBLIC
    )
    interpreter_id = created["codeInterpreterId"]
    assert created["status"] == "CREATING"
    assert interpreter_id.startswith("analytics-") and len(interpreter_id) == len("analytics-") + 10
    assert created["codeInterpreterArn"].endswith(f":{ACCOUNT}:code-interpreter-custom/{interpreter_id}")
    data = emulator.client()
    assert code_of(lambda: start(data, codeInterpreterIdentifier=interpreter_id))[0] == "ConflictException"
    clock.advance(20)
    got = control.get_code_interpreter(codeInterpreterId=interpreter_id)
    assert (got["status"], got["name"], got["description"], got["executionRoleArn"]) == (
        "READY",
        "analytics",
        "for notebooks",
        role,
    )
    assert got["createdAt"] == created["createdAt"]
    assert start(data, codeInterpreterIdentifier=interpreter_id)["sessionId"]


def test_fail_create_ends_create_failed_with_a_reason(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(create_delay=5, fail_create=frozenset({"broken"}))
    control = emulator.client("bedrock-agentcore-control")
    broken = control.create_code_interpreter(name="broken", networkConfiguration=PUBLIC)
    fine = control.create_code_interpreter(name="fine", networkConfiguration=PUBLIC)
    assert broken["status"] == "CREATING"
    during = control.get_code_interpreter(codeInterpreterId=broken["codeInterpreterId"])
    assert during["status"] == "CREATING" and "failureReason" not in during  # not before it has failed
    clock.advance(5)
    got = control.get_code_interpreter(codeInterpreterId=broken["codeInterpreterId"])
    assert got["status"] == "CREATE_FAILED" and "broken" in got["failureReason"]
    assert control.get_code_interpreter(codeInterpreterId=fine["codeInterpreterId"])["status"] == "READY"
    data = emulator.client()
    assert code_of(lambda: start(data, codeInterpreterIdentifier=broken["codeInterpreterId"])) == (
        "ValidationException",
        400,
    )


def test_delete_goes_deleting_then_gone(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(create_delay=3)
    control, data = emulator.client("bedrock-agentcore-control"), emulator.client()
    interpreter_id = control.create_code_interpreter(name="shortlived", networkConfiguration=PUBLIC)[
        "codeInterpreterId"
    ]
    clock.advance(3)
    assert control.delete_code_interpreter(codeInterpreterId=interpreter_id)["status"] == "DELETING"
    assert control.get_code_interpreter(codeInterpreterId=interpreter_id)["status"] == "DELETING"
    assert code_of(lambda: start(data, codeInterpreterIdentifier=interpreter_id)) == (
        "ConflictException",
        409,
    )
    clock.advance(3)
    assert code_of(lambda: control.get_code_interpreter(codeInterpreterId=interpreter_id)) == (
        "ResourceNotFoundException",
        404,
    )
    assert code_of(lambda: control.delete_code_interpreter(codeInterpreterId=interpreter_id))[1] == 404
    assert code_of(lambda: start(data, codeInterpreterIdentifier=interpreter_id))[1] == 404
    listed = control.list_code_interpreters()["codeInterpreterSummaries"]
    assert [s["codeInterpreterId"] for s in listed] == [BUILTIN]
    # The name is free again.
    assert control.create_code_interpreter(name="shortlived", networkConfiguration=PUBLIC)[
        "codeInterpreterId"
    ]


def test_delete_without_delay_answers_deleted(emulator: EmulatorHandle) -> None:
    control = emulator.client("bedrock-agentcore-control")
    interpreter_id = control.create_code_interpreter(name="gone", networkConfiguration=PUBLIC)[
        "codeInterpreterId"
    ]
    assert control.delete_code_interpreter(codeInterpreterId=interpreter_id)["status"] == "DELETED"


def test_builtin_cannot_be_deleted_and_names_are_unique(emulator: EmulatorHandle) -> None:
    control = emulator.client("bedrock-agentcore-control")
    assert code_of(lambda: control.delete_code_interpreter(codeInterpreterId=BUILTIN)) == (
        "ValidationException",
        400,
    )
    assert control.get_code_interpreter(codeInterpreterId=BUILTIN)["status"] == "READY"
    control.create_code_interpreter(name="once", networkConfiguration=PUBLIC)
    assert code_of(lambda: control.create_code_interpreter(name="once", networkConfiguration=PUBLIC)) == (
        "ConflictException",
        409,
    )
    # Another region is another namespace.
    other = emulator.client("bedrock-agentcore-control", "eu-west-1")
    assert other.create_code_interpreter(name="once", networkConfiguration=PUBLIC)["codeInterpreterId"]


def test_create_is_idempotent_by_client_token(emulator: EmulatorHandle) -> None:
    control = emulator.client("bedrock-agentcore-control")
    params: dict[str, Any] = {"name": "idem", "networkConfiguration": PUBLIC, "clientToken": token(1)}
    first = control.create_code_interpreter(**params)
    again = control.create_code_interpreter(**params)
    assert again["codeInterpreterId"] == first["codeInterpreterId"]
    custom = control.list_code_interpreters(type="CUSTOM")["codeInterpreterSummaries"]
    assert [s["codeInterpreterId"] for s in custom] == [first["codeInterpreterId"]]
    changed = {**params, "networkConfiguration": {"networkMode": "SANDBOX"}}
    assert code_of(lambda: control.create_code_interpreter(**changed)) == ("ConflictException", 409)


def test_custom_interpreters_belong_to_their_region(emulator: EmulatorHandle) -> None:
    east = emulator.client("bedrock-agentcore-control", "us-east-1")
    west = emulator.client("bedrock-agentcore-control", "us-west-2")
    interpreter_id = east.create_code_interpreter(name="local", networkConfiguration=PUBLIC)[
        "codeInterpreterId"
    ]
    assert code_of(lambda: west.get_code_interpreter(codeInterpreterId=interpreter_id))[0] == (
        "ResourceNotFoundException"
    )
    assert [s["codeInterpreterId"] for s in west.list_code_interpreters()["codeInterpreterSummaries"]] == [
        BUILTIN
    ]


def test_list_interpreters_filters_by_type_and_pages(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    control = emulator.client("bedrock-agentcore-control")
    made = [control.create_code_interpreter(name=f"ci_{i}", networkConfiguration=PUBLIC) for i in range(4)]
    system = control.list_code_interpreters(type="SYSTEM")["codeInterpreterSummaries"]
    assert [s["codeInterpreterId"] for s in system] == [BUILTIN]
    expected_custom = [CUSTOM, *(m["codeInterpreterId"] for m in made)]
    custom = control.list_code_interpreters(type="CUSTOM")["codeInterpreterSummaries"]
    assert [s["codeInterpreterId"] for s in custom] == expected_custom
    # boto3's own paginator walks the nextToken chain: every interpreter once, in a stable order.
    pages = list(control.get_paginator("list_code_interpreters").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["codeInterpreterSummaries"]) for p in pages] == [2, 2, 2]
    walked = [s["codeInterpreterId"] for p in pages for s in p["codeInterpreterSummaries"]]
    assert walked == [BUILTIN, *expected_custom]
    # A token for one filter is no good for another.
    page = control.list_code_interpreters(type="CUSTOM", maxResults=1)
    assert code_of(lambda: control.list_code_interpreters(type="SYSTEM", nextToken=page["nextToken"])) == (
        "ValidationException",
        400,
    )
