"""The AWS event-stream binary framing (`application/vnd.amazon.eventstream`), encoding side.

InvokeCodeInterpreter answers with an event stream, not a JSON body: botocore reads the
response as a sequence of messages and decodes each with `botocore.eventstream`. A message is

    total length (4) | headers length (4) | CRC32 of those 8 bytes (4)
    | headers | payload | CRC32 of everything before it (4)

all integers big-endian. Each header is a 1-byte name length, the name, a 1-byte type (7:
a string) and, for strings, a 2-byte length and the UTF-8 value. botocore checks both CRCs
and refuses a message whose lengths or header types are off, so the tests decode what is
written here with botocore's own parser.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
STRING_HEADER = 7
PRELUDE_LENGTH = 12
CRC_LENGTH = 4
MAX_HEADER_VALUE = 2**15 - 1  # botocore's limit on a string header value
MAX_PAYLOAD = 16 * 1024**2  # botocore's _MAX_PAYLOAD_LENGTH


def _crc32(data: bytes, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """String headers only: the three (or four) that an event or exception carries."""
    encoded = bytearray()
    for name, value in headers.items():
        raw_name = name.encode()
        raw_value = value.encode()
        if len(raw_name) > 255 or len(raw_value) > MAX_HEADER_VALUE:
            raise ValueError(f"event-stream header {name!r} is too long")
        encoded += struct.pack("!B", len(raw_name)) + raw_name
        encoded += struct.pack("!BH", STRING_HEADER, len(raw_value)) + raw_value
    return bytes(encoded)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One framed message with both checksums."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"event-stream payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    raw_headers = encode_headers(headers)
    total = PRELUDE_LENGTH + len(raw_headers) + len(payload) + CRC_LENGTH
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", _crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", _crc32(body))


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """An `event` message: botocore hands `{event_type: payload}` to the caller."""
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload).encode(),
    )


def exception(exception_type: str, message: str, **extra: Any) -> bytes:
    """An `exception` message: botocore raises EventStreamError with this code while iterating.

    `exception_type` is the member name in the stream's shape (`validationException`...),
    which is what AWS sends in `:exception-type`.
    """
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message, **extra}).encode(),
    )
