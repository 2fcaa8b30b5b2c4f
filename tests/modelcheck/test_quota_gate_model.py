"""Model-checking the quota gate's turns (controller/quota.py) against a simulated quota.

Hypothesis drives one `QuotaGate` the way the session reconciler does: resources of
namespaces with weights 1 to 3, some of them free pool children, ask for a turn
(`admit`, while a pass waits) or park (refused for quota); AgentCore answers each Start
sent with success, a refusal when its Q slots are taken, or another error; sessions end
(`freed`), the probe comes round, turns expire, resources are deleted (`forget`), and the
pass of a resource given a turn may fail before its Start (`unused`: a status write refused),
and a resource with an unanswered Start replays it without asking for a turn.

Invariants, after every step:
1. A resource is in at most one place: in line, holding a turn, or with a Start in flight.
2. While the quota has room, at most `window` Starts are let through and unanswered (turns
   included; Starts through freed slots or probes while it was full may add to them).
3. A pooled resource is never let through while a non-pooled one waits in the line.
4. No starvation: a namespace that keeps waiting is let through before the others together
   have had more than sum(weights) + namespaces turns.
5. Within a namespace and class, turns go oldest first.
6. At most one probe is out (given, and not yet answered), and none while the quota has room.
7. A probe whose Start had no answer about the quota (throttled, failed), whose holder's
   pass failed before its Start, or whose holder's replayed Start succeeded (it may have
   found an old session: nothing sure about room), stays a probe: while anyone waits,
   another is out at once.
And at the end: once sessions keep ending, everyone waiting gets a turn.
"""

from __future__ import annotations

import asyncio

from agentcore_operator.controller.quota import FairLine, Grant, Place, QuotaGate
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

SCOPE = ("", "us-east-1")
NAMESPACES = {"a": 1, "b": 2, "c": 3, "d": 1}
QUOTA = 4
WINDOW = 3

Key = tuple[str, str]


class GateModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.now = 0.0
        self.released: list[Key] = []
        self.gate = QuotaGate(self.released.append, window=WINDOW, clock=lambda: self.now)
        self.live = 0  # sessions of ours AgentCore counts
        self.waits: dict[Key, asyncio.Task[bool]] = {}  # passes waiting in admit()
        self.sending: set[Key] = set()  # admitted: the Start goes out
        self.parked: set[Key] = set()
        self.places: dict[Key, Place] = {}
        self.created = 0
        self.skipped: dict[str, int] = {}  # turns others had while this namespace waited
        self.last_turn: dict[tuple[str, bool], str] = {}
        self.next_passes: list[str] = []  # how the next released resources' passes go
        self._watch_the_line()

    def teardown(self) -> None:
        for task in self.waits.values():
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    # -- instrumenting the pure line: invariants 3, 4 and 5 at each pick ----------------

    def _watch_the_line(self) -> None:
        line = self.gate._state(SCOPE).line
        original = line.next

        def next_watched(this: FairLine = line) -> Key | None:
            waiting_other = this.waiting(pooled=False)
            heads = {
                (key[0], place.pooled): place.created
                for key, place in sorted(self.places.items(), key=lambda item: item[1].created, reverse=True)
                if key in this
            }
            key = original()
            if key is None:
                return None
            place = self.places[key]
            assert not place.pooled or waiting_other == 0, "a pooled resource went before a waiting one"
            assert place.created == heads[(key[0], place.pooled)], "not oldest first within a namespace"
            if not place.pooled:
                waiting_namespaces = {k[0] for k, p in self.places.items() if k in this and not p.pooled}
                for namespace in waiting_namespaces:
                    self.skipped[namespace] = self.skipped.get(namespace, 0) + 1
                self.skipped[key[0]] = 0
                bound = sum(NAMESPACES.values()) + len(NAMESPACES)
                assert all(count <= bound for count in self.skipped.values()), self.skipped
            return key

        line.next = next_watched  # type: ignore[method-assign]

    def settle(self) -> None:
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))
        for key, task in list(self.waits.items()):
            if task.done():
                del self.waits[key]
                if task.result():
                    self.sending.add(key)
                else:  # not sent: the reconciler records it as refused, and the resource parks
                    place = self.places[key]
                    self.gate.exceeded(SCOPE, key, place.created, weight=place.weight, pooled=place.pooled)
                    self.parked.add(key)
        for key in self.released:  # a hand-back below may release more: they are seen too
            if key in self.parked:
                self.parked.discard(key)
                outcome = self.next_passes.pop(0) if self.next_passes else "asks"
                if outcome == "fails":
                    self._pass_fails(key)
                elif outcome == "replays":
                    self._pass_replays(key)
                else:
                    self._pass(key)
        self.released.clear()

    def _pass_fails(self, key: Key) -> None:
        """A released resource's pass fails before its Start: its turn goes back at once; the
        resource is idle until it is looked at again (then it parks, or has its turn)."""
        state = self.gate._state(SCOPE)
        ticket = self.gate.turn(key)
        assert ticket is not None, "a released resource holds a turn"
        probe = state.permits.get(key) is Grant.PROBE
        self.gate.unused(key, ticket)
        assert key not in state.permits
        if probe and state.closed and state.line:
            assert self._probes_out() == 1, "a probe handed back did not stay a probe"

    def _pass_replays(self, key: Key) -> None:
        """A released resource's pass replays its Start (not held back, no turn asked); the
        pass ends and hands back the turn it did not use."""
        state = self.gate._state(SCOPE)
        ticket = self.gate.turn(key)
        assert ticket is not None, "a released resource holds a turn"
        probe = state.permits.get(key) is Grant.PROBE
        place = self.places[key]
        if self.live < QUOTA:
            self.live += 1
            self.gate.started(SCOPE, key)
            self.gate.unused(key, ticket)
            del self.places[key]  # it runs (a new session, or the one the lost answer made)
            self.gate.forget(key)
            if probe and state.closed and state.line:
                assert self._probes_out() == 1, "a replay used up a probe"
        else:
            self.gate.exceeded(SCOPE, key, place.created, weight=place.weight, pooled=place.pooled)
            self.gate.unused(key, ticket)
            self.parked.add(key)

    def _probes_out(self) -> int:
        state = self.gate._state(SCOPE)
        return sum(g is Grant.PROBE for g in (*state.permits.values(), *state.in_flight.values()))

    def _pass(self, key: Key) -> None:
        """A released resource's pass: unless blocked, it asks for its turn (which it holds)."""
        place = self.places[key]
        if self.gate.blocked(SCOPE, key, pooled=place.pooled):
            self.gate.park(SCOPE, key, place.created, weight=place.weight, pooled=place.pooled)
            self.parked.add(key)
            return
        self.waits[key] = self.loop.create_task(self.gate.admit(SCOPE, key, place))

    def _idle(self) -> list[Key]:
        busy = set(self.waits) | self.sending | self.parked
        return [key for key in self.places if key not in busy]

    # -- rules -----------------------------------------------------------------------

    @rule(namespace=st.sampled_from(sorted(NAMESPACES)), pooled=st.booleans())
    def create(self, namespace: str, pooled: bool) -> None:
        self.created += 1
        key = (namespace, f"r{self.created:03}")
        self.places[key] = Place(f"{self.created:06}", NAMESPACES[namespace], pooled)
        self._pass(key)
        self.settle()

    @precondition(lambda self: self.sending)
    @rule(data=st.data(), outcome=st.sampled_from(["answer", "answer", "other"]))
    def answer(self, data: st.DataObject, outcome: str) -> None:
        key = data.draw(st.sampled_from(sorted(self.sending)))
        self.sending.discard(key)
        place = self.places[key]
        if outcome == "other":
            state = self.gate._state(SCOPE)
            probe = state.in_flight.get(key) is Grant.PROBE
            self.gate.answered(SCOPE, key)
            if probe and state.closed and state.line:
                assert self._probes_out() == 1, "a probe with no answer did not stay a probe"
            self._pass(key)  # a throttled Start retries
        elif self.live < QUOTA:
            self.live += 1
            self.gate.started(SCOPE, key)
            del self.places[key]  # it runs: this model follows it no further
            self.gate.forget(key)
        else:
            self.gate.exceeded(SCOPE, key, place.created, weight=place.weight, pooled=place.pooled)
            self.parked.add(key)
        self.settle()

    @precondition(lambda self: self.live > 0)
    @rule()
    def session_ends(self) -> None:
        self.live -= 1
        self.gate.freed(SCOPE)
        self.settle()

    @rule(outcome=st.sampled_from(["fails", "replays"]))
    def next_pass(self, outcome: str) -> None:
        """The pass of the next resource given a turn fails before its Start, or replays a
        Start whose answer was lost (it had been refused and its status write failed)."""
        self.next_passes.append(outcome)

    @rule()
    def probe(self) -> None:
        self.gate.probe(SCOPE)
        self.settle()

    @rule()
    def turns_expire(self) -> None:
        self.now += 31.0
        self.gate.expire_turns(30.0)
        self.settle()
        for key in self._idle():  # its turn was taken back: its next pass parks it again
            self._pass(key)
        self.settle()

    @precondition(lambda self: self.places)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.places)))
        self.gate.forget(key)
        task = self.waits.pop(key, None)
        if task is not None:
            task.cancel()
        self.sending.discard(key)
        self.parked.discard(key)
        del self.places[key]
        self.settle()

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def one_place_each(self) -> None:
        state = self.gate._state(SCOPE)
        for key in self.places:
            where = [key in state.line, key in state.permits, key in state.in_flight]
            assert sum(where) <= 1, (key, where)

    @invariant()
    def a_window_while_open(self) -> None:
        state = self.gate._state(SCOPE)
        opened = [
            grant for grant in (*state.in_flight.values(), *state.permits.values()) if grant.value == "open"
        ]
        assert len(opened) <= WINDOW  # probes and freed slots from while it was closed may add to them

    @invariant()
    def one_probe_at_a_time(self) -> None:
        state = self.gate._state(SCOPE)
        assert self._probes_out() <= (1 if state.closed else 0), (state.permits, state.in_flight)

    def drain(self) -> None:
        """With sessions ending, every waiting resource gets its turn."""
        self.next_passes.clear()
        for _ in range(10 * (len(self.places) + 5)):
            if not self.places:
                return
            for key in sorted(self.sending):
                self.answer_for_drain(key)
            if self.live > 0:
                self.live -= 1
                self.gate.freed(SCOPE)
            else:
                self.gate.probe(SCOPE)
            self.now += 31.0
            self.gate.expire_turns(30.0)
            self.settle()
            for key in self._idle():
                self._pass(key)
            self.settle()
        raise AssertionError(f"still waiting: {sorted(self.places)}")

    def answer_for_drain(self, key: Key) -> None:
        self.sending.discard(key)
        place = self.places[key]
        if self.live < QUOTA:
            self.live += 1
            self.gate.started(SCOPE, key)
            del self.places[key]
            self.gate.forget(key)
        else:
            self.gate.exceeded(SCOPE, key, place.created, weight=place.weight, pooled=place.pooled)
            self.parked.add(key)


def test_the_quota_gate_model() -> None:
    class Checked(GateModel):
        def teardown(self) -> None:
            try:
                self.drain()
            finally:
                super().teardown()

    run_state_machine_as_test(
        Checked,
        settings=settings(
            max_examples=200,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
