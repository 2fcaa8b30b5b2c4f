"""The event-stream encoder, decoded by botocore's own parser (the one every boto3 call uses)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from agentcore_operator.local.agentcore import eventstream
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer, EventStreamError
from botocore.parsers import EventStreamJSONParser


def decoded(data: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


class Chunks:
    """What botocore's EventStream reads from: a raw response with stream()."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size

    def stream(self) -> Any:
        for start in range(0, len(self.data), self.size):
            yield self.data[start : start + self.size]

    def close(self) -> None:
        pass


def parsed_stream(data: bytes, chunk: int = 7) -> list[dict[str, Any]]:
    """The events as boto3's invoke_code_interpreter hands them to its caller."""
    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    output = model.operation_model("InvokeCodeInterpreter").output_shape
    stream = EventStream(
        Chunks(data, chunk), output.members["stream"], EventStreamJSONParser(), "InvokeCodeInterpreter"
    )
    return list(stream)


def test_a_message_decodes_with_its_headers_and_payload() -> None:
    payload = {"content": [{"type": "text", "text": "45\n"}], "isError": False}
    [message] = decoded(eventstream.event("result", payload))
    assert message.headers == {
        ":event-type": "result",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == payload
    assert message.to_response_dict()["status_code"] == 200


def test_messages_decode_back_to_back_and_across_chunk_boundaries() -> None:
    first = {"content": [{"type": "text", "text": "one"}]}
    second = {"content": [{"type": "text", "text": "two ü"}], "structuredContent": {"exitCode": 0}}
    data = eventstream.event("result", first) + eventstream.event("result", second)
    assert [json.loads(m.payload) for m in decoded(data)] == [first, second]
    assert parsed_stream(data) == [{"result": first}, {"result": second}]


def test_both_checksums_are_checked_by_botocore() -> None:
    data = bytearray(eventstream.event("result", {"content": []}))
    for position in (9, len(data) - 10):  # in the prelude, in the payload
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        with pytest.raises(ChecksumMismatch):
            decoded(bytes(corrupted))


def test_an_exception_message_raises_the_modelled_error_while_iterating() -> None:
    data = eventstream.event("result", {"content": []}) + eventstream.exception(
        "validationException", "bad argument", reason="FieldValidationFailed"
    )
    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    output = model.operation_model("InvokeCodeInterpreter").output_shape
    events = EventStream(
        Chunks(data, 5), output.members["stream"], EventStreamJSONParser(), "InvokeCodeInterpreter"
    )
    iterator = iter(events)
    assert next(iterator) == {"result": {"content": []}}
    with pytest.raises(EventStreamError) as caught:
        next(iterator)
    assert caught.value.response["Error"] == {"Code": "validationException", "Message": "bad argument"}


def test_oversized_headers_and_payloads_are_refused_before_writing() -> None:
    with pytest.raises(ValueError, match="header"):
        eventstream.encode_message({"x": "v" * 2**15}, b"")
    with pytest.raises(ValueError, match="payload"):
        eventstream.encode_message({}, b"\0" * (eventstream.MAX_PAYLOAD + 1))
