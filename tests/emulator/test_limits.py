"""The published limits: concurrent sessions (402) and requests per second per operation (429).

The throttle runs on a monotonic clock; most tests inject one they move by hand, so the
number of throttled calls is exact. One test uses the real clock, as a user would.
"""

from __future__ import annotations

from agentcore_operator.local.agentcore import EmulatorClock, EmulatorConfig
from agentcore_operator.local.agentcore.config import DEFAULT_MAX_SESSIONS, DEFAULT_TPS

from .conftest import (
    BUILTIN,
    TOKEN,
    FakeMonotonic,
    StartEmulator,
    code_of,
    error_of,
    get,
    listed,
    outcome,
    start,
    stop,
    token,
)

# -- concurrent sessions --------------------------------------------------------------------------


def test_the_defaults_are_the_published_quotas() -> None:
    config = EmulatorConfig()
    assert (config.max_sessions, config.tps) == (DEFAULT_MAX_SESSIONS, DEFAULT_TPS) == (1000, 30.0)
    assert config.rate_for("StartCodeInterpreterSession") == 30.0


def test_the_session_quota_answers_402(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=3)
    data = emulator.client()
    for i in range(3):
        start(data, clientToken=token(i))
    response = error_of(lambda: start(data))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceQuotaExceededException",
        402,
    )
    assert "3" in response["Error"]["Message"]
    assert len(emulator.sessions()) == 3


def test_an_idempotent_replay_takes_no_slot(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=3)
    data = emulator.client()
    started = [start(data, clientToken=token(i))["sessionId"] for i in range(3)]
    assert [start(data, clientToken=token(i))["sessionId"] for i in range(3)] == started
    assert len(emulator.sessions()) == 3


def test_a_stop_frees_a_slot(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=3)
    data = emulator.client()
    started = [start(data)["sessionId"] for _ in range(3)]
    assert code_of(lambda: start(data))[1] == 402
    stop(data, started[1])
    assert start(data)["sessionId"]
    assert code_of(lambda: start(data))[1] == 402


def test_expiry_frees_a_slot(start_emulator: StartEmulator, clock: EmulatorClock) -> None:
    emulator = start_emulator(max_sessions=1)
    data = emulator.client()
    start(data, sessionTimeoutSeconds=60)
    assert code_of(lambda: start(data))[1] == 402
    clock.advance(60)
    assert start(data)["sessionId"]


def test_starting_sessions_count_and_regions_have_their_own_quota(
    start_emulator: StartEmulator, clock: EmulatorClock
) -> None:
    emulator = start_emulator(max_sessions=1, start_delay=30)
    data = emulator.client()
    start(data)
    assert listed(data) == []  # starting, not yet listed: but it holds the slot
    assert code_of(lambda: start(data))[1] == 402
    assert start(emulator.client(region="eu-west-1"))["sessionId"]


def test_a_refused_start_with_a_token_can_be_retried(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=1)
    data = emulator.client()
    first = start(data)["sessionId"]
    assert code_of(lambda: start(data, clientToken=TOKEN))[1] == 402
    stop(data, first)
    assert start(data, clientToken=TOKEN)["sessionId"] != first


# -- request rate --------------------------------------------------------------------------------


def test_a_burst_beyond_the_rate_is_throttled_429(start_emulator: StartEmulator) -> None:
    monotonic = FakeMonotonic()
    emulator = start_emulator(tps=2, monotonic=monotonic)
    data = emulator.client()
    outcomes = [outcome(lambda: listed(data)) for _ in range(10)]
    assert outcomes == ["ok", "ok"] + ["ThrottlingException"] * 8  # a bucket of 2, not refilled
    assert emulator.calls()["ListCodeInterpreterSessions"] == {"Success": 2, "ThrottlingException": 8}
    response = error_of(lambda: listed(data))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "ListCodeInterpreterSessions" in response["Error"]["Message"]


def test_the_bucket_refills_at_the_rate_up_to_its_size(start_emulator: StartEmulator) -> None:
    monotonic = FakeMonotonic()
    emulator = start_emulator(tps=2, monotonic=monotonic)
    data = emulator.client()
    assert [outcome(lambda: listed(data)) for _ in range(3)] == ["ok", "ok", "ThrottlingException"]
    monotonic.advance(0.5)  # one token
    assert [outcome(lambda: listed(data)) for _ in range(2)] == ["ok", "ThrottlingException"]
    monotonic.advance(60)  # refills to the burst size (2), no more
    assert [outcome(lambda: listed(data)) for _ in range(3)] == ["ok", "ok", "ThrottlingException"]


def test_each_operation_and_region_has_its_own_bucket(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(tps=2, monotonic=FakeMonotonic())
    data, control = emulator.client(), emulator.client("bedrock-agentcore-control")
    session_id = start(data)["sessionId"]
    # Start took none of Get's tokens: two Gets pass, the third is throttled.
    assert [outcome(lambda: get(data, session_id)) for _ in range(3)] == ["ok", "ok", "ThrottlingException"]
    assert [outcome(lambda: listed(data)) for _ in range(2)] == ["ok", "ok"]
    assert outcome(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) == "ok"
    west = emulator.client(region="us-west-2")
    assert [outcome(lambda: listed(west)) for _ in range(3)] == ["ok", "ok", "ThrottlingException"]


def test_create_and_delete_have_a_lower_default_rate(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(tps=30, monotonic=FakeMonotonic())
    control = emulator.client("bedrock-agentcore-control")
    outcomes = [
        outcome(
            lambda i=i: control.create_code_interpreter(
                name=f"ci_{i}", networkConfiguration={"networkMode": "PUBLIC"}
            )
        )
        for i in range(6)
    ]
    assert outcomes == ["ok"] * 5 + ["ThrottlingException"]
    assert [outcome(lambda: control.list_code_interpreters()) for _ in range(6)] == ["ok"] * 6


def test_tps_zero_turns_throttling_off(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(tps=0, monotonic=FakeMonotonic())
    control = emulator.client("bedrock-agentcore-control")
    assert {outcome(lambda: control.get_code_interpreter(codeInterpreterId=BUILTIN)) for _ in range(40)} == {
        "ok"
    }


def test_throttling_on_the_real_clock(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(tps=2)
    data = emulator.client()
    outcomes = [outcome(lambda: listed(data)) for _ in range(20)]
    throttled = outcomes.count("ThrottlingException")
    # 2 in the bucket, plus 2 per second of the burst (well under a second on any machine).
    assert throttled >= 12, outcomes
    assert emulator.call_count("ListCodeInterpreterSessions", "ThrottlingException") == throttled


def test_a_rate_below_one_per_second_still_lets_calls_through(start_emulator: StartEmulator) -> None:
    monotonic = FakeMonotonic()
    emulator = start_emulator(tps=0.5, monotonic=monotonic)
    data = emulator.client()
    assert [outcome(lambda: listed(data)) for _ in range(2)] == ["ok", "ThrottlingException"]
    monotonic.advance(2)
    assert outcome(lambda: listed(data)) == "ok"
