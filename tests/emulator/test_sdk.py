"""The official `bedrock-agentcore` SDK as a client of the emulator, over HTTP.

The SDK reads BEDROCK_AGENTCORE_DP_ENDPOINT and BEDROCK_AGENTCORE_CP_ENDPOINT once, when
`bedrock_agentcore._utils.endpoints` is first imported, and hands them to boto3 as
`endpoint_url`. So each scenario runs in a fresh interpreter with the variables set, as a
user's program would, and prints what it saw as JSON for the test to read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator

pytest.importorskip("bedrock_agentcore")

SCENARIO = textwrap.dedent(
    """
    import json, sys
    from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter

    def results(response):
        return [event["result"] for event in response["stream"]]

    client = CodeInterpreter("us-east-1")
    seen = {"endpoint": client.data_plane_client.meta.endpoint_url}
    seen["sessionId"] = client.start(session_timeout_seconds=300)
    seen["identifier"] = client.identifier
    seen["session"] = client.get_session()["status"]
    seen["first"] = results(client.invoke("executeCode", {"code": "x = 41\\nprint(x + 1)", "language": "python"}))
    seen["second"] = results(client.execute_code("print(x * 2)"))
    seen["written"] = results(client.invoke("writeFiles", {"content": [{"path": "hello.txt", "text": "hi there"}]}))
    seen["read"] = results(client.invoke("readFiles", {"paths": ["hello.txt"]}))
    client.upload_file("data/table.csv", "a,b\\n1,2\\n", description="a table")
    client.upload_file("blob.bin", bytes([0, 159, 255]))
    seen["downloaded"] = client.download_file("data/table.csv")
    seen["downloaded_many"] = {k: v if isinstance(v, str) else list(v) for k, v in client.download_files(["hello.txt", "blob.bin"]).items()}
    seen["listed"] = results(client.invoke("listFiles", {"directoryPath": ""}))
    seen["command"] = results(client.execute_command("cat hello.txt"))
    seen["cleared"] = results(client.clear_context())
    seen["after_clear"] = results(client.execute_code("print('x' in globals())"))
    seen["sessions"] = [s["sessionId"] for s in client.list_sessions(status="READY")["items"]]
    stopped_id = client.session_id
    seen["stopped"] = client.stop()
    client.identifier, client.session_id = "aws.codeinterpreter.v1", stopped_id  # attach to the stopped one
    try:
        client.invoke("executeCode", {"code": "print(1)"})
    except Exception as error:
        seen["after_stop"] = [type(error).__name__, error.response["Error"]["Code"]]
    print(json.dumps(seen, default=str))
    """
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorConfig(tps=0)) as handle:
        yield handle


def run_with_sdk(emulator: EmulatorHandle, script: str, **credentials: str) -> dict[str, Any]:
    """Run `script` with the SDK pointed at the emulator; `credentials` override the dummy
    ones (AWS_ACCESS_KEY_ID=..., AWS_SESSION_TOKEN=...)."""
    env = {
        **os.environ,
        "BEDROCK_AGENTCORE_DP_ENDPOINT": emulator.endpoint_url,
        "BEDROCK_AGENTCORE_CP_ENDPOINT": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(credentials)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def seen(emulator: EmulatorHandle) -> dict[str, Any]:
    return run_with_sdk(emulator, SCENARIO)


def test_the_sdk_talks_to_the_emulator(seen: dict[str, Any], emulator: EmulatorHandle) -> None:
    assert seen["endpoint"] == emulator.endpoint_url
    assert seen["identifier"] == "aws.codeinterpreter.v1"
    assert seen["session"] == "READY"
    assert seen["sessionId"] in seen["sessions"]
    assert emulator.call_count("InvokeCodeInterpreter", "Success") >= 10


def test_execute_code_answers_and_variables_persist(seen: dict[str, Any]) -> None:
    [first] = seen["first"]
    assert first["content"] == [{"type": "text", "text": "42\n"}]
    assert first["structuredContent"]["stdout"] == "42\n" and first["structuredContent"]["exitCode"] == 0
    assert first["isError"] is False
    assert seen["second"][0]["structuredContent"]["stdout"] == "82\n"


def test_files_written_are_read_back_through_the_sdk_helpers(seen: dict[str, Any]) -> None:
    assert seen["written"][0]["isError"] is False
    [read] = seen["read"]
    assert read["content"][0]["resource"]["text"] == "hi there"
    assert seen["downloaded"] == "a,b\n1,2\n"
    assert seen["downloaded_many"] == {"hello.txt": "hi there", "blob.bin": [0, 159, 255]}
    names = {block["name"] for block in seen["listed"][0]["content"]}
    assert names == {"hello.txt", "data", "blob.bin"}


def test_commands_and_clear_context(seen: dict[str, Any]) -> None:
    assert seen["command"][0]["structuredContent"]["stdout"] == "hi there"
    assert seen["cleared"][0]["isError"] is False
    assert seen["after_clear"][0]["structuredContent"]["stdout"] == "False\n"


def test_after_stop_the_session_answers_the_models_error(seen: dict[str, Any]) -> None:
    assert seen["stopped"] is True
    assert seen["after_stop"] == ["ResourceNotFoundException", "ResourceNotFoundException"]
