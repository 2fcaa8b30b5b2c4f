"""Accounts: access keys name accounts, and every account has its own AgentCore.

Driven by boto3 over HTTP. The caller's account decides which interpreters, sessions,
clientTokens, session quota and rate buckets a call sees, as at AWS: a session of account
A is not found by B (Get/Stop 404, absent from List), A at its quota does not stop B, and
A's throttled operation does not throttle B's.
"""

from __future__ import annotations

from typing import Any

import pytest
from agentcore_operator.local.agentcore import EmulatorConfig, FaultRule, InterpreterSeed
from agentcore_operator.local.agentcore.testing import DUMMY_ACCESS_KEY, EmulatorHandle

from .conftest import (
    ACCOUNT,
    BUILTIN,
    CUSTOM,
    TOKEN,
    FakeMonotonic,
    StartEmulator,
    code_of,
    get,
    introspect,
    listed,
    outcome,
    start,
    stop,
)

TEAM_B = "444455556666"
TEAM_B_KEY = "AKIDTEAMBEXAMPLE0001"
TEAM_A = "111122223333"
TEAM_A_ROLE = f"arn:aws:iam::{TEAM_A}:role/agentcore-team-a"


def two_accounts(start_emulator: StartEmulator, **config: Any) -> tuple[EmulatorHandle, Any, Any]:
    """An emulator that knows the dummy key (the default account) and team B's key; and
    a data-plane client of each."""
    emulator = start_emulator(accounts={TEAM_B_KEY: TEAM_B}, **config)
    return emulator, emulator.client(), emulator.client(access_key=TEAM_B_KEY)


def test_each_key_calls_as_its_account_and_an_unknown_key_is_refused(start_emulator: StartEmulator) -> None:
    emulator, mine, theirs = two_accounts(start_emulator)
    assert emulator.client("sts").get_caller_identity()["Account"] == ACCOUNT
    assert emulator.client("sts", access_key=TEAM_B_KEY).get_caller_identity()["Account"] == TEAM_B
    start(mine)
    start(theirs)
    assert [s["account"] for s in emulator.sessions()] == [ACCOUNT, TEAM_B]
    stranger = emulator.client(access_key="AKIDNOBODYKNOWS")
    stranger_control = emulator.client("bedrock-agentcore-control", access_key="AKIDNOBODYKNOWS")
    assert code_of(lambda: start(stranger)) == ("UnrecognizedClientException", 403)
    assert code_of(lambda: stranger_control.get_code_interpreter(codeInterpreterId=BUILTIN)) == (
        "UnrecognizedClientException",
        403,
    )
    assert len(emulator.sessions()) == 2
    # Refused calls are counted under their operation, with no account.
    assert emulator.calls()["StartCodeInterpreterSession"]["UnrecognizedClientException"] == 1


def test_with_no_keys_configured_any_key_is_the_default_account(emulator: EmulatorHandle) -> None:
    start(emulator.client(access_key="AKIDWHOEVER"))
    assert emulator.client("sts", access_key="AKIDWHOEVER").get_caller_identity()["Account"] == ACCOUNT
    assert [s["account"] for s in emulator.sessions()] == [ACCOUNT]


def test_a_session_of_one_account_is_invisible_to_another(start_emulator: StartEmulator) -> None:
    emulator, mine, theirs = two_accounts(start_emulator)
    session_id = start(mine, clientToken=TOKEN)["sessionId"]
    assert code_of(lambda: get(theirs, session_id)) == ("ResourceNotFoundException", 404)
    assert code_of(lambda: stop(theirs, session_id)) == ("ResourceNotFoundException", 404)
    assert listed(theirs) == []
    invoke = lambda: theirs.invoke_code_interpreter(  # noqa: E731
        codeInterpreterIdentifier=BUILTIN, sessionId=session_id, name="executeCode", arguments={"code": "1"}
    )
    assert code_of(invoke) == ("ResourceNotFoundException", 404)
    # The same clientToken is another account's own: a new session, not A's replayed.
    their_id = start(theirs, clientToken=TOKEN)["sessionId"]
    assert their_id != session_id
    assert get(mine, session_id)["status"] == "READY"  # B's Stop did nothing to it
    assert listed(mine) == [session_id] and listed(theirs) == [their_id]
    assert [s["sessionId"] for s in emulator.sessions(account=TEAM_B)] == [their_id]


def test_custom_interpreters_belong_to_their_account(start_emulator: StartEmulator) -> None:
    seeded_for_b = "team_b_only-abcdefghij"
    emulator = start_emulator(
        accounts={TEAM_B_KEY: TEAM_B},
        interpreters={CUSTOM: InterpreterSeed(), seeded_for_b: InterpreterSeed(account=TEAM_B)},
    )
    mine = emulator.client("bedrock-agentcore-control")
    theirs = emulator.client("bedrock-agentcore-control", access_key=TEAM_B_KEY)
    made = mine.create_code_interpreter(name="mine", networkConfiguration={"networkMode": "PUBLIC"})
    assert f":{ACCOUNT}:code-interpreter-custom/" in made["codeInterpreterArn"]
    for identifier in (made["codeInterpreterId"], made["codeInterpreterArn"]):
        assert code_of(lambda i=identifier: theirs.get_code_interpreter(codeInterpreterId=i))[1] == 404
    their_ids = {i["codeInterpreterId"] for i in theirs.list_code_interpreters()["codeInterpreterSummaries"]}
    assert their_ids == {BUILTIN, CUSTOM, seeded_for_b}  # seeds without an account are in every account
    assert (
        theirs.get_code_interpreter(codeInterpreterId=CUSTOM)["codeInterpreterArn"].count(f":{TEAM_B}:") == 1
    )
    assert code_of(lambda: mine.get_code_interpreter(codeInterpreterId=seeded_for_b))[1] == 404
    assert {i["id"] for i in emulator.emulator.backend.interpreters(account=TEAM_B)} == their_ids
    answer = introspect(emulator, "GET", "interpreters", params={"account": TEAM_B}).json()
    assert {i["id"] for i in answer["interpreters"]} == their_ids


def test_the_session_quota_is_per_account(start_emulator: StartEmulator) -> None:
    emulator, mine, theirs = two_accounts(start_emulator, max_sessions=2)
    start(mine)
    start(mine)
    assert code_of(lambda: start(mine)) == ("ServiceQuotaExceededException", 402)
    start(theirs)
    start(theirs)  # A at its maximum does not block B
    assert code_of(lambda: start(theirs)) == ("ServiceQuotaExceededException", 402)
    assert emulator.emulator.backend.active_sessions("us-east-1", TEAM_B) == 2


def test_rate_buckets_are_per_account(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(accounts={TEAM_B_KEY: TEAM_B}, tps=1, monotonic=FakeMonotonic())
    mine, theirs = emulator.client(), emulator.client(access_key=TEAM_B_KEY)
    list_mine = lambda: listed(mine)  # noqa: E731
    list_theirs = lambda: listed(theirs)  # noqa: E731
    assert [outcome(list_mine), outcome(list_mine)] == ["ok", "ThrottlingException"]
    assert [outcome(list_theirs), outcome(list_theirs)] == ["ok", "ThrottlingException"]


def test_assumed_role_credentials_act_in_the_roles_account(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(roles={TEAM_A_ROLE: {}})
    assumed = emulator.assumed_client(TEAM_A_ROLE)
    session_id = start(assumed)["sessionId"]
    assert [(s["account"], s["sessionId"]) for s in emulator.sessions()] == [(TEAM_A, session_id)]
    assert code_of(lambda: get(emulator.client(), session_id))[1] == 404  # the operator's own account
    assert get(assumed, session_id)["status"] == "READY"


def test_introspection_shows_and_filters_by_account(start_emulator: StartEmulator) -> None:
    emulator, mine, theirs = two_accounts(start_emulator)
    mine_id, their_id = start(mine)["sessionId"], start(theirs)["sessionId"]
    everyone = introspect(emulator, "GET", "sessions").json()["sessions"]
    assert [(s["account"], s["sessionId"]) for s in everyone] == [(ACCOUNT, mine_id), (TEAM_B, their_id)]
    only_b = introspect(emulator, "GET", "sessions", params={"account": TEAM_B}).json()["sessions"]
    assert [s["sessionId"] for s in only_b] == [their_id]
    nobody = introspect(emulator, "GET", "sessions", params={"account": "999999999999"}).json()
    assert nobody == {"sessions": []}
    recent = introspect(emulator, "GET", "calls").json()["recent"]
    assert [(r["operation"], r["account"]) for r in recent] == [
        ("StartCodeInterpreterSession", ACCOUNT),
        ("StartCodeInterpreterSession", TEAM_B),
    ]
    # Stopped out of band, by id alone: ids are unique across accounts.
    assert introspect(emulator, "POST", f"sessions/us-east-1/{their_id}/stop").ok
    assert get(theirs, their_id)["status"] == "TERMINATED"
    assert get(mine, mine_id)["status"] == "READY"


def test_a_fault_can_match_one_account(start_emulator: StartEmulator) -> None:
    emulator, mine, theirs = two_accounts(start_emulator)
    emulator.add_fault(operation="StartCodeInterpreterSession", error="ThrottlingException", account=TEAM_B)
    assert outcome(lambda: start(mine)) == "ok"
    assert outcome(lambda: start(theirs)) == "ThrottlingException"
    emulator.emulator.clear_faults()
    added = introspect(
        emulator,
        "POST",
        "faults",
        json={"operation": "*", "error": "InternalServerException", "account": ACCOUNT},
    )
    assert added.status_code == 201 and added.json()["faults"][0]["account"] == ACCOUNT
    assert outcome(lambda: start(mine)) == "InternalServerException"
    assert outcome(lambda: start(theirs)) == "ok"
    refused = introspect(emulator, "POST", "faults", json={"error": "ThrottlingException", "account": "B"})
    assert refused.status_code == 400 and "12-digit" in refused.json()["error"]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"accounts": {"AKIDX": "12345"}}, "12-digit"),
        ({"account": "me"}, "12-digit"),
        ({"roles": {"arn:aws:iam::111122223333:user/alice": {}}}, "not an IAM role ARN"),
        ({"roles": {TEAM_A_ROLE: {"trusted_accounts": ["x"]}}}, "12-digit"),
        ({"roles": {TEAM_A_ROLE: {"max_session_duration": 60}}}, "3600..43200"),
        ({"credential_lifetime_seconds": 0}, "positive"),
        ({"interpreters": {CUSTOM: {"account": "team-b"}}}, "12-digit"),
    ],
)
def test_bad_account_config_is_refused(config: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        EmulatorConfig(**config).seeds()  # type: ignore[arg-type]


def test_fault_rules_name_accounts_by_their_12_digits() -> None:
    with pytest.raises(ValueError, match="12-digit"):
        FaultRule(error="ThrottlingException", account="team-b")


def test_the_dummy_key_stays_the_default_accounts_when_keys_are_configured(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(accounts={TEAM_B_KEY: TEAM_B})
    identity = emulator.client("sts", access_key=DUMMY_ACCESS_KEY).get_caller_identity()
    assert identity["Account"] == ACCOUNT
    remapped = start_emulator(accounts={DUMMY_ACCESS_KEY: TEAM_B})
    assert remapped.client("sts").get_caller_identity()["Account"] == TEAM_B
