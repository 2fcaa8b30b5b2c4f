"""`agentcore-operator emulator`: a standalone server, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from agentcore_operator.cli import main
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.cli import build_parser
from agentcore_operator.local.agentcore.testing import running_emulator
from botocore.config import Config

from .conftest import BUILTIN, CUSTOM, code_of, get, start

CLI = str(Path(sys.executable).parent / "agentcore-operator")  # the console script pyproject declares
DOCS = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(endpoint_url: str, service: str = "bedrock-agentcore") -> Any:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    return session.client(
        service, endpoint_url=endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )


def read_line(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """The next line of output, or fail (never hang) if none comes in time."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    return process.stdout.readline()


@contextmanager
def serve(*argv: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [CLI, "emulator", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = read_line(process)
        found = re.search(r"listening on (http://\S+)", first)
        assert found, first
        yield process, found.group(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_cli_serves_both_planes_until_sigterm() -> None:
    port = free_port()
    argv = [
        "--port",
        str(port),
        "--max-sessions",
        "1",
        "--start-delay",
        "30",
        "--interpreter",
        f"{CUSTOM}:0",
        "--fault",
        "GetCodeInterpreter:AccessDeniedException",
        "--seed",
        "5",
    ]
    with serve(*argv) as (process, url):
        assert url == f"http://127.0.0.1:{port}"
        data, control = client(url), client(url, "bedrock-agentcore-control")
        session_id = start(data, codeInterpreterIdentifier=CUSTOM)["sessionId"]  # --interpreter
        assert "status" not in get(data, session_id, CUSTOM)  # --start-delay
        assert requests.post(f"{url}/_emulator/clock", json={"advance": 30}, timeout=10).ok
        assert get(data, session_id, CUSTOM)["status"] == "READY"
        assert code_of(lambda: start(data)) == ("ServiceQuotaExceededException", 402)  # --max-sessions
        assert code_of(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) == (
            "AccessDeniedException",
            403,
        )  # --fault
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_the_cli_stops_on_ctrl_c_and_frees_its_port() -> None:
    port = free_port()
    with serve("--port", str(port)) as (process, url):
        assert client(url).list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)["items"] == []
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it any more


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--fault", "Start:NoSuchError"], "unknown fault error 'NoSuchError'"),
        (["--max-sessions", "-1"], "must not be negative"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(argv: list[str], fragment: str) -> None:
    result = subprocess.run([CLI, "emulator", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--fault", "oops"], "expected OPERATION:ERROR[:RATE]"),
        (["--fault", "StartCodeInterpreterSession:ThrottlingException:2"], "rate must be within 0..1"),
        (["--fault", "StartCodeInterpreterSession:ThrottlingException:often"], "could not convert"),
        (["--latency", "GetCodeInterpreterSession:soon"], "expected OPERATION:SECONDS"),
        (["--interpreter", f"{CUSTOM}:soon"], "expected ID[:CREATE_DELAY[:FAILURE_REASON]]"),
        (["--tps", "-1"], "must not be negative"),
        (["--invoke-timeout", "0"], "must be positive"),
        (["--output-cap", "-5"], "must be positive"),
        (["--port", "http"], "invalid int value"),
        (["--start-delay", "later"], "invalid float value"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--access-key", "AKIDX"], "expected ACCESS_KEY_ID=ACCOUNT_ID"),
        (["--access-key", "AKIDX=12"], "12-digit"),
        (["--role", "arn:aws:iam::111122223333:user/alice"], "not an IAM role ARN"),
        (["--role", "arn:aws:iam::111122223333:role/team-a,external"], "expected NAME=VALUE"),
        (["--role", "arn:aws:iam::111122223333:role/team-a,color=red"], "unknown role option 'color'"),
        (["--role", "arn:aws:iam::111122223333:role/team-a,trusted-account=abc"], "12-digit"),
        (["--role", "arn:aws:iam::111122223333:role/team-a,max-session-duration=60"], "3600..43200"),
        (["--credential-lifetime", "0"], "must be positive"),
        (["--account", "me"], "12-digit"),
    ],
)
def test_every_bad_flag_is_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """The same checks, in-process (fast): argparse's exit 2 or main()'s own."""
    try:
        code = main(["emulator", *argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    assert code == 2
    assert fragment in capsys.readouterr().err


def exit_code_of(argv: list[str]) -> tuple[int | None, str]:
    """Run the CLI; if it starts serving instead of refusing, stop it and answer (None, output)."""
    process = subprocess.Popen(
        [CLI, "emulator", "--port", str(free_port()), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = read_line(process)
        if "listening on" in first:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
            return None, first
        assert process.stdout is not None
        return process.wait(30), first + process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(
            ["--fault", "StartSession:ThrottlingException"],
            "operation",
        ),
        pytest.param(
            ["--interpreter", "not a valid id"],
            "ID",
        ),
    ],
)
def test_names_outside_the_model_are_refused(argv: list[str], fragment: str) -> None:
    code, output = exit_code_of(argv)
    assert code == 2, f"the emulator started: {output.strip()}"
    assert fragment in output


def test_the_aws_cli_works_against_it(tmp_path: Path) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("no AWS CLI on this machine")
    (tmp_path / "config").write_text("[profile emu]\nregion = eu-west-1\noutput = json\n")
    (tmp_path / "credentials").write_text(
        "[emu]\naws_access_key_id = anything\naws_secret_access_key = anything\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PROFILE": "emu",
    }
    with running_emulator(EmulatorConfig(tps=0)) as emulator:

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [aws, *argv, "--endpoint-url", emulator.endpoint_url],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )

        started = run(
            "bedrock-agentcore",
            "start-code-interpreter-session",
            "--code-interpreter-identifier",
            BUILTIN,
            "--name",
            "from-the-cli",
        )
        if "Invalid choice" in started.stderr:
            pytest.skip("this AWS CLI does not know bedrock-agentcore")
        assert started.returncode == 0, started.stderr
        session_id = json.loads(started.stdout)["sessionId"]
        assert [(s["region"], s["sessionId"], s["name"]) for s in emulator.sessions()] == [
            ("eu-west-1", session_id, "from-the-cli")
        ]
        missing = run(
            "bedrock-agentcore",
            "get-code-interpreter-session",
            "--code-interpreter-identifier",
            BUILTIN,
            "--session-id",
            "NOSUCH",
        )
        assert missing.returncode != 0
        assert "ResourceNotFoundException" in missing.stderr


def test_a_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        began = time.monotonic()
        assert main(["emulator", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert time.monotonic() - began < 10


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["emulator", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in options():
        assert option in out


def options() -> list[str]:
    parser = build_parser("agentcore-operator emulator")
    return [a.option_strings[-1] for a in parser._actions if a.option_strings and a.dest != "help"]


def test_the_docs_describe_every_option() -> None:
    text = DOCS.read_text()
    missing = [option for option in options() if f"`{option}" not in text]
    assert missing == []
