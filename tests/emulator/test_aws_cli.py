"""The AWS CLI v1 (`awscli` on PyPI, with its own copy of botocore) as a second real client.

The CLI prints timestamps as they arrived (its default `cli_timestamp_format` is `none`),
so what it prints is what the emulator sent: ISO 8601, as the models declare and AWS sends.
AWS CLI v1 has no `invoke-code-interpreter` (it leaves out event-stream operations).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator

pytest.importorskip("awscli")

AWS = Path(sys.executable).with_name("aws")
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorConfig(tps=0)) as handle:
        yield handle


def aws(emulator: EmulatorHandle, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "anything",
        "AWS_SECRET_ACCESS_KEY": "anything",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [str(AWS), *argv, "--endpoint-url", emulator.endpoint_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed(emulator: EmulatorHandle, *argv: str) -> dict[str, Any]:
    done = aws(emulator, *argv)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_cli_prints_iso_timestamps_on_both_planes(emulator: EmulatorHandle) -> None:
    started = printed(
        emulator,
        "bedrock-agentcore",
        "start-code-interpreter-session",
        "--code-interpreter-identifier",
        "aws.codeinterpreter.v1",
        "--session-timeout-seconds",
        "120",
    )
    assert ISO8601.match(started["createdAt"]), started
    listed = printed(
        emulator,
        "bedrock-agentcore",
        "list-code-interpreter-sessions",
        "--code-interpreter-identifier",
        "aws.codeinterpreter.v1",
    )
    [item] = listed["items"]
    assert item["sessionId"] == started["sessionId"] and item["status"] == "READY"
    assert ISO8601.match(item["createdAt"]) and ISO8601.match(item["lastUpdatedAt"])
    assert item["createdAt"] == started["createdAt"]
    interpreter = printed(
        emulator,
        "bedrock-agentcore-control",
        "get-code-interpreter",
        "--code-interpreter-id",
        "aws.codeinterpreter.v1",
    )
    assert interpreter["createdAt"] == "2025-07-16T00:00:00.000Z"
    assert ISO8601.match(interpreter["lastUpdatedAt"])
    assert emulator.sessions("eu-west-1")[0]["sessionId"] == started["sessionId"]  # the region it signed for


def test_the_cli_reads_the_modelled_error_of_a_malformed_id(emulator: EmulatorHandle) -> None:
    done = aws(
        emulator, "bedrock-agentcore-control", "get-code-interpreter", "--code-interpreter-id", "not.valid"
    )
    assert done.returncode == 255  # AWS CLI v1: a service error
    assert "(ResourceNotFoundException) when calling the GetCodeInterpreter operation" in done.stderr
