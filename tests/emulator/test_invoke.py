"""InvokeCodeInterpreter through boto3: state per session, limits, and the end of a session.

One emulator serves the module (an interpreter process per session is the slow part); each
test starts its own session, so none sees another's variables or files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import EmulatorHandle, running_emulator

from .conftest import BUILTIN, StartEmulator, code_of, introspect, start, stop


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorHandle]:
    with running_emulator(EmulatorConfig(tps=0, invoke_timeout=2, output_cap=1000)) as handle:
        yield handle


@pytest.fixture(scope="module")
def data(shared: EmulatorHandle) -> Any:
    return shared.client()


def invoke(data: Any, session_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    """The one `result` event of a call."""
    response = data.invoke_code_interpreter(
        codeInterpreterIdentifier=BUILTIN, sessionId=session_id, name=name, arguments=arguments
    )
    assert response["sessionId"] == session_id
    events = list(response["stream"])
    assert [list(event) for event in events] == [["result"]]
    result: dict[str, Any] = events[0]["result"]
    return result


def run(data: Any, session_id: str, code: str, **arguments: Any) -> dict[str, Any]:
    structured: dict[str, Any] = invoke(data, session_id, "executeCode", code=code, **arguments)[
        "structuredContent"
    ]
    return structured


def pid_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_code_runs_and_answers_as_agentcore_does(data: Any) -> None:
    session = start(data)["sessionId"]
    result = invoke(data, session, "executeCode", code="print(sum(range(10)))", language="python")
    assert result["content"] == [{"type": "text", "text": "45\n"}]
    assert result["isError"] is False
    structured = result["structuredContent"]
    assert (structured["stdout"], structured["stderr"], structured["exitCode"]) == ("45\n", "", 0)
    assert 0 <= structured["executionTime"] < 5


def test_variables_persist_between_calls_in_one_session(data: Any) -> None:
    session = start(data)["sessionId"]
    assert run(data, session, "answer = 6 * 7")["exitCode"] == 0
    assert run(data, session, "print(answer)")["stdout"] == "42\n"
    assert (
        run(data, session, "import os; print(os.getpid())")["stdout"]
        == run(data, session, "print(os.getpid())")["stdout"]
    )  # one long-lived interpreter


def test_clear_context_forgets_variables(data: Any) -> None:
    session = start(data)["sessionId"]
    run(data, session, "kept = 1")
    cleared = run(data, session, "print('kept' in globals())", clearContext=True)
    assert cleared["stdout"] == "False\n"


def test_sessions_do_not_share_variables_or_files(data: Any) -> None:
    one, two = start(data)["sessionId"], start(data)["sessionId"]
    run(data, one, "secret = 1\nopen('mine.txt', 'w').write('x')")
    assert "NameError" in run(data, two, "print(secret)")["stderr"]
    assert run(data, two, "import os; print(os.path.exists('mine.txt'))")["stdout"] == "False\n"


def test_an_exception_is_an_error_result_with_the_traceback(data: Any) -> None:
    session = start(data)["sessionId"]
    result = invoke(data, session, "executeCode", code="print('before')\n1 / 0")
    assert result["isError"] is True
    structured = result["structuredContent"]
    assert structured["exitCode"] == 1 and structured["stdout"] == "before\n"
    assert structured["stderr"].startswith("Traceback") and "ZeroDivisionError" in structured["stderr"]
    assert "sandbox_driver" not in structured["stderr"]  # the user's frames only
    assert run(data, session, "raise SystemExit(3)")["exitCode"] == 3


def test_code_runs_in_the_session_directory_without_the_emulators_environment(data: Any) -> None:
    session = start(data)["sessionId"]
    out = run(
        data, session, "import os; print(os.getcwd()); print(sorted(k for k in os.environ if 'AWS' in k))"
    )
    cwd, aws = out["stdout"].splitlines()
    assert session in Path(cwd).name and aws == "[]"


def test_the_network_is_cut_for_code_and_for_python_it_starts(data: Any, shared: EmulatorHandle) -> None:
    session = start(data)["sessionId"]
    host, port = shared.endpoint_url.removeprefix("http://").split(":")
    code = f"import socket\nsocket.create_connection(('{host}', {port}), timeout=2)"
    assert "Network is unreachable" in run(data, session, code)["stderr"]
    command = f"python3 -c \"import socket; socket.create_connection(('{host}', {port}), timeout=2)\""
    result = invoke(data, session, "executeCommand", command=command)
    assert "Network is unreachable" in result["structuredContent"]["stderr"]


def test_a_call_that_runs_too_long_is_killed_and_the_next_starts_afresh(data: Any) -> None:
    session = start(data)["sessionId"]
    run(data, session, "before = 1")
    began = time.monotonic()
    result = invoke(data, session, "executeCode", code="import time\ntime.sleep(30)")
    assert time.monotonic() - began < 10
    assert result["isError"] is True and "timed out after 2 seconds" in result["structuredContent"]["stderr"]
    assert "NameError" in run(data, session, "print(before)")["stderr"]  # a fresh interpreter
    command = invoke(data, session, "executeCommand", command="sleep 30")
    assert command["structuredContent"]["exitCode"] == 124


def test_output_is_cut_at_the_cap(data: Any) -> None:
    session = start(data)["sessionId"]
    out = run(data, session, "print('x' * 5000)")["stdout"]
    assert out.startswith("x" * 1000) and "output truncated: 4001 more characters" in out
    command = invoke(data, session, "executeCommand", command="yes | head -c 5000")
    assert "output truncated" in command["structuredContent"]["stdout"]


def test_writing_into_the_protocol_pipe_does_not_break_the_session(data: Any) -> None:
    session = start(data)["sessionId"]
    run(data, session, "import os; os.write(1, b'garbage\\n'); os.write(2, b'more')")
    assert run(data, session, "print('still here')")["stdout"] == "still here\n"


def test_files_round_trip_and_are_listed_and_removed(data: Any) -> None:
    session = start(data)["sessionId"]
    written = invoke(
        data,
        session,
        "writeFiles",
        content=[{"path": "data/a.csv", "text": "x,y\n1,2\n"}, {"path": "raw.bin", "blob": b"\x00\xff"}],
    )
    assert written == {
        "content": [{"type": "text", "text": "Successfully wrote all 2 files"}],
        "isError": False,
    }
    assert run(data, session, "print(open('data/a.csv').read().splitlines()[1])")["stdout"] == "1,2\n"
    read = invoke(data, session, "readFiles", paths=["data/a.csv", "raw.bin"])["content"]
    assert read == [
        {
            "type": "resource",
            "resource": {
                "type": "text",
                "uri": "file://data/a.csv",
                "mimeType": "text/csv",
                "text": "x,y\n1,2\n",
            },
        },
        {
            "type": "resource",
            "resource": {
                "type": "blob",
                "uri": "file://raw.bin",
                "mimeType": "application/octet-stream",
                "blob": b"\x00\xff",
            },
        },
    ]
    listed = invoke(data, session, "listFiles", directoryPath=".")["content"]
    assert [(b["type"], b["name"], b["description"], b.get("size")) for b in listed] == [
        ("resource_link", "data", "Directory", None),
        ("resource_link", "raw.bin", "File", 2),
    ]
    assert invoke(data, session, "removeFiles", paths=["data"])["isError"] is False
    assert [b["name"] for b in invoke(data, session, "listFiles")["content"]] == ["raw.bin"]


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    [
        ("readFiles", {"paths": ["absent.txt"]}, "File not found"),
        ("readFiles", {"paths": ["../../../etc/hostname"]}, "outside"),
        ("writeFiles", {"content": [{"path": "../escape.txt", "text": "x"}]}, "outside"),
        ("removeFiles", {"paths": ["/"]}, "outside"),
        ("listFiles", {"directoryPath": "nowhere"}, "Directory not found"),
        ("writeFiles", {"content": [{"path": ".", "text": "x"}]}, "is a directory"),
    ],
)
def test_file_tools_fail_as_results_not_as_http_errors(
    data: Any, name: str, arguments: dict[str, Any], fragment: str
) -> None:
    session = start(data)["sessionId"]
    result = invoke(data, session, name, **arguments)
    assert result["isError"] is True and fragment in result["content"][0]["text"]


def call(data: Any, **params: Any) -> Any:
    params.setdefault("codeInterpreterIdentifier", BUILTIN)
    return data.invoke_code_interpreter(**params)


def test_bad_input_gets_the_models_errors_and_the_emulator_stays_up(data: Any) -> None:
    session = start(data)["sessionId"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"sessionId": session, "name": "frobnicate"}, "ValidationException"),
        ({"sessionId": session, "name": "executeCode", "arguments": {}}, "ValidationException"),
        ({"sessionId": session, "name": "executeCommand", "arguments": {}}, "ValidationException"),
        ({"sessionId": session, "name": "writeFiles", "arguments": {}}, "ValidationException"),
        ({"sessionId": session, "name": "getTask", "arguments": {"taskId": "t"}}, "ValidationException"),
        (
            {"sessionId": session, "name": "executeCode", "arguments": {"code": "#" * 10 * 1024**2}},
            "ValidationException",
        ),
        ({"name": "executeCode", "arguments": {"code": "1"}}, "ValidationException"),  # no session header
        (
            {"sessionId": "NOSUCHSESSION", "name": "executeCode", "arguments": {"code": "1"}},
            "ResourceNotFoundException",
        ),
        (
            {"codeInterpreterIdentifier": "nobody-a1b2c3d4e5", "sessionId": session, "name": "listFiles"},
            "ResourceNotFoundException",
        ),
    ]
    for params, code in bad:
        assert code_of(lambda params=params: call(data, **params))[0] == code, params  # type: ignore[misc]
    assert run(data, session, "print('up')")["stdout"] == "up\n"


def test_a_session_that_is_still_starting_is_a_conflict(start_emulator: StartEmulator) -> None:
    data = start_emulator(start_delay=60).client()
    session = start(data)["sessionId"]
    assert code_of(lambda: call(data, sessionId=session, name="listFiles")) == ("ConflictException", 409)


def test_stop_kills_the_interpreter_and_removes_the_files(data: Any, shared: EmulatorHandle) -> None:
    session = start(data)["sessionId"]
    pid = int(run(data, session, "import os; print(os.getpid())")["stdout"])
    directory = Path(run(data, session, "print(os.getcwd())")["stdout"].strip())
    stop(data, session)
    assert pid_gone(pid) and not directory.exists()
    assert code_of(lambda: call(data, sessionId=session, name="executeCode", arguments={"code": "1"})) == (
        "ResourceNotFoundException",
        404,
    )
    assert all(key[1] != session for key in shared.emulator.sandboxes.open_sessions())


def test_stop_does_not_wait_for_a_running_call(data: Any) -> None:
    session = start(data)["sessionId"]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(invoke, data, session, "executeCode", code="import time\ntime.sleep(20)")
        time.sleep(0.5)  # the call is under way
        began = time.monotonic()
        stop(data, session)
        assert time.monotonic() - began < 1.5
        result = running.result(timeout=5)
    assert result["isError"] is True and "session ended" in result["structuredContent"]["stderr"]


def test_expiry_out_of_band_stop_and_reset_end_the_interpreter(
    start_emulator: StartEmulator, clock: Any
) -> None:
    emulator = start_emulator()
    data = emulator.client()
    pids = {}
    for label in ("expires", "stopped", "reset"):
        session = start(data, sessionTimeoutSeconds=60 if label == "expires" else 900)["sessionId"]
        pids[label] = (session, int(run(data, session, "import os; print(os.getpid())")["stdout"]))
    clock.advance(61)  # no call: the emulator's sweep finds it
    assert pid_gone(pids["expires"][1])
    emulator.stop_session(pids["stopped"][0])
    assert pid_gone(pids["stopped"][1])
    assert introspect(emulator, "POST", "reset").status_code == 200
    assert pid_gone(pids["reset"][1])


def test_shutting_the_emulator_down_ends_every_interpreter() -> None:
    with running_emulator(EmulatorConfig(tps=0)) as handle:
        data = handle.client()
        session = start(data)["sessionId"]
        pid = int(run(data, session, "import os; print(os.getpid())")["stdout"])
        directory = Path(run(data, session, "print(os.getcwd())")["stdout"].strip())
    assert pid_gone(pid) and not directory.exists()
