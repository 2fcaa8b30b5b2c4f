"""The clients' timestamp parser reads every form botocore's does, to the same instant."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import botocore.utils
import pytest
from agentcore_operator.aws.clients import ClientFactory, parse_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T10:05:29Z",
        "2026-12-01T10:05:29.123Z",
        "2026-12-01T10:05:29.123456+00:00",
        "2026-12-01T10:05:29.123456789Z",  # nanoseconds: botocore's own parser
        "2026-12-01T12:05:29+02:00",  # not UTC: botocore's own parser
        "Tue, 01 Dec 2026 10:05:29 GMT",
        "1764583529",
        1764583529.5,
    ],
)
def test_the_same_instant_and_offset_as_botocore(value: object) -> None:
    ours, theirs = parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == theirs
    assert ours.isoformat() == theirs.isoformat()


def test_an_iso_utc_time_is_read_without_dateutil() -> None:
    assert parse_timestamp("2026-12-01T10:05:29Z") == datetime(2026, 12, 1, 10, 5, 29, tzinfo=UTC)


def test_the_clients_parse_answers_with_it() -> None:
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    ClientFactory(session=session)
    factory = session._session.get_component("response_parser_factory")
    assert factory.create_parser("rest-json")._timestamp_parser is parse_timestamp
