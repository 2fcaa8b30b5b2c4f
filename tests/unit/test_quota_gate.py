"""The quota gate: a fair line per (account, region), turns for Starts, the pooled class.

`FairLine` is pure (who is next); `QuotaGate` gives turns: to a pass waiting in `admit()`
(while the quota has room, at most `window` unanswered Starts), or to a parked resource
(its key requeued) when one of our sessions ends or the probe comes round.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

from agentcore_operator.controller.quota import FairLine, Order, Place, QuotaGate

SCOPE = ("", "us-east-1")


def make_gate(**options: object) -> tuple[QuotaGate, list[tuple[str, str]]]:
    released: list[tuple[str, str]] = []
    return QuotaGate(released.append, **options), released  # type: ignore[arg-type]


def closed_gate(waiting: str, **options: object) -> tuple[QuotaGate, list[tuple[str, str]]]:
    """The quota full: the first of `waiting` refused, the others parked behind it in order."""
    gate, released = make_gate(**options)
    first, *rest = waiting
    gate.exceeded(SCOPE, ("ns", first), "1")
    for index, name in enumerate(rest, start=2):
        gate.park(SCOPE, ("ns", name), str(index))
    return gate, released


def places_in(line: FairLine) -> Iterator[tuple[tuple[str, str], Place]]:
    return ((key, place) for key, (place, _) in line._places.items())


def keys_in(line: FairLine) -> Iterator[tuple[str, str]]:
    return (key for key, _ in places_in(line))


def drain(line: FairLine) -> list[tuple[str, str]]:
    order = []
    while (key := line.next()) is not None:
        order.append(key)
    return order


# -- the line ------------------------------------------------------------------------


def test_equal_weights_take_turns_and_each_namespace_goes_oldest_first() -> None:
    line = FairLine()
    for index in range(5):
        line.add(("big", f"b{index}"), Place(f"2026-01-01T00:00:0{index}Z"))
    line.add(("small", "s1"), Place("2026-01-01T00:00:09Z"))
    line.add(("small", "s0"), Place("2026-01-01T00:00:08Z"))
    assert drain(line) == [
        ("big", "b0"),
        ("small", "s0"),
        ("big", "b1"),
        ("small", "s1"),
        ("big", "b2"),
        ("big", "b3"),
        ("big", "b4"),
    ]


def test_weights_give_turns_in_proportion_interleaved() -> None:
    line = FairLine()
    for index in range(40):
        line.add(("heavy", f"h{index:02}"), Place("1", weight=3))
        line.add(("light", f"l{index:02}"), Place("1", weight=1))
    first = [namespace for namespace, _ in (line.next() for _ in range(8))]  # type: ignore[misc]
    assert first.count("heavy") == 6 and first.count("light") == 2
    assert first[:4].count("light") == 1  # smooth: no run of six then two


def test_five_thousand_waiting_do_not_starve_five() -> None:
    line = FairLine()
    for index in range(5000):
        line.add(("big", f"b{index:05}"), Place("2026-01-01T00:00:00Z"))
    for index in range(5):
        line.add(("small", f"s{index}"), Place("2026-01-01T00:01:00Z"))
    first_ten = [line.next() for _ in range(10)]
    assert sum(1 for key in first_ten if key and key[0] == "small") == 5


def test_namespaces_coming_and_going_never_push_a_waiting_one_back() -> None:
    """Namespaces of weights 1 to 3 arrive, are served, are deleted while they wait; the one
    that waits all along is never owed more than a few turns of its share at each moment."""
    worst = 0.0
    for seed in range(20):
        draw = random.Random(seed)
        line = FairLine()
        for index in range(300):
            line.add(("big", f"b{index:03}"), Place("1"))
        owed, newcomers = 0.0, 0
        for _ in range(400):
            roll = draw.random()
            if roll < 0.3:
                newcomers += 1
                weight = draw.choice([1, 2, 3])
                for index in range(draw.randint(1, 3)):
                    line.add((f"n{newcomers:03}", f"x{index}"), Place("2", weight))
            elif roll < 0.45:
                others = sorted(key for key in keys_in(line) if key[0] != "big")
                if others:
                    line.remove(draw.choice(others))
            else:
                weights = {key[0]: place.weight for key, place in places_in(line)}
                owed += weights["big"] / sum(weights.values())
                key = line.next()
                owed -= 1 if key is not None and key[0] == "big" else 0
                worst = max(worst, owed)
    assert worst < 6


def test_pooled_resources_wait_while_any_other_waits() -> None:
    line = FairLine()
    line.add(("team", "pool-aaaaa"), Place("1", pooled=True))
    line.add(("team", "cold"), Place("5"))
    line.add(("other", "cold"), Place("9"))
    assert line.waiting(pooled=False) == 2 and line.waiting(pooled=True) == 1
    assert drain(line) == [("other", "cold"), ("team", "cold"), ("team", "pool-aaaaa")]


def test_a_claimed_pool_child_moves_to_the_ordinary_class() -> None:
    line = FairLine()
    line.add(("team", "pool-aaaaa"), Place("1", pooled=True))
    line.add(("team", "pool-aaaaa"), Place("1", pooled=False))
    assert line.waiting(pooled=True) == 0 and line.waiting(pooled=False) == 1
    assert drain(line) == [("team", "pool-aaaaa")]


def test_leaving_the_line_and_joining_again() -> None:
    line = FairLine()
    line.add(("a", "x"), Place("1"))
    line.add(("a", "y"), Place("2"))
    assert line.remove(("a", "x")) and not line.remove(("a", "x"))
    line.add(("a", "x"), Place("3"))
    assert ("a", "x") in line and len(line) == 2
    assert drain(line) == [("a", "y"), ("a", "x")]


def test_oldest_first_ignores_namespaces() -> None:
    line = FairLine(Order.OLDEST_FIRST)
    line.add(("big", "b0"), Place("1"))
    line.add(("big", "b1"), Place("2"))
    line.add(("small", "s0"), Place("3"))
    line.add(("big", "b2"), Place("2"))
    assert drain(line) == [("big", "b0"), ("big", "b1"), ("big", "b2"), ("small", "s0")]


# -- the gate, parked resources (no pass waiting) ------------------------------------


def test_an_open_gate_blocks_nothing() -> None:
    gate, released = make_gate()
    assert not gate.blocked(SCOPE, ("ns", "a"))
    assert released == []


def test_quota_exceeded_closes_its_scope_only() -> None:
    gate, _ = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "2026-01-01T00:00:01Z")
    assert gate.blocked(SCOPE, ("ns", "b"))
    assert not gate.blocked(("", "eu-west-1"), ("ns", "b"))
    assert not gate.blocked(("111122223333", "us-east-1"), ("ns", "b"))


def test_freed_capacity_releases_the_oldest_parked_first() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("ns", "second"), "2026-01-01T00:00:02Z")
    gate.park(SCOPE, ("ns", "third"), "2026-01-01T00:00:03Z")
    gate.park(SCOPE, ("ns", "first"), "2026-01-01T00:00:01Z")
    gate.freed(SCOPE)
    assert released == [("ns", "first")]
    # The released one holds a turn through the closed gate; the others still wait.
    assert not gate.blocked(SCOPE, ("ns", "first"))
    assert gate.blocked(SCOPE, ("ns", "second"))
    gate.freed(SCOPE, 2)
    assert released == [("ns", "first"), ("ns", "second"), ("ns", "third")]


def test_freed_slots_go_round_the_namespaces() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("big", "b0"), "1")
    for index in range(1, 6):
        gate.park(SCOPE, ("big", f"b{index}"), "1")
    gate.park(SCOPE, ("small", "s0"), "9")
    gate.park(SCOPE, ("small", "s1"), "9")
    gate.freed(SCOPE, 4)
    assert released == [("big", "b0"), ("small", "s0"), ("big", "b1"), ("small", "s1")]


def test_parking_twice_keeps_one_place_in_line() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "1")
    gate.park(SCOPE, ("ns", "a"), "1")
    assert gate.waiting(SCOPE) == 1
    gate.freed(SCOPE, 5)
    assert released == [("ns", "a")]


def test_a_start_through_a_freed_slot_keeps_the_gate_closed() -> None:
    """It took the one slot that was freed: releasing the whole line would only meet refusals."""
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "1")
    gate.park(SCOPE, ("ns", "b"), "2")
    gate.freed(SCOPE)
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.started(SCOPE, ("ns", "a"))
    assert gate.is_closed(SCOPE)
    assert released == [("ns", "a")]


def test_a_successful_probe_opens_the_gate_and_lets_the_line_through() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "1")
    gate.park(SCOPE, ("ns", "b"), "2")
    gate.probe(SCOPE)
    assert released == [("ns", "a")]
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.started(SCOPE, ("ns", "a"))  # room we did not free: others' sessions ended
    assert not gate.is_closed(SCOPE)
    assert released == [("ns", "a"), ("ns", "b")]
    assert not gate.blocked(SCOPE, ("ns", "zzz"))


def test_a_freed_slot_nobody_waits_for_opens_the_gate() -> None:
    gate, _ = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "1")
    gate.forget(("ns", "a"))
    gate.freed(SCOPE)
    assert not gate.is_closed(SCOPE)


def test_a_refused_turn_holder_goes_back_in_line() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("ns", "a"), "1")
    gate.freed(SCOPE)
    assert released == [("ns", "a")]
    gate.exceeded(SCOPE, ("ns", "a"), "1")  # its Start was refused again
    assert gate.blocked(SCOPE, ("ns", "a"))
    assert gate.waiting(SCOPE) == 1


def test_a_turn_not_taken_gives_its_slot_to_the_next() -> None:
    """Throttled, or the pass did not Start at all: the freed slot is still there."""
    gate, released = closed_gate("abc")
    gate.freed(SCOPE)
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.answered(SCOPE, ("ns", "a"))  # throttled: the slot was not taken
    assert released == [("ns", "a"), ("ns", "b")]
    now = [0.0]
    clocked, later = make_gate(clock=lambda: now[0])
    clocked.exceeded(SCOPE, ("ns", "a"), "1")
    clocked.park(SCOPE, ("ns", "b"), "2")
    clocked.freed(SCOPE)
    now[0] = 31.0
    clocked.expire_turns(30.0)  # a's pass never came to Start
    assert later == [("ns", "a"), ("ns", "b")]
    assert clocked.blocked(SCOPE, ("ns", "a"))


def test_forgotten_resources_leave_the_line_and_their_turn_passes_on() -> None:
    gate, released = closed_gate("abc")
    gate.forget(("ns", "a"))
    gate.freed(SCOPE)
    assert released == [("ns", "b")]
    gate.forget(("ns", "b"))  # gone before its Start: c has the slot
    assert released == [("ns", "b"), ("ns", "c")]


def test_a_pooled_start_is_blocked_while_another_resource_waits() -> None:
    gate, released = make_gate()
    gate.exceeded(SCOPE, ("team", "cold"), "5")
    gate.park(SCOPE, ("team", "pool-aaaaa"), "1", pooled=True)
    assert gate.blocked(SCOPE, ("team", "pool-bbbbb"), pooled=True)
    gate.freed(SCOPE)
    assert released == [("team", "cold")]
    assert asyncio.run(gate.admit(SCOPE, ("team", "cold"), Place("5")))
    gate.started(SCOPE, ("team", "cold"))
    gate.freed(SCOPE)
    assert released == [("team", "cold"), ("team", "pool-aaaaa")]


def test_pooled_is_blocked_by_waiting_cold_sessions_even_with_room() -> None:
    async def scenario() -> None:
        gate, _ = make_gate(window=1)
        assert await gate.admit(SCOPE, ("team", "first"), Place("1"))
        waiting = asyncio.ensure_future(gate.admit(SCOPE, ("team", "cold"), Place("2")))
        await asyncio.sleep(0)
        assert not gate.is_closed(SCOPE)
        assert gate.blocked(SCOPE, ("team", "pool-aaaaa"), pooled=True)
        assert not gate.blocked(SCOPE, ("team", "other"), pooled=False)
        gate.started(SCOPE, ("team", "first"))
        assert await waiting
        gate.started(SCOPE, ("team", "cold"))
        assert not gate.blocked(SCOPE, ("team", "pool-aaaaa"), pooled=True)

    asyncio.run(scenario())


# -- the gate, admission of Starts ---------------------------------------------------


def test_at_most_a_window_of_starts_is_unanswered_and_turns_go_round() -> None:
    async def scenario() -> None:
        gate, _ = make_gate(window=2)
        order: list[tuple[str, str]] = []

        async def start(key: tuple[str, str], created: str) -> None:
            assert await gate.admit(SCOPE, key, Place(created))
            order.append(key)

        tasks = [asyncio.ensure_future(start(("big", f"b{i}"), "1")) for i in range(6)]
        await asyncio.sleep(0)
        tasks += [asyncio.ensure_future(start(("small", f"s{i}"), "2")) for i in range(2)]
        await asyncio.sleep(0)
        assert order == [("big", "b0"), ("big", "b1")]
        assert gate.waiting(SCOPE) == 6
        while len(order) < 8:
            gate.started(SCOPE, order[len(order) - 2])
            await asyncio.sleep(0)
        assert order[2:6] == [("big", "b2"), ("small", "s0"), ("big", "b3"), ("small", "s1")]
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_a_refusal_answers_every_waiting_start_without_sending_it() -> None:
    async def scenario() -> None:
        gate, _ = make_gate(window=1)
        assert await gate.admit(SCOPE, ("ns", "a"), Place("1"))
        waiting = [asyncio.ensure_future(gate.admit(SCOPE, ("ns", n), Place("2"))) for n in "bc"]
        await asyncio.sleep(0)
        gate.exceeded(SCOPE, ("ns", "a"), "1")
        assert await asyncio.gather(*waiting) == [False, False]
        assert not await gate.admit(SCOPE, ("ns", "d"), Place("3"))  # closed: not even queued
        assert gate.waiting(SCOPE) == 1  # a; b, c and d park when their refusal is recorded

    asyncio.run(scenario())


def test_a_cancelled_wait_leaves_the_line() -> None:
    async def scenario() -> None:
        gate, _ = make_gate(window=1)
        assert await gate.admit(SCOPE, ("ns", "a"), Place("1"))
        waiting = asyncio.ensure_future(gate.admit(SCOPE, ("ns", "b"), Place("2")))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
        assert gate.waiting(SCOPE) == 0
        gate.answered(SCOPE, ("ns", "a"))
        assert await gate.admit(SCOPE, ("ns", "c"), Place("3"))

    asyncio.run(scenario())


def test_oldest_first_sends_every_start_at_once() -> None:
    async def scenario() -> None:
        gate, released = make_gate(order=Order.OLDEST_FIRST, window=1)
        assert all([await gate.admit(SCOPE, ("ns", f"k{i}"), Place("1")) for i in range(5)])
        gate.exceeded(SCOPE, ("big", "b1"), "2")
        gate.park(SCOPE, ("small", "s0"), "3")
        gate.park(SCOPE, ("big", "b0"), "1")
        gate.freed(SCOPE, 3)
        assert released == [("big", "b0"), ("big", "b1"), ("small", "s0")]

    asyncio.run(scenario())


# -- a turn that found out nothing ---------------------------------------------------


def test_a_probe_with_no_answer_stays_a_probe() -> None:
    """A throttled or failed Start learned nothing about the quota: the next in line probes at
    once, and its Start, if it succeeds, opens the gate (a freed slot's would not)."""
    gate, released = closed_gate("abc")
    gate.probe(SCOPE)
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.answered(SCOPE, ("ns", "a"))  # ThrottlingException: nothing known about the quota
    assert released == [("ns", "a"), ("ns", "b")]
    assert asyncio.run(gate.admit(SCOPE, ("ns", "b"), Place("2")))
    gate.started(SCOPE, ("ns", "b"))
    assert not gate.is_closed(SCOPE)
    assert released == [("ns", "a"), ("ns", "b"), ("ns", "c")]


def test_a_freed_slot_with_no_answer_stays_a_freed_slot() -> None:
    gate, _ = closed_gate("ab")
    gate.freed(SCOPE)
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.answered(SCOPE, ("ns", "a"))
    assert asyncio.run(gate.admit(SCOPE, ("ns", "b"), Place("2")))
    gate.started(SCOPE, ("ns", "b"))
    assert gate.is_closed(SCOPE)  # it took the slot that was freed, nothing more is known


def test_one_probe_at_a_time() -> None:
    """The timer gives no second probe while the first has had no answer: a throttled stretch
    does not pile up probes that would all go out when it ends."""
    gate, released = closed_gate("ab")
    gate.probe(SCOPE)
    gate.probe(SCOPE)
    assert released == [("ns", "a")]
    assert asyncio.run(gate.admit(SCOPE, ("ns", "a"), Place("1")))
    gate.probe(SCOPE)  # its Start is in flight
    assert released == [("ns", "a")]
    gate.exceeded(SCOPE, ("ns", "a"), "1")  # the answer: still full; a parks in its place again
    gate.probe(SCOPE)
    assert released == [("ns", "a"), ("ns", "a")]


def test_a_probe_not_taken_or_forgotten_stays_a_probe() -> None:
    now = [0.0]
    gate, released = closed_gate("abc", clock=lambda: now[0])
    gate.probe(SCOPE)
    now[0] = 31.0
    gate.expire_turns(30.0)  # a's pass never came
    gate.forget(("ns", "b"))  # b went before its Start
    assert released == [("ns", "a"), ("ns", "b"), ("ns", "c")]
    assert asyncio.run(gate.admit(SCOPE, ("ns", "c"), Place("3")))
    gate.started(SCOPE, ("ns", "c"))
    assert not gate.is_closed(SCOPE)


def test_a_turn_its_pass_did_not_use_goes_to_the_next_at_once() -> None:
    """The holder's pass failed before its Start (a status write refused, say): the turn does
    not wait UNUSED_TURN_SECONDS to expire."""
    gate, released = closed_gate("ab")
    gate.freed(SCOPE)
    ticket = gate.turn(("ns", "a"))
    assert ticket is not None and gate.turn(("ns", "b")) is None
    gate.unused(("ns", "a"), ticket)
    assert released == [("ns", "a"), ("ns", "b")]
    assert gate.blocked(SCOPE, ("ns", "a"))  # it parks again, in its place in line


def test_a_turn_given_during_a_pass_is_kept_for_the_next_pass() -> None:
    gate, released = closed_gate("a")
    gate.freed(SCOPE)
    first = gate.turn(("ns", "a"))
    assert first is not None
    gate.exceeded(SCOPE, ("ns", "a"), "1")  # the pass used it: refused, parked again
    gate.freed(SCOPE)  # a new turn, requeued for the next pass
    gate.unused(("ns", "a"), first)  # the first pass ends
    assert not gate.blocked(SCOPE, ("ns", "a"))
    assert released == [("ns", "a"), ("ns", "a")]


def test_a_replay_uses_no_turn_and_opens_nothing() -> None:
    """A probe's holder replays a Start whose answer was lost (its refusal was never written):
    the replay may only have found the session the lost attempt made, so the gate stays
    closed and the probe goes on to the next in line when the pass ends."""
    gate, released = closed_gate("ab")
    gate.probe(SCOPE)
    ticket = gate.turn(("ns", "a"))
    assert ticket is not None
    gate.started(SCOPE, ("ns", "a"))  # a replay: never admitted
    assert gate.is_closed(SCOPE)
    gate.unused(("ns", "a"), ticket)
    assert released == [("ns", "a"), ("ns", "b")]
    assert asyncio.run(gate.admit(SCOPE, ("ns", "b"), Place("2")))
    gate.started(SCOPE, ("ns", "b"))
    assert not gate.is_closed(SCOPE)
