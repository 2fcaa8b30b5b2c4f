"""ListCodeInterpreterSessions: status filter, page size, opaque and bound nextToken, stable order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agentcore_operator.local.agentcore import InterpreterSeed
from agentcore_operator.local.agentcore.testing import EmulatorHandle

from .conftest import BUILTIN, CUSTOM, StartEmulator, code_of, listed, start, stop


def walk(data: Any, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page, following nextToken until there is none."""
    params.setdefault("codeInterpreterIdentifier", BUILTIN)
    while True:
        page: dict[str, Any] = data.list_code_interpreter_sessions(**params)
        yield page
        if "nextToken" not in page:
            return
        params["nextToken"] = page["nextToken"]


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [item["sessionId"] for page in pages for item in page["items"]]


def test_status_filter(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    started = [start(data)["sessionId"] for _ in range(5)]
    for session_id in started[1:4:2]:
        stop(data, session_id)
    assert listed(data, status="READY") == [started[0], started[2], started[4]]
    assert listed(data, status="TERMINATED") == [started[1], started[3]]
    assert listed(data) == started
    items = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)["items"]
    assert [i["status"] for i in items] == ["READY", "TERMINATED", "READY", "TERMINATED", "READY"]
    unchecked = emulator.client(parameter_validation=False)
    assert code_of(
        lambda: unchecked.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="STARTING")
    ) == ("ValidationException", 400)


def test_sessions_are_listed_under_their_own_interpreter(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    data = emulator.client()
    builtin = start(data)["sessionId"]
    custom = start(data, codeInterpreterIdentifier=CUSTOM)["sessionId"]
    assert listed(data) == [builtin]
    assert listed(data, CUSTOM) == [custom]


def test_max_results_defaults_to_ten(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    started = [start(data)["sessionId"] for _ in range(12)]
    pages = list(walk(data))
    assert [len(p["items"]) for p in pages] == [10, 2]
    assert ids(pages) == started


@pytest.mark.parametrize(("max_results", "page_sizes"), [(1, [1, 1, 1]), (2, [2, 1]), (100, [3])])
def test_max_results_within_1_and_100(
    emulator: EmulatorHandle, max_results: int, page_sizes: list[int]
) -> None:
    data = emulator.client()
    started = [start(data)["sessionId"] for _ in range(3)]
    pages = list(walk(data, maxResults=max_results))
    assert [len(p["items"]) for p in pages] == page_sizes
    assert ids(pages) == started


def test_max_results_outside_1_and_100_is_refused(emulator: EmulatorHandle) -> None:
    # botocore refuses 0 itself (the model's min); it does not check the max, so 101 reaches the emulator.
    data, unchecked = emulator.client(), emulator.client(parameter_validation=False)
    for client, bad in ((unchecked, 0), (unchecked, -1), (data, 101)):
        assert code_of(
            lambda client=client, bad=bad: client.list_code_interpreter_sessions(
                codeInterpreterIdentifier=BUILTIN, maxResults=bad
            )
        ) == ("ValidationException", 400)


def test_pagination_across_250_sessions_is_complete_and_stable(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    started = [start(data)["sessionId"] for _ in range(250)]
    pages = list(walk(data, maxResults=100))
    assert [len(p["items"]) for p in pages] == [100, 100, 50]
    seen = ids(pages)
    assert len(set(seen)) == len(seen)  # no duplicates
    assert set(seen) == set(started)  # none missing
    assert seen == started  # in creation order
    assert ids(list(walk(data, maxResults=100))) == seen  # and the same order again
    assert ids(list(walk(data, maxResults=7))) == seen  # whatever the page size


def test_a_full_last_page_has_no_next_token(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    for _ in range(4):
        start(data)
    pages = list(walk(data, maxResults=2))
    assert [len(p["items"]) for p in pages] == [2, 2]  # no empty third page


def test_pages_stay_consistent_while_sessions_come_and_go(emulator: EmulatorHandle) -> None:
    data = emulator.client()
    first = [start(data)["sessionId"] for _ in range(6)]
    page = data.list_code_interpreter_sessions(
        codeInterpreterIdentifier=BUILTIN, maxResults=3, status="READY"
    )
    assert [i["sessionId"] for i in page["items"]] == first[:3]
    later = [start(data)["sessionId"] for _ in range(2)]
    stop(data, first[4])
    stop(data, first[0])  # already seen: must not come back
    rest = list(walk(data, maxResults=3, status="READY", nextToken=page["nextToken"]))
    assert ids(rest) == [first[3], first[5], *later]


@pytest.mark.parametrize("how", ["truncated", "flipped", "not-base64", "other-interpreter", "other-status"])
def test_a_tampered_or_foreign_next_token_is_refused(start_emulator: StartEmulator, how: str) -> None:
    emulator = start_emulator(interpreters={CUSTOM: InterpreterSeed()})
    data = emulator.client()
    for interpreter in (BUILTIN, CUSTOM):
        for _ in range(3):
            start(data, codeInterpreterIdentifier=interpreter)
    next_token = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=1)[
        "nextToken"
    ]
    params: dict[str, Any] = {"codeInterpreterIdentifier": BUILTIN, "nextToken": next_token}
    if how == "truncated":
        params["nextToken"] = next_token[: len(next_token) // 2]
    elif how == "flipped":
        params["nextToken"] = next_token[:-3] + ("A" if next_token[-3] != "A" else "B") + next_token[-2:]
    elif how == "not-base64":
        params["nextToken"] = "%%%not-a-token%%%"
    elif how == "other-interpreter":
        params["codeInterpreterIdentifier"] = CUSTOM
    else:
        params["status"] = "READY"
    assert code_of(lambda: data.list_code_interpreter_sessions(**params)) == ("ValidationException", 400)
