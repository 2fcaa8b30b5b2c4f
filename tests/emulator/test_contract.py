"""Contract: every operation through a real boto3 client, every answer checked against the model.

botocore's parameter validation stays on (requests are valid by the model), and each parsed
response is walked against the operation's output shape: required members present, no
unmodelled members, enums in range, strings within pattern and length, timestamps parsed,
HTTP status as the model says.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape

from .conftest import BUILTIN, CUSTOM, TOKEN, StartEmulator


def conforms(shape: Shape, value: Any, path: str = "") -> list[str]:
    """Problems with `value` as an instance of `shape` (empty when it conforms)."""
    problems: list[str] = []
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not a structure"]
        for required in shape.required_members:  # type: ignore[attr-defined]
            if required not in value:
                problems.append(f"{path}.{required}: required member missing")
        for name, item in value.items():
            if name == "ResponseMetadata" and not path:
                continue
            member = shape.members.get(name)  # type: ignore[attr-defined]
            if member is None:
                problems.append(f"{path}.{name}: not in the model")
            else:
                problems += conforms(member, item, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        for index, item in enumerate(value):
            problems += conforms(shape.member, item, f"{path}[{index}]")  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string"]
        if meta.get("enum") and value not in meta["enum"]:
            problems.append(f"{path}: {value!r} not in enum {meta['enum']}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if ("min" in meta and len(value) < meta["min"]) or ("max" in meta and len(value) > meta["max"]):
            problems.append(f"{path}: length {len(value)} outside {meta.get('min')}..{meta.get('max')}")
    elif kind == "timestamp":
        if not isinstance(value, datetime):
            problems.append(f"{path}: timestamp did not parse ({value!r})")
    elif kind in ("integer", "long") and not isinstance(value, int):
        problems.append(f"{path}: not an integer")
    return problems


def check(client: Any, operation: str, response: dict[str, Any]) -> None:
    model: OperationModel = client.meta.service_model.operation_model(operation)
    assert conforms(model.output_shape, response) == [], operation
    assert response["ResponseMetadata"]["HTTPStatusCode"] == model.http.get("responseCode", 200)


def test_every_operation_answers_in_the_models_shape(start_emulator: StartEmulator) -> None:
    from agentcore_operator.local.agentcore import InterpreterSeed

    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()}, start_delay=0)
    data = emulator.client("bedrock-agentcore")
    control = emulator.client("bedrock-agentcore-control")

    started = data.start_code_interpreter_session(
        codeInterpreterIdentifier=BUILTIN, name="contract", sessionTimeoutSeconds=900, clientToken=TOKEN
    )
    check(data, "StartCodeInterpreterSession", started)
    session_id = started["sessionId"]
    got = data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
    check(data, "GetCodeInterpreterSession", got)
    assert got["status"] == "READY" and got["name"] == "contract"
    listed = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=5)
    check(data, "ListCodeInterpreterSessions", listed)
    assert [item["sessionId"] for item in listed["items"]] == [session_id]
    stopped = data.stop_code_interpreter_session(
        codeInterpreterIdentifier=BUILTIN, sessionId=session_id, clientToken=TOKEN
    )
    check(data, "StopCodeInterpreterSession", stopped)

    for identifier in (BUILTIN, CUSTOM):
        check(control, "GetCodeInterpreter", control.get_code_interpreter(codeInterpreterId=identifier))
    check(control, "ListCodeInterpreters", control.list_code_interpreters(maxResults=10))
    created = control.create_code_interpreter(
        name="contract_ci", networkConfiguration={"networkMode": "PUBLIC"}
    )
    check(control, "CreateCodeInterpreter", created)
    deleted = control.delete_code_interpreter(codeInterpreterId=created["codeInterpreterId"])
    check(control, "DeleteCodeInterpreter", deleted)


@pytest.mark.parametrize(
    ("operation", "call", "code"),
    [
        (
            "GetCodeInterpreterSession",
            lambda d, c: d.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="NOPE"),
            "ResourceNotFoundException",
        ),
        (
            "StopCodeInterpreterSession",
            lambda d, c: d.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="NOPE"),
            "ResourceNotFoundException",
        ),
        (
            "StartCodeInterpreterSession",
            lambda d, c: d.start_code_interpreter_session(codeInterpreterIdentifier="missing_one-a1b2c3d4e5"),
            "ResourceNotFoundException",
        ),
        (
            "StartCodeInterpreterSession",
            lambda d, c: d.start_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, sessionTimeoutSeconds=30
            ),
            "ValidationException",
        ),
        (
            "ListCodeInterpreterSessions",
            lambda d, c: d.list_code_interpreter_sessions(
                codeInterpreterIdentifier=BUILTIN, nextToken="not-a-token"
            ),
            "ValidationException",
        ),
        (
            "GetCodeInterpreter",
            lambda d, c: c.get_code_interpreter(codeInterpreterId="missing_one-a1b2c3d4e5"),
            "ResourceNotFoundException",
        ),
        (
            "DeleteCodeInterpreter",
            lambda d, c: c.delete_code_interpreter(codeInterpreterId=BUILTIN),
            "ValidationException",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_errors_come_back_with_the_models_code_and_status(
    start_emulator: StartEmulator, operation: str, call: Any, code: str
) -> None:
    emulator = start_emulator()
    data, control = emulator.client("bedrock-agentcore"), emulator.client("bedrock-agentcore-control")
    with pytest.raises(ClientError) as caught:
        call(data, control)
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"]
    client = data if operation in data.meta.service_model.operation_names else control
    model = client.meta.service_model.operation_model(operation)
    status = {e.name: e.metadata["error"]["httpStatusCode"] for e in model.error_shapes}[code]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
