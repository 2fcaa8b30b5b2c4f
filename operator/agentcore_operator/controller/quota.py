"""Who may send a Start, and when: a fair share of the account's session quota.

AgentCore counts concurrent sessions per account and region, so the gate keeps one line per
scope, `(account, region)`. A Start is let through when two things allow it: the quota (is
there room?) and its turn (is it this namespace's turn?).

Where unfairness comes from. A namespace that creates 1,000 resources first gets 1,000
passes that each want to Start. If every pass went straight to the rate limiter (a FIFO
token bucket, 30 TPS), a namespace arriving a second later would find ~900 Starts queued
ahead of it: its first Start waits ~30 s, whatever order the quota's waiting line has. So
the gate orders Starts before the rate limiter, not only after a QuotaExceeded:

- Admission while the quota has room (gate open): a pass about to Start asks for its turn
  (`admit`). At most `window` Starts of a scope are let through and unanswered at a time
  (enough to keep a 30 TPS bucket busy at round trips up to ~0.5 s); the others wait in the
  line, and each answered Start lets the next turn through. A namespace that arrives waits
  at most about window / rate for its first turn, not for everyone who came before it.
- The quota full (gate closed): AgentCore refused a Start with ServiceQuotaExceeded. Starts
  waiting for their turn are answered at once as refused (nothing is sent: the quota was
  reported full a moment ago) and their resources wait in Pending/QuotaExceeded, parked in
  the same line. Each session of ours that ends (`freed`) is one credit: one waiting
  resource gets its turn (a permit, and its key requeued). Every `probe_interval` one more
  gets a turn (`probe`): capacity others freed in the account is found that way. A Start
  through a probe that succeeds opens the gate; a Start through a freed slot does not (it
  only took the slot that was freed), so a full quota never releases the whole line at
  once. A freed slot with nobody waiting opens the gate too. One probe is out at a time:
  the timer gives none while the last one has had no answer.
- A turn not used goes to the next in line, as what it was: a freed slot stays a freed
  slot, and a probe stays a probe. A probe whose Start was throttled or failed (5xx)
  learned nothing about the quota, so the next turn is again a probe, at once, not a
  freed slot (a Start through that would keep the gate closed until the next probe, and
  one spurious QuotaExceeded would cost many probe intervals instead of about one). A
  turn is not used when its Start got no answer about the quota (`answered`), when the
  pass of the resource holding it ended without sending its Start (a failed status write,
  a conflict, a new spec: `unused`, told by the reconciler at the end of every pass), or,
  as a last resort, when it was not used within UNUSED_TURN_SECONDS (`expire_turns`).

The line (`FairLine`, pure: no clock, no I/O): per namespace, oldest first (by
creationTimestamp, then name); across namespaces, smooth weighted round-robin (nginx's:
every pick adds each waiting namespace's weight to its credit, the highest credit wins and
pays the sum of the weights), so a namespace of weight w gets w turns in every sum(w) while
it waits, interleaved rather than in bursts, and one with 5,000 waiting never starves one
with 5. Weights come from the namespace's AgentCoreAccessPolicy (default 1).

Pooled sessions (children of a CodeInterpreterSessionPool still labelled
`agentcore.dev/pool-state: free`) are the lowest class: a pooled resource gets a turn only
when no other resource waits in its scope, and a pooled Start counts as blocked while any
does. A warm pool therefore never takes the quota slots that cold sessions wait for; it
fills with what is left.

A pass waiting for its turn holds one of the controller's reconcile slots (2,048): beyond
that many at once, later resources wait in the work queue, first come first served, until
the gate closes (the waiting passes are then answered and parked) or the queue drains.

Not held back: a replayed Start (same client token: it may have started a session already,
which must be found and perhaps stopped) and any Start of a resource being deleted. Such a
Start uses no turn either: a turn its resource holds is handed back as it was, whatever
the answer (a replay that succeeds may only have found the session an earlier attempt made,
so it opens nothing), except a refusal for quota, which is an answer.

`Order.OLDEST_FIRST` keeps the behaviour before fair share, for comparison
(bench/fairness.py): no admission (Starts queue in the rate limiter in the order their
passes reach it), and one line per scope, oldest first across all namespaces.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from agentcore_operator.controller.store import Key

Scope = Hashable  # (account, region) in the operator
DEFAULT_WINDOW = 16
# A parked resource given a turn comes for it within a pass; one that has not within this
# long never will (its spec changed, say): the turn goes to the next in line.
UNUSED_TURN_SECONDS = 30.0


class Order(StrEnum):
    FAIR = "fair"  # weighted round-robin across namespaces, fair admission of Starts
    OLDEST_FIRST = "oldest-first"  # the order before fair share: by creationTimestamp


@dataclass(frozen=True)
class Place:
    """A waiting resource's claim to a turn."""

    created: str  # creationTimestamp: oldest first within a namespace
    weight: int = 1  # its namespace's share
    pooled: bool = False  # a free pool child: the lowest class


@dataclass
class _Queue:
    entries: list[tuple[str, Key, int]] = field(default_factory=list)  # heap; stale ones skipped
    size: int = 0
    credit: int = 0  # smooth weighted round-robin
    weight: int = 1


class FairLine:
    """The resources of one scope waiting for a Start, and whose turn is next."""

    def __init__(self, order: Order = Order.FAIR) -> None:
        self._order = order
        self._places: dict[Key, tuple[Place, int]] = {}
        self._queues: dict[tuple[bool, str], _Queue] = {}
        self._waiting = {False: 0, True: 0}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, key: object) -> bool:
        return key in self._places

    def waiting(self, *, pooled: bool) -> int:
        return self._waiting[pooled]

    def add(self, key: Key, place: Place) -> None:
        """Join the line, or update the weight and class of a resource already in it."""
        held = self._places.get(key)
        if held is not None:
            if held[0].pooled == place.pooled:
                self._queues[(place.pooled, self._group(key))].weight = max(1, place.weight)
                return
            self.remove(key)  # a pool child claimed while it waited: it moves to the other class
        seq = next(self._seq)
        self._places[key] = (place, seq)
        queue = self._queues.setdefault((place.pooled, self._group(key)), _Queue())
        queue.weight = max(1, place.weight)
        heapq.heappush(queue.entries, (place.created, key, seq))
        queue.size += 1
        self._waiting[place.pooled] += 1

    def remove(self, key: Key) -> bool:
        held = self._places.pop(key, None)
        if held is None:
            return False
        group = (held[0].pooled, self._group(key))
        self._waiting[held[0].pooled] -= 1
        queue = self._queues[group]
        queue.size -= 1
        if queue.size == 0:
            del self._queues[group]  # a namespace that comes back starts with no credit
        return True

    def next(self) -> Key | None:
        """Whose turn it is; it leaves the line. None when nobody waits."""
        pooled = self._waiting[False] == 0
        groups = [(group, queue) for group, queue in self._queues.items() if group[0] == pooled]
        if not groups:
            return None
        if self._order is Order.OLDEST_FIRST:
            group, _ = min(groups, key=lambda item: self._head(item[1]))
        else:
            total = sum(queue.weight for _, queue in groups)
            for _, queue in groups:
                queue.credit += queue.weight
            # The highest credit wins; on a tie, the namespace whose name sorts first.
            group, chosen = min(groups, key=lambda item: (-item[1].credit, item[0][1]))
            chosen.credit -= total
        queue = self._queues[group]
        _, key, _ = self._head(queue)
        heapq.heappop(queue.entries)
        self.remove(key)
        return key

    def _group(self, key: Key) -> str:
        return key[0] if self._order is Order.FAIR else ""

    def _head(self, queue: _Queue) -> tuple[str, Key, int]:
        while True:
            created, key, seq = queue.entries[0]
            held = self._places.get(key)
            if held is not None and held[1] == seq:
                return created, key, seq
            heapq.heappop(queue.entries)  # left or re-joined since


class Grant(Enum):
    OPEN = "open"  # the quota has room: a turn of the admission window
    FREED = "freed"  # one of our sessions ended: its slot
    PROBE = "probe"  # the periodic probe: is there room we did not free?


@dataclass
class _ScopeState:
    line: FairLine
    closed: bool = False
    credits: int = 0  # slots we freed while closed that no one has taken yet
    held: dict[Key, asyncio.Future[bool]] = field(default_factory=dict)  # passes waiting in admit()
    permits: dict[Key, Grant] = field(default_factory=dict)  # parked resources given a turn
    granted_at: dict[Key, float] = field(default_factory=dict)  # when each permit was given
    tickets: dict[Key, int] = field(default_factory=dict)  # which grant each permit is (see turn())
    in_flight: dict[Key, Grant] = field(default_factory=dict)  # Starts let through, unanswered


class QuotaGate:
    def __init__(
        self,
        release: Callable[[Key], None],
        *,
        probe_interval: float = 30.0,
        order: Order = Order.FAIR,
        window: int = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._release = release
        self._clock = clock
        self._probe_interval = probe_interval
        self._order = Order(order)
        # Oldest-first admits every Start at once (they queue in the rate limiter), as before.
        self._window = window if self._order is Order.FAIR else None
        self._scopes: dict[Scope, _ScopeState] = {}
        self._tickets = itertools.count(1)

    @property
    def order(self) -> Order:
        return self._order

    def _state(self, scope: Scope) -> _ScopeState:
        state = self._scopes.get(scope)
        if state is None:
            state = self._scopes[scope] = _ScopeState(FairLine(self._order))
        return state

    # -- asked during a pass -----------------------------------------------------------

    def is_closed(self, scope: Scope) -> bool:
        state = self._scopes.get(scope)
        return state is not None and state.closed

    def blocked(self, scope: Scope, key: Key, *, pooled: bool = False) -> bool:
        """Whether a Start for `key` must wait: the quota is full and it holds no turn, or it
        is pooled and a resource of a higher class waits."""
        state = self._scopes.get(scope)
        if state is None or key in state.permits:
            return False
        return state.closed or (pooled and state.line.waiting(pooled=False) > 0)

    def waiting(self, scope: Scope) -> int:
        state = self._scopes.get(scope)
        return len(state.line) if state is not None else 0

    async def admit(self, scope: Scope, key: Key, place: Place) -> bool:
        """Wait for `key`'s turn to send its Start; False: the quota is full, do not send."""
        state = self._state(scope)
        grant = self._take_permit(state, key)
        if grant is not None:
            state.in_flight[key] = grant
            return True
        if state.closed:
            return False
        if self._window is None:
            state.in_flight[key] = Grant.OPEN
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        stale = state.held.pop(key, None)
        if stale is not None and not stale.done():
            stale.set_result(False)
        state.held[key] = future
        state.line.add(key, place)
        self._dispatch(state)
        try:
            return await future
        except asyncio.CancelledError:
            if state.held.get(key) is future:  # cancelled while waiting for its turn
                del state.held[key]
                state.line.remove(key)
            elif future.done() and not future.cancelled() and future.result():
                self.answered(scope, key)  # cancelled as its turn came: the turn goes on
            raise

    # -- told after a call -------------------------------------------------------------

    def started(self, scope: Scope, key: Key) -> None:
        """A Start succeeded.

        Only a Start let through by `admit` uses a turn. A replay (never held back) may have
        found the session its lost answer had made, so its success says nothing sure about
        room: a turn its resource holds stays unused (the pass hands it back as it was)."""
        state = self._state(scope)
        grant = state.in_flight.pop(key, None)
        if state.closed and grant is Grant.PROBE:
            self._open(state)  # room we did not free: others' sessions ended
        self._dispatch(state)

    def exceeded(
        self, scope: Scope, key: Key, created: str, *, weight: int = 1, pooled: bool = False
    ) -> None:
        """A Start was refused for quota (or not sent, the gate being closed): park the resource."""
        state = self._state(scope)
        state.in_flight.pop(key, None)
        self._take_permit(state, key)
        if not state.closed:
            self._close(state)
        self.park(scope, key, created, weight=weight, pooled=pooled)

    def answered(self, scope: Scope, key: Key) -> None:
        """A Start ended with no answer about the quota (throttled, failed, not sent): its turn
        goes to the next in line as what it was (a freed slot, a probe)."""
        state = self._scopes.get(scope)
        if state is None:
            return
        grant = state.in_flight.pop(key, None)
        if grant is not None:
            self._hand_back(state, grant)  # no answer about the quota: the turn goes on as it was
        self._dispatch(state)

    def park(self, scope: Scope, key: Key, created: str, *, weight: int = 1, pooled: bool = False) -> None:
        """Wait in line (not in a pass): the gate requeues the key when its turn comes."""
        state = self._state(scope)
        if key in state.permits or key in state.held:
            return  # its turn is given, or it waits in admit() already
        state.line.add(key, Place(created, weight, pooled))
        self._dispatch(state)

    def turn(self, key: Key) -> int | None:
        """The ticket of the turn `key` holds now (a parked resource given one), or None.

        Asked as a pass begins; `unused(key, ticket)` at its end hands back that turn, and not
        one given while the pass ran (that one is for the pass the gate requeued)."""
        for state in self._scopes.values():
            ticket = state.tickets.get(key)
            if ticket is not None:
                return ticket
        return None

    def unused(self, key: Key, ticket: int) -> None:
        """A pass that began holding turn `ticket` ended without sending its Start (it failed
        before, hit a conflict, or decided otherwise): the turn goes to the next in line now."""
        for state in self._scopes.values():
            if state.tickets.get(key) == ticket:
                grant = self._take_permit(state, key)
                if grant is not None:
                    self._hand_back(state, grant)
                self._dispatch(state)
                return

    def expire_turns(self, older_than: float) -> None:
        """Take back turns not used for `older_than` seconds (a pass that never came, which
        `unused` did not hear of); what they held goes to the next in line."""
        deadline = self._clock() - older_than
        for state in self._scopes.values():
            for key in [key for key, at in state.granted_at.items() if at <= deadline]:
                grant = self._take_permit(state, key)
                if grant is not None:
                    self._hand_back(state, grant)
            self._dispatch(state)

    def freed(self, scope: Scope, count: int = 1) -> None:
        """Sessions of ours ended: their slots go to the next in line."""
        state = self._scopes.get(scope)
        if state is None or not state.closed:
            return
        if not state.line and not state.in_flight:
            self._open(state)  # room, and nobody waits for it: the next Start finds out
            return
        state.credits += count
        self._dispatch(state)

    def probe(self, scope: Scope) -> None:
        """One turn to find out whether room came back that we did not free."""
        state = self._scopes.get(scope)
        if state is None or not state.closed or self._probe_out(state):
            return  # one probe at a time: the one out has had no answer yet
        if not state.line:
            self._open(state)
            return
        self._grant(state, Grant.PROBE)

    def forget(self, key: Key) -> None:
        """The resource is gone; its place in line and any turn go with it."""
        for state in self._scopes.values():
            state.line.remove(key)
            future = state.held.pop(key, None)
            if future is not None and not future.done():
                future.set_result(False)
            grant = self._take_permit(state, key) or state.in_flight.pop(key, None)
            if grant is not None:
                self._hand_back(state, grant)
                self._dispatch(state)

    async def run(self) -> None:
        """Probe closed scopes: one Start per interval finds out if capacity came back."""
        while True:
            await asyncio.sleep(self._probe_interval)
            self.expire_turns(UNUSED_TURN_SECONDS)
            for scope in list(self._scopes):
                self.probe(scope)

    # -- the turns ---------------------------------------------------------------------

    def _dispatch(self, state: _ScopeState) -> None:
        while state.line:
            if state.closed:
                if state.credits <= 0:
                    return
                state.credits -= 1
                grant = Grant.FREED
            else:
                if self._window is not None and len(state.in_flight) + len(state.permits) >= self._window:
                    return
                grant = Grant.OPEN
            self._grant(state, grant)

    def _grant(self, state: _ScopeState, grant: Grant) -> None:
        key = state.line.next()
        if key is None:
            return
        future = state.held.pop(key, None)
        if future is not None:
            state.in_flight[key] = grant
            future.set_result(True)
        else:
            state.permits[key] = grant
            state.granted_at[key] = self._clock()
            state.tickets[key] = next(self._tickets)
            self._release(key)

    def _take_permit(self, state: _ScopeState, key: Key) -> Grant | None:
        state.granted_at.pop(key, None)
        state.tickets.pop(key, None)
        return state.permits.pop(key, None)

    def _hand_back(self, state: _ScopeState, grant: Grant) -> None:
        """A turn that found out nothing goes to the next in line as what it was (the caller
        dispatches). While the quota has room, its window place is simply free again."""
        if not state.closed:
            return
        if grant is Grant.FREED:
            state.credits += 1  # the slot was not taken: the next in line may have it
        elif grant is Grant.PROBE and not self._probe_out(state):
            self._grant(state, Grant.PROBE)  # still nothing known about the quota: probe again

    @staticmethod
    def _probe_out(state: _ScopeState) -> bool:
        """A probe's turn is given and has had no answer yet (held by a parked resource, or its
        Start in flight)."""
        return Grant.PROBE in state.permits.values() or Grant.PROBE in state.in_flight.values()

    def _close(self, state: _ScopeState) -> None:
        state.closed = True
        state.credits = 0
        # Turns given while there was room are taken back: those Starts would be refused.
        for key, grant in list(state.permits.items()):
            if grant is Grant.OPEN:
                self._take_permit(state, key)
        for key, future in list(state.held.items()):
            state.line.remove(key)
            if not future.done():
                future.set_result(False)
        state.held.clear()

    def _open(self, state: _ScopeState) -> None:
        state.closed = False
        state.credits = 0
        for key, grant in state.permits.items():
            if grant is Grant.PROBE:
                # Moot now that there is room; as a freed slot it keeps no later probe waiting.
                state.permits[key] = Grant.FREED
        self._dispatch(state)
