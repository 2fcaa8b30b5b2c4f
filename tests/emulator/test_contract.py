"""Contract: every operation through a real boto3 client, every answer checked against the model.

botocore's parameter validation stays on (requests are valid by the model). Each answer is
checked twice against the operation's shape from the botocore model installed with boto3:

- as boto3 parsed it: required members present, no unmodelled members, enums in range,
  strings within pattern and length, integers within range, timestamps parsed to datetimes;
- as it went over the wire (the JSON body, captured with botocore's `after-call` event):
  the same, by wire names. botocore's parser silently drops members it does not know, so
  only the raw body can show an unmodelled member, and only it shows how timestamps travel.

The HTTP status must be the model's `responseCode`, and every error the emulator produces
must carry the code and HTTP status the model gives it, in a body that fits the error shape.

InvokeCodeInterpreter answers with an event stream: its raw bytes are kept (botocore's
`before-parse` event, then handed back to botocore to parse), decoded with botocore's own
`EventStreamBuffer`, and each event's payload is checked against its member of the stream
shape, by wire names, as a JSON body is.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.session
import pytest
from agentcore_operator.local.agentcore import EmulatorClock, EmulatorConfig, InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator
from agentcore_operator.local.agentcore.wire import encode_token
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape

from .conftest import (
    BUILTIN,
    BUILTIN_ARN,
    CUSTOM,
    CUSTOM_ARN,
    TOKEN,
    FakeMonotonic,
    StartEmulator,
    get,
    start,
    stop,
    token,
)

# The operations the issues name (not the emulator's own list: the test must not follow it).
DATA_OPERATIONS = (
    "StartCodeInterpreterSession",
    "GetCodeInterpreterSession",
    "ListCodeInterpreterSessions",
    "StopCodeInterpreterSession",
    "InvokeCodeInterpreter",
)
CONTROL_OPERATIONS = (
    "GetCodeInterpreter",
    "ListCodeInterpreters",
    "CreateCodeInterpreter",
    "DeleteCodeInterpreter",
)
ALL_OPERATIONS = (*DATA_OPERATIONS, *CONTROL_OPERATIONS)
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


# -- the checker -----------------------------------------------------------------------------


def conforms(
    shape: Shape, value: Any, path: str = "$", *, wire: bool = False, timestamp_format: bool = True
) -> list[str]:
    """Problems with `value` as an instance of `shape` (empty when it conforms).

    `wire=True` reads `value` as the JSON body: members by their wire names, members bound to
    headers or the URI absent, timestamps in the member's `timestampFormat` (rest-json's
    default: epoch seconds) unless `timestamp_format=False`.
    """
    kind = shape.type_name
    meta = shape.metadata
    if value is None:
        return [f"{path}: null (absent members are left out, not null)"]
    problems: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not a structure ({value!r})"]
        members: dict[str, tuple[str, Shape]] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            if wire and member.serialization.get("location"):
                continue
            members[member.serialization.get("name", name) if wire else name] = (name, member)
        present = {members[key][0] for key in value if key in members}
        for required in shape.required_members:  # type: ignore[attr-defined]
            if required not in present:
                problems.append(f"{path}.{required}: required member missing")
        for key, item in value.items():
            if key == "ResponseMetadata" and path == "$" and not wire:
                continue  # botocore's own addition
            if key not in members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += conforms(
                    members[key][1], item, f"{path}.{key}", wire=wire, timestamp_format=timestamp_format
                )
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list ({value!r})"]
        if ("min" in meta and len(value) < meta["min"]) or ("max" in meta and len(value) > meta["max"]):
            problems.append(f"{path}: {len(value)} items, outside {meta.get('min')}..{meta.get('max')}")
        for index, item in enumerate(value):
            problems += conforms(
                shape.member,  # type: ignore[attr-defined]
                item,
                f"{path}[{index}]",
                wire=wire,
                timestamp_format=timestamp_format,
            )
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not a map ({value!r})"]
        for key, item in value.items():
            problems += conforms(shape.key, key, f"{path}<key>", wire=wire)  # type: ignore[attr-defined]
            problems += conforms(shape.value, item, f"{path}[{key!r}]", wire=wire)  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string ({value!r})"]
        if meta.get("enum") and value not in meta["enum"]:
            problems.append(f"{path}: {value!r} not in enum {meta['enum']}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if ("min" in meta and len(value) < meta["min"]) or ("max" in meta and len(value) > meta["max"]):
            problems.append(f"{path}: length {len(value)} outside {meta.get('min')}..{meta.get('max')}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: not an integer ({value!r})"]
        if ("min" in meta and value < meta["min"]) or ("max" in meta and value > meta["max"]):
            problems.append(f"{path}: {value} outside {meta.get('min')}..{meta.get('max')}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: not a boolean ({value!r})")
    elif kind == "blob":
        if wire and not isinstance(value, str):
            problems.append(f"{path}: not a base64 string ({value!r})")
        elif not wire and not isinstance(value, bytes):
            problems.append(f"{path}: not bytes ({value!r})")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: not a number ({value!r})")
    elif kind == "timestamp":
        if not wire:
            if not isinstance(value, datetime) or value.tzinfo is None:
                problems.append(f"{path}: not an aware datetime ({value!r})")
        else:
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            is_iso = isinstance(value, str) and bool(ISO8601.match(value))
            expected = shape.serialization.get("timestampFormat", "unixTimestamp")
            if not timestamp_format:
                if not (is_number or is_iso):
                    problems.append(f"{path}: not a timestamp ({value!r})")
            elif expected == "iso8601" and not is_iso:
                problems.append(f"{path}: {value!r} is not an ISO 8601 string (the model's timestampFormat)")
            elif expected == "unixTimestamp" and not is_number:
                problems.append(f"{path}: {value!r} is not epoch seconds (the model's timestampFormat)")
    return problems


@functools.cache
def model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def test_the_checker_catches_each_kind_of_deviation() -> None:
    """The checker itself must be able to fail, or the contract tests prove nothing."""
    shape = model("bedrock-agentcore-control").operation_model("GetCodeInterpreter").output_shape
    when = datetime.fromisoformat("2025-07-16T00:00:00+00:00")
    good = {
        "codeInterpreterId": CUSTOM,
        "codeInterpreterArn": CUSTOM_ARN,
        "name": "datasci_vpc",
        "networkConfiguration": {"networkMode": "PUBLIC"},
        "status": "READY",
        "createdAt": when,
        "lastUpdatedAt": when,
    }
    assert conforms(shape, good) == []
    broken: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in good.items() if k != "status"}, "$.status: required member missing"),
        ({**good, "colour": "blue"}, "$.colour: not a member"),
        ({**good, "status": "STARTING"}, "not in enum"),
        ({**good, "codeInterpreterId": "no.dots-here"}, "does not match"),
        ({**good, "description": ""}, "length 0 outside 1..4096"),
        ({**good, "createdAt": "2025-07-16T00:00:00Z"}, "not an aware datetime"),
        ({**good, "createdAt": when.replace(tzinfo=None)}, "not an aware datetime"),
        ({**good, "networkConfiguration": {}}, "$.networkConfiguration.networkMode: required member missing"),
        ({**good, "networkConfiguration": {"networkMode": "WIRED"}}, "not in enum"),
        ({**good, "name": None}, "null"),
    ]
    for value, fragment in broken:
        problems = conforms(shape, value)
        assert any(fragment in p for p in problems), (fragment, problems)
    wire = {**good, "createdAt": 1752624000.0, "lastUpdatedAt": "2025-07-16T00:00:00Z"}
    assert conforms(shape, wire, wire=True, timestamp_format=False) == []
    assert conforms(shape, wire, wire=True) == [
        "$.createdAt: 1752624000.0 is not an ISO 8601 string (the model's timestampFormat)"
    ]
    session_shape = model("bedrock-agentcore").operation_model("GetCodeInterpreterSession").output_shape
    session = {"codeInterpreterIdentifier": BUILTIN, "sessionId": "A1", "createdAt": when}
    assert conforms(session_shape, {**session, "sessionTimeoutSeconds": 28801}) == [
        "$.sessionTimeoutSeconds: 28801 outside 1..28800"
    ]
    assert conforms(session_shape, {**session, "sessionTimeoutSeconds": True}) == [
        "$.sessionTimeoutSeconds: not an integer (True)"
    ]
    list_shape = model("bedrock-agentcore").operation_model("ListCodeInterpreterSessions").output_shape
    item = {**session, "status": "READY"}
    assert conforms(list_shape, {"items": [item, {**item, "sessionId": "bad id!"}]}) == [
        "$.items[1].sessionId: 'bad id!' does not match [0-9a-zA-Z]{1,40}"
    ]


# -- recording what went over the wire ---------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    operation: OperationModel
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    parsed: dict[str, Any]
    events: list[dict[str, Any]]  # an event stream's events as botocore parsed them (filled by invoke())

    @property
    def name(self) -> str:
        return str(self.operation.name)

    @property
    def streamed(self) -> bool:
        return bool(self.operation.has_event_stream_output) and self.status < 300

    def wire(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}

    def messages(self) -> list[Any]:
        """The event stream's messages, decoded by botocore's own parser (checksums checked)."""
        buffer = EventStreamBuffer()
        buffer.add_data(self.body)
        return list(buffer)


class _Replay:
    """Bytes already read from the socket, handed back to botocore's EventStream."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self) -> Iterator[bytes]:
        yield self.data

    def close(self) -> None:
        pass


class Recorder:
    """Keeps every HTTP answer a client receives, raw and parsed."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._streamed: bytes | None = None

    def watch(self, client: Any) -> Any:
        client.meta.events.register("before-parse", self._before_parse)
        client.meta.events.register("after-call", self._after_call)
        return client

    def _before_parse(self, operation_model: OperationModel, response_dict: dict[str, Any], **_: Any) -> None:
        if operation_model.has_event_stream_output and response_dict["status_code"] < 300:
            self._streamed = response_dict["body"].read()
            response_dict["body"] = _Replay(self._streamed)

    def _after_call(
        self, http_response: Any, parsed: dict[str, Any], model: OperationModel, **_: Any
    ) -> None:
        body, self._streamed = (
            (self._streamed, None) if self._streamed is not None else (http_response.content, None)
        )
        self.exchanges.append(
            Exchange(
                model,
                http_response.status_code,
                {k.lower(): v for k, v in http_response.headers.items()},
                body,
                parsed,
                [],
            )
        )

    def last(self) -> Exchange:
        return self.exchanges[-1]


def invoke(
    recorder: Recorder, data: Any, session_id: str, name: str, **arguments: Any
) -> list[dict[str, Any]]:
    """InvokeCodeInterpreter on the built-in interpreter; the parsed events, also kept on the exchange."""
    response = data.invoke_code_interpreter(
        codeInterpreterIdentifier=BUILTIN, sessionId=session_id, name=name, arguments=arguments
    )
    events = list(response["stream"])
    recorder.last().events.extend(events)
    return events


def check_stream(exchange: Exchange, *, timestamp_format: bool = False) -> list[str]:
    """Each message is a modelled event with the three headers AWS sends, its payload in shape."""
    stream = exchange.operation.output_shape.members["stream"]
    problems: list[str] = []
    if exchange.headers.get("content-type") != "application/vnd.amazon.eventstream":
        problems.append(f"{exchange.name}: content-type {exchange.headers.get('content-type')!r}")
    session = exchange.operation.output_shape.members["sessionId"]
    if not re.fullmatch(session.metadata["pattern"], exchange.headers.get(session.serialization["name"], "")):
        problems.append(f"{exchange.name}: no session id header")
    messages = exchange.messages()
    if not messages:
        problems.append(f"{exchange.name}: an empty event stream")
    for message in messages:
        headers = message.headers
        if headers.get(":message-type") != "event" or headers.get(":content-type") != "application/json":
            problems.append(f"{exchange.name}: message headers {headers}")
            continue
        member = stream.members.get(headers.get(":event-type"))
        if member is None:
            problems.append(f"{exchange.name}: event {headers.get(':event-type')!r} is not in {stream.name}")
            continue
        problems += [
            f"{exchange.name} event {p}"
            for p in conforms(
                member, json.loads(message.payload), wire=True, timestamp_format=timestamp_format
            )
        ]
    for event in exchange.events:
        for key, value in event.items():
            problems += [f"{exchange.name} parsed event {p}" for p in conforms(stream.members[key], value)]
    return problems


def check_success(exchange: Exchange, *, timestamp_format: bool = False) -> list[str]:
    shape = exchange.operation.output_shape
    if exchange.streamed:
        problems = check_stream(exchange, timestamp_format=timestamp_format)
    else:
        problems = [f"{exchange.name} parsed {p}" for p in conforms(shape, exchange.parsed)]
        problems += [
            f"{exchange.name} wire {p}"
            for p in conforms(shape, exchange.wire(), wire=True, timestamp_format=timestamp_format)
        ]
    expected = exchange.operation.http.get("responseCode", 200)
    if exchange.status != expected:
        problems.append(f"{exchange.name}: HTTP {exchange.status}, the model says {expected}")
    if exchange.parsed["ResponseMetadata"]["HTTPStatusCode"] != expected:
        problems.append(f"{exchange.name}: ResponseMetadata.HTTPStatusCode is not {expected}")
    if not exchange.parsed["ResponseMetadata"].get("RequestId"):
        problems.append(f"{exchange.name}: no x-amzn-RequestId")
    return problems


# -- every operation, in every state the emulator can show ---------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Iterator[Recorder]:
    """Drive all eight operations through their interesting states; record every answer."""
    clock = EmulatorClock()
    config = EmulatorConfig(
        clock=clock,
        tps=0,
        start_delay=5,
        create_delay=10,
        fail_create=frozenset({"broken_ci"}),
        interpreters={
            CUSTOM: InterpreterSeed(),
            "seeded_fail-b1b2b3b4b5": InterpreterSeed(failure_reason="no"),
        },
    )
    recorder = Recorder()
    with running_emulator(config) as handle:
        data = recorder.watch(handle.client("bedrock-agentcore"))
        control = recorder.watch(handle.client("bedrock-agentcore-control"))

        # Sessions: starting (no status), READY, stopped, expired; named and not; by id and ARN.
        first = start(data, name="contract", sessionTimeoutSeconds=60, clientToken=TOKEN)["sessionId"]
        get(data, first)  # starting: no status
        data.list_code_interpreter_sessions(
            codeInterpreterIdentifier=BUILTIN
        )  # empty: starting ones are left out
        clock.advance(5)
        get(data, first)  # READY
        start(data, name="contract", sessionTimeoutSeconds=60, clientToken=TOKEN)  # idempotent replay
        second = start(data)["sessionId"]  # botocore fills in a clientToken; no name
        third = start(data, codeInterpreterIdentifier=CUSTOM_ARN, sessionTimeoutSeconds=28800)["sessionId"]
        clock.advance(5)
        get(data, second)
        get(data, third, CUSTOM)
        # Every tool, succeeding and failing, on a READY session.
        invoke(recorder, data, first, "executeCode", code="x = 6 * 7\nprint(x)", language="python")
        invoke(recorder, data, first, "executeCode", code="raise ValueError(x)")  # isError, stderr
        invoke(recorder, data, first, "executeCommand", command="echo out; echo err >&2")
        invoke(
            recorder,
            data,
            first,
            "writeFiles",
            content=[{"path": "notes/a.txt", "text": "hello"}, {"path": "b.bin", "blob": bytes(range(256))}],
        )
        invoke(recorder, data, first, "readFiles", paths=["notes/a.txt", "b.bin"])  # text and blob resources
        invoke(recorder, data, first, "readFiles", paths=["absent.txt"])  # isError
        invoke(recorder, data, first, "listFiles", directoryPath=".")
        invoke(recorder, data, first, "removeFiles", paths=["notes"])
        page = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=1)
        data.list_code_interpreter_sessions(
            codeInterpreterIdentifier=BUILTIN, maxResults=1, nextToken=page["nextToken"]
        )
        stop(data, second, clientToken=token(1))
        stop(data, second, clientToken=token(1))  # replay
        stop(data, second)  # already TERMINATED
        get(data, second)  # TERMINATED
        clock.advance(60)  # `first` expires
        get(data, first)
        stop(data, first)
        for status in ("READY", "TERMINATED"):
            data.list_code_interpreter_sessions(
                codeInterpreterIdentifier=BUILTIN, status=status, maxResults=100
            )
        data.list_code_interpreter_sessions(codeInterpreterIdentifier=CUSTOM_ARN)
        data.list_code_interpreter_sessions(codeInterpreterIdentifier=CUSTOM, status="TERMINATED")  # empty

        # Interpreters: built-in, seeded, CREATING, READY, CREATE_FAILED, DELETING, DELETED.
        control.get_code_interpreter(codeInterpreterId=BUILTIN)
        control.get_code_interpreter(codeInterpreterId=CUSTOM)
        control.get_code_interpreter(codeInterpreterId="seeded_fail-b1b2b3b4b5")
        created = control.create_code_interpreter(
            name="contract_ci",
            description="made by the contract test",
            executionRoleArn=f"arn:aws:iam::{handle.emulator.config.account}:role/ci",
            networkConfiguration={"networkMode": "SANDBOX"},
            clientToken=token(2),
        )
        control.create_code_interpreter(
            name="contract_ci",
            description="made by the contract test",
            executionRoleArn=f"arn:aws:iam::{handle.emulator.config.account}:role/ci",
            networkConfiguration={"networkMode": "SANDBOX"},
            clientToken=token(2),
        )  # replay
        broken = control.create_code_interpreter(
            name="broken_ci", networkConfiguration={"networkMode": "PUBLIC"}
        )
        control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"])  # CREATING
        control.list_code_interpreters()
        clock.advance(10)
        control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"])  # READY
        control.get_code_interpreter(codeInterpreterId=broken["codeInterpreterId"])  # CREATE_FAILED
        page = control.list_code_interpreters(maxResults=2)
        control.list_code_interpreters(maxResults=2, nextToken=page["nextToken"])
        control.list_code_interpreters(type="SYSTEM")
        control.list_code_interpreters(type="CUSTOM", maxResults=100)
        control.delete_code_interpreter(codeInterpreterId=created["codeInterpreterId"])  # DELETING
        control.get_code_interpreter(codeInterpreterId=created["codeInterpreterId"])  # DELETING
        control.list_code_interpreters()
        clock.advance(10)
        control.delete_code_interpreter(codeInterpreterId=broken["codeInterpreterId"])
        for region in ("eu-west-1", "ap-southeast-2"):
            recorder.watch(handle.client("bedrock-agentcore-control", region)).get_code_interpreter(
                codeInterpreterId=BUILTIN
            )
            recorder.watch(handle.client("bedrock-agentcore", region)).start_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN
            )
        yield recorder


def test_every_operation_was_exercised(scenario: Recorder) -> None:
    succeeded = {e.name for e in scenario.exchanges if e.status < 300}
    assert succeeded == set(ALL_OPERATIONS)


def test_every_answer_fits_the_models_output_shape(scenario: Recorder) -> None:
    problems = [p for exchange in scenario.exchanges for p in check_success(exchange)]
    assert problems == []


def test_the_states_the_scenario_meant_to_show_were_shown(scenario: Recorder) -> None:
    """Guard the scenario: it must really cover starting/READY/TERMINATED and every interpreter state."""
    session_states = {
        e.parsed.get("status") for e in scenario.exchanges if e.name == "GetCodeInterpreterSession"
    }
    assert session_states == {None, "READY", "TERMINATED"}
    interpreter_states = {
        e.parsed["status"]
        for e in scenario.exchanges
        if e.name in ("GetCodeInterpreter", "CreateCodeInterpreter", "DeleteCodeInterpreter")
    }
    assert interpreter_states == {"CREATING", "READY", "CREATE_FAILED", "DELETING"}
    failed = [e.parsed for e in scenario.exchanges if e.parsed.get("status") == "CREATE_FAILED"]
    assert failed and all(p.get("failureReason") for p in failed)
    assert any(
        e.parsed.get("nextToken") for e in scenario.exchanges if e.name == "ListCodeInterpreterSessions"
    )
    assert any(e.parsed.get("nextToken") for e in scenario.exchanges if e.name == "ListCodeInterpreters")
    blocks = {
        block["type"]
        for e in scenario.exchanges
        for event in e.events
        for block in event["result"]["content"]
    }
    assert blocks == {"text", "resource", "resource_link"}
    errors = [event["result"].get("isError") for e in scenario.exchanges for event in e.events]
    assert True in errors and False in errors


def test_timestamps_travel_in_the_models_format(scenario: Recorder) -> None:
    problems = [p for exchange in scenario.exchanges for p in check_success(exchange, timestamp_format=True)]
    assert problems == []


# -- errors: every modelled error of every operation -----------------------------------------------------


@dataclass
class Clients:
    handle: EmulatorHandle
    recorder: Recorder
    _cache: dict[tuple[str, str], Any]

    def client(self, service: str = "bedrock-agentcore", region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._cache:
            self._cache[key] = self.recorder.watch(self.handle.client(service, region))
        return self._cache[key]

    @property
    def data(self) -> Any:
        return self.client("bedrock-agentcore")

    @property
    def control(self) -> Any:
        return self.client("bedrock-agentcore-control")


CREATING = "still_creating-c1c2c3c4c5"
FAILED = "create_failed-f1f2f3f4f5"


@pytest.fixture(scope="module")
def shared() -> Iterator[Clients]:
    """One emulator for the error matrix: tests leave sessions behind, never faults."""
    config = EmulatorConfig(
        tps=0,
        interpreters={
            CUSTOM: InterpreterSeed(),
            CREATING: InterpreterSeed(create_delay=10**9),
            FAILED: InterpreterSeed(failure_reason="the image could not be pulled"),
        },
    )
    with running_emulator(config) as handle:
        yield Clients(handle, Recorder(), {})


@pytest.fixture
def clients(shared: Clients) -> Iterator[Clients]:
    shared.handle.emulator.clear_faults()
    yield shared
    shared.handle.emulator.clear_faults()


def check_error(exchange: Exchange, response: dict[str, Any], code: str) -> None:
    """The answer is `code`, with the model's status, in a body that fits the error's shape."""
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"]
    modelled = {e.name: e for e in exchange.operation.error_shapes}
    assert code in modelled, f"{code} is not a modelled error of {exchange.name}"
    status = modelled[code].metadata["error"]["httpStatusCode"]
    assert exchange.status == status
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert exchange.headers.get("x-amzn-errortype", "").split(":")[0] == code
    assert conforms(modelled[code], exchange.wire(), wire=True) == []


def a_session(c: Clients) -> str:
    sessions = c.handle.sessions("us-east-1")
    return str(sessions[0]["sessionId"] if sessions else start(c.data)["sessionId"])


def a_ready_session(c: Clients) -> str:
    for session in c.handle.sessions("us-east-1"):
        if session["status"] == "READY":
            return str(session["sessionId"])
    return str(start(c.data)["sessionId"])


def call_operation(c: Clients, operation: str) -> Any:
    """A call of `operation` that the model accepts and that succeeds when no fault is injected."""
    calls: dict[str, Callable[[], Any]] = {
        "StartCodeInterpreterSession": lambda: start(c.data, name="faulty"),
        "GetCodeInterpreterSession": lambda: get(c.data, a_session(c)),
        "ListCodeInterpreterSessions": lambda: c.data.list_code_interpreter_sessions(
            codeInterpreterIdentifier=BUILTIN
        ),
        "StopCodeInterpreterSession": lambda: stop(c.data, a_session(c)),
        "InvokeCodeInterpreter": lambda: invoke(c.recorder, c.data, a_ready_session(c), "listFiles"),
        "GetCodeInterpreter": lambda: c.control.get_code_interpreter(codeInterpreterId=CUSTOM),
        "ListCodeInterpreters": lambda: c.control.list_code_interpreters(),
        "CreateCodeInterpreter": lambda: c.control.create_code_interpreter(
            name="faulty", networkConfiguration={"networkMode": "PUBLIC"}
        ),
        "DeleteCodeInterpreter": lambda: c.control.delete_code_interpreter(codeInterpreterId=CUSTOM),
    }
    return calls[operation]()


def modelled_errors() -> list[Any]:
    cases = []
    for operation in ALL_OPERATIONS:
        service = "bedrock-agentcore" if operation in DATA_OPERATIONS else "bedrock-agentcore-control"
        for error in model(service).operation_model(operation).error_shapes:
            cases.append(pytest.param(operation, error.name, id=f"{operation}-{error.name}"))
    return cases


@pytest.mark.parametrize(("operation", "code"), modelled_errors())
def test_each_modelled_error_of_each_operation_can_be_injected(
    clients: Clients, operation: str, code: str
) -> None:
    a_session(clients)
    clients.handle.add_fault(operation=operation, error=code, count=1)
    with pytest.raises(ClientError) as caught:
        call_operation(clients, operation)
    check_error(clients.recorder.last(), caught.value.response, code)
    assert clients.recorder.last().name == operation


def test_the_injection_calls_succeed_without_faults(start_emulator: StartEmulator) -> None:
    """So an error in the matrix above comes from the injected fault, not from a bad call."""
    handle = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    c = Clients(handle, Recorder(), {})
    for operation in ALL_OPERATIONS:  # Delete last: it deletes CUSTOM
        call_operation(c, operation)
    assert [e.name for e in c.recorder.exchanges if e.status >= 300] == []
    assert [e.name for e in c.recorder.exchanges if e.name != "StartCodeInterpreterSession"] == [
        op for op in ALL_OPERATIONS if op != "StartCodeInterpreterSession"
    ]  # Invoke may start a session of its own: Stop ended the first


def test_the_models_list_the_errors_the_issue_names() -> None:
    """The fault kinds of the issue are modelled for the operations the operator calls."""
    start_op = model("bedrock-agentcore").operation_model("StartCodeInterpreterSession")
    statuses = {e.name: e.metadata["error"]["httpStatusCode"] for e in start_op.error_shapes}
    assert statuses == {
        "ServiceQuotaExceededException": 402,
        "AccessDeniedException": 403,
        "ConflictException": 409,
        "ValidationException": 400,
        "ResourceNotFoundException": 404,
        "ThrottlingException": 429,
        "InternalServerException": 500,
    }


def _reuse_start_token(c: Clients) -> Any:
    start(c.data, name="one", clientToken=token(100))
    return start(c.data, name="two", clientToken=token(100))


def _reuse_stop_token(c: Clients) -> Any:
    first, second = start(c.data)["sessionId"], start(c.data)["sessionId"]
    stop(c.data, first, clientToken=token(101))
    return stop(c.data, second, clientToken=token(101))


def _duplicate_name(c: Clients) -> Any:
    c.control.create_code_interpreter(name="twice", networkConfiguration={"networkMode": "PUBLIC"})
    return c.control.create_code_interpreter(name="twice", networkConfiguration={"networkMode": "PUBLIC"})


def _other_interpreters_session(c: Clients) -> Any:
    return get(c.data, start(c.data)["sessionId"], CUSTOM)


def _foreign_list_token(c: Clients) -> Any:
    for _ in range(2):
        start(c.data, codeInterpreterIdentifier=CUSTOM)
    page = c.data.list_code_interpreter_sessions(codeInterpreterIdentifier=CUSTOM, maxResults=1)
    return c.data.list_code_interpreter_sessions(
        codeInterpreterIdentifier=BUILTIN, nextToken=page["nextToken"]
    )


def _invoke_stopped_session(c: Clients) -> Any:
    session_id = start(c.data)["sessionId"]
    invoke(c.recorder, c.data, session_id, "executeCode", code="x = 1")
    stop(c.data, session_id)
    return invoke(c.recorder, c.data, session_id, "executeCode", code="print(x)")


def _invoke_raw(c: Clients, **params: Any) -> Any:
    """InvokeCodeInterpreter with what botocore lets through unchecked (enums, missing arguments)."""
    params.setdefault("sessionId", a_ready_session(c))
    return c.data.invoke_code_interpreter(codeInterpreterIdentifier=BUILTIN, **params)


NATURAL_ERRORS: list[Any] = [
    pytest.param(
        lambda c: start(c.data, codeInterpreterIdentifier="nobody_here-a1b2c3d4e5"),
        "ResourceNotFoundException",
        id="start-unknown-interpreter",
    ),
    pytest.param(
        lambda c: start(c.data, codeInterpreterIdentifier=BUILTIN_ARN.replace("us-east-1", "us-west-2")),
        "ResourceNotFoundException",
        id="start-foreign-region-arn",
    ),
    pytest.param(
        lambda c: start(c.data, sessionTimeoutSeconds=59), "ValidationException", id="start-timeout-59"
    ),
    pytest.param(
        lambda c: start(c.data, sessionTimeoutSeconds=28801), "ValidationException", id="start-timeout-28801"
    ),
    pytest.param(lambda c: start(c.data, name="n" * 101), "ValidationException", id="start-name-101"),
    pytest.param(
        lambda c: start(c.data, codeInterpreterIdentifier=CREATING), "ConflictException", id="start-creating"
    ),
    pytest.param(
        lambda c: start(c.data, codeInterpreterIdentifier=FAILED),
        "ValidationException",
        id="start-create-failed",
    ),
    pytest.param(_reuse_start_token, "ConflictException", id="start-token-reused"),
    pytest.param(
        lambda c: get(c.data, "NOSUCHSESSION"), "ResourceNotFoundException", id="get-unknown-session"
    ),
    pytest.param(
        _other_interpreters_session, "ResourceNotFoundException", id="get-other-interpreters-session"
    ),
    pytest.param(
        lambda c: c.data.list_code_interpreter_sessions(codeInterpreterIdentifier="nobody_here-a1b2c3d4e5"),
        "ResourceNotFoundException",
        id="list-unknown-interpreter",
    ),
    pytest.param(
        lambda c: c.data.list_code_interpreter_sessions(
            codeInterpreterIdentifier=BUILTIN, nextToken="garbage"
        ),
        "ValidationException",
        id="list-garbage-token",
    ),
    pytest.param(_foreign_list_token, "ValidationException", id="list-foreign-token"),
    pytest.param(
        lambda c: c.data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=101),
        "ValidationException",
        id="list-max-101",
    ),
    pytest.param(
        lambda c: stop(c.data, "NOSUCHSESSION"), "ResourceNotFoundException", id="stop-unknown-session"
    ),
    pytest.param(_reuse_stop_token, "ConflictException", id="stop-token-reused"),
    pytest.param(
        lambda c: c.control.get_code_interpreter(codeInterpreterId="nobody_here-a1b2c3d4e5"),
        "ResourceNotFoundException",
        id="get-interpreter-unknown",
    ),
    pytest.param(
        lambda c: c.control.get_code_interpreter(codeInterpreterId="not a valid id!"),
        "ResourceNotFoundException",  # the model lists no ValidationException for GetCodeInterpreter
        id="get-interpreter-malformed-id",
    ),
    pytest.param(
        lambda c: _invoke_raw(c, sessionId="NOSUCHSESSION", name="executeCode", arguments={"code": "1"}),
        "ResourceNotFoundException",
        id="invoke-unknown-session",
    ),
    pytest.param(_invoke_stopped_session, "ResourceNotFoundException", id="invoke-stopped-session"),
    pytest.param(
        lambda c: _invoke_raw(c, name="frobnicate", arguments={}),
        "ValidationException",
        id="invoke-unknown-tool",
    ),
    pytest.param(
        lambda c: _invoke_raw(c, name="executeCode", arguments={"language": "python"}),
        "ValidationException",
        id="invoke-missing-code",
    ),
    pytest.param(
        lambda c: _invoke_raw(c, name="executeCode", arguments={"code": "#" * 10 * 1024**2}),
        "ValidationException",
        id="invoke-10MB-payload",
    ),
    pytest.param(
        lambda c: _invoke_raw(c, name="executeCode", arguments={"code": "1", "language": "javascript"}),
        "ValidationException",
        id="invoke-language-not-emulated",
    ),
    pytest.param(
        lambda c: c.control.list_code_interpreters(nextToken="garbage"),
        "ValidationException",
        id="list-interpreters-garbage-token",
    ),
    pytest.param(
        lambda c: c.control.list_code_interpreters(maxResults=101),
        "ValidationException",
        id="list-interpreters-max-101",
    ),
    pytest.param(_duplicate_name, "ConflictException", id="create-duplicate-name"),
    pytest.param(
        lambda c: c.control.create_code_interpreter(
            name="has-dash", networkConfiguration={"networkMode": "PUBLIC"}
        ),
        "ValidationException",
        id="create-bad-name",
    ),
    pytest.param(
        lambda c: c.control.delete_code_interpreter(codeInterpreterId=BUILTIN),
        "ValidationException",
        id="delete-builtin",
    ),
    pytest.param(
        lambda c: c.control.delete_code_interpreter(codeInterpreterId="nobody_here-a1b2c3d4e5"),
        "ResourceNotFoundException",
        id="delete-unknown",
    ),
    pytest.param(
        lambda c: c.data.list_code_interpreter_sessions(
            codeInterpreterIdentifier=BUILTIN, nextToken=encode_token({"i": BUILTIN, "s": None, "after": "x"})
        ),
        "ValidationException",
        id="list-forged-token",
    ),
    pytest.param(
        lambda c: c.control.list_code_interpreters(nextToken=encode_token({"t": None, "offset": "x"})),
        "ValidationException",
        id="list-interpreters-forged-token",
    ),
]


@pytest.mark.parametrize(("call", "code"), NATURAL_ERRORS)
def test_errors_the_emulator_produces_come_back_as_modelled(
    clients: Clients, call: Callable[[Clients], Any], code: str
) -> None:
    with pytest.raises(ClientError) as caught:
        call(clients)
    check_error(clients.recorder.last(), caught.value.response, code)


def test_validation_errors_name_the_field(clients: Clients) -> None:
    with pytest.raises(ClientError) as caught:
        start(clients.data, sessionTimeoutSeconds=28801, name="n" * 101)
    body = clients.recorder.last().wire()
    assert body["reason"] == "FieldValidationFailed"
    assert {f["name"] for f in body["fieldList"]} == {"sessionTimeoutSeconds", "name"}
    assert caught.value.response["Error"]["Message"].startswith("2 validation errors detected")


def test_quota_and_throttling_errors_come_back_as_modelled(start_emulator: StartEmulator) -> None:
    """The two limits the emulator enforces by itself (not injected): 402 and 429."""
    recorder = Recorder()
    data = recorder.watch(start_emulator(max_sessions=1).client())
    start(data)
    with pytest.raises(ClientError) as caught:
        start(data)
    check_error(recorder.last(), caught.value.response, "ServiceQuotaExceededException")

    monotonic = FakeMonotonic()
    control = recorder.watch(start_emulator(tps=1, monotonic=monotonic).client("bedrock-agentcore-control"))
    control.list_code_interpreters()
    with pytest.raises(ClientError) as caught:
        control.list_code_interpreters()
    check_error(recorder.last(), caught.value.response, "ThrottlingException")
