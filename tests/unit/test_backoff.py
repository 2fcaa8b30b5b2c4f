"""Per-key exponential backoff: doubling, capped, jittered, floored, reset on success."""

from __future__ import annotations

import random

import pytest
from agentcore_operator.runtime.backoff import Backoff


def steady(*, base: float = 1.0, cap: float = 60.0) -> Backoff:
    """A backoff without jitter, so delays are exact."""
    return Backoff(base=base, cap=cap, jitter=0.0)


def test_delays_double_per_consecutive_failure_up_to_the_cap() -> None:
    backoff = steady(base=1.0, cap=60.0)
    delays = [backoff.failed("k") for _ in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_base_scales_every_delay() -> None:
    backoff = steady(base=0.5, cap=100.0)
    assert [backoff.failed("k") for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]


def test_keys_back_off_independently() -> None:
    backoff = steady()
    for _ in range(5):
        backoff.failed(("ns", "a"))
    assert backoff.failed(("ns", "b")) == 1.0
    assert backoff.failures(("ns", "a")) == 5
    assert backoff.failures(("ns", "b")) == 1


def test_success_resets_the_key_only() -> None:
    backoff = steady()
    for _ in range(4):
        backoff.failed("a")
        backoff.failed("b")
    backoff.succeeded("a")
    assert backoff.failures("a") == 0
    assert backoff.failed("a") == 1.0
    assert backoff.failed("b") == 16.0


def test_success_of_an_unknown_key_is_harmless() -> None:
    backoff = steady()
    backoff.succeeded("never failed")
    assert backoff.failures("never failed") == 0


@pytest.mark.parametrize(
    ("failures_before", "floor", "expected"),
    [(0, 60.0, 60.0), (0, 0.5, 1.0), (7, 30.0, 60.0), (3, 30.0, 30.0)],
    ids=["floor above", "floor below", "cap above floor", "floor above doubling"],
)
def test_the_floor_is_a_minimum(failures_before: int, floor: float, expected: float) -> None:
    """The state machine's own wait (60 s after AccessDenied) is never shortened by backoff."""
    backoff = steady()
    for _ in range(failures_before):
        backoff.failed("k")
    assert backoff.failed("k", floor=floor) == expected


def test_jitter_stays_within_twenty_percent() -> None:
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(7))
    for count in range(12):
        nominal = min(60.0, 2.0**count)
        delay = backoff.failed("k")
        assert nominal * 0.8 <= delay <= nominal * 1.2, (count, delay)


def test_jitter_spreads_keys_that_failed_together() -> None:
    """One throttling burst fails many keys at once; their retries must not come back as one burst."""
    backoff = Backoff(rng=random.Random(1))
    delays = {backoff.failed(("ns", str(i))) for i in range(50)}
    assert len(delays) > 40
    assert max(delays) - min(delays) > 0.2


def test_a_seeded_rng_makes_delays_reproducible() -> None:
    first = Backoff(rng=random.Random(42))
    second = Backoff(rng=random.Random(42))
    assert [first.failed("k") for _ in range(6)] == [second.failed("k") for _ in range(6)]


def test_the_defaults_cap_at_a_minute_with_twenty_percent_jitter() -> None:
    backoff = Backoff()
    assert (backoff.base, backoff.cap, backoff.jitter) == (1.0, 60.0, 0.2)


def test_a_key_failing_for_a_very_long_time_still_gets_a_capped_delay() -> None:
    """A stop denied every 30-60 s fails ~1000 times in a day; the delay must stay at the cap."""
    backoff = steady(cap=60.0)
    delays = [backoff.failed("k") for _ in range(1100)]
    assert delays[-1] == 60.0
