"""The elector's protocol on a fake clock and an in-memory Lease with resourceVersion checks.

The same elector against the emulated cluster over HTTP is in tests/integration/test_leader_election.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from agentcore_operator.runtime.elector import (
    ElectionConfigError,
    ElectionTiming,
    LeaderElector,
    LeaderRecord,
    LockConflict,
    default_identity,
    micro_time,
)


@dataclass
class FakeClock:
    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now)


@dataclass
class MemoryLease:
    """One Lease with the API server's optimistic concurrency: 409 on a stale resourceVersion."""

    record: LeaderRecord | None = None
    version: int = 0
    reachable: bool = True
    writes: list[LeaderRecord] = field(default_factory=list)
    description: str = "test/lease"

    def _check(self) -> None:
        if not self.reachable:
            raise ConnectionError("partitioned")

    async def get(self) -> tuple[LeaderRecord, str] | None:
        self._check()
        return None if self.record is None else (self.record, str(self.version))

    async def create(self, record: LeaderRecord) -> str:
        self._check()
        if self.record is not None:
            raise LockConflict("AlreadyExists")
        return self._store(record)

    async def update(self, record: LeaderRecord, resource_version: str) -> str:
        self._check()
        if resource_version != str(self.version):
            raise LockConflict("Conflict")
        return self._store(record)

    def _store(self, record: LeaderRecord) -> str:
        self.version += 1
        self.record = record
        self.writes.append(record)
        return str(self.version)

    def close(self) -> None:
        pass


def elector(lease: MemoryLease, clock: FakeClock, identity: str, **kwargs: object) -> LeaderElector:
    return LeaderElector(
        lease,
        identity,
        ElectionTiming(),
        monotonic=clock.monotonic,
        wall=clock.wall,
        jitter=lambda: 0.0,
        **kwargs,
    )  # type: ignore[arg-type]


def step(candidate: LeaderElector) -> bool:
    return asyncio.run(candidate.try_acquire_or_renew())


def test_the_first_candidate_creates_the_lease_and_holds_it() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a = elector(lease, clock, "a")
    assert step(a)
    assert lease.record is not None
    assert (lease.record.holder, lease.record.lease_duration_seconds, lease.record.transitions) == (
        "a",
        15,
        0,
    )
    assert lease.record.acquire_time == lease.record.renew_time == micro_time(clock.wall())


def test_a_held_lease_is_taken_only_after_it_stood_still_for_its_duration() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert step(a)
    assert not step(b)  # b first sees a's record now
    clock.now += 14.9
    assert not step(b)
    clock.now += 0.2
    assert step(b)
    assert lease.record is not None and (lease.record.holder, lease.record.transitions) == ("b", 1)


def test_renewals_keep_the_lease_away_from_a_standby() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert step(a)
    for _ in range(20):
        clock.now += 2
        assert step(a)
        assert not step(b)
    assert lease.record is not None and lease.record.holder == "a"
    first = lease.writes[0]
    assert lease.record.acquire_time == first.acquire_time, "a renewal keeps the acquire time"


def test_of_two_updates_on_one_read_only_one_wins() -> None:
    clock, lease = FakeClock(), MemoryLease()
    assert step(elector(lease, clock, "old"))
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    step(a), step(b)
    clock.now += 16

    async def race() -> list[bool]:
        return list(await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew()))

    assert sorted(asyncio.run(race())) == [False, True]
    assert lease.record is not None and lease.record.transitions == 1


def test_the_fence_closes_at_the_renew_deadline_even_if_nobody_checks() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a = elector(lease, clock, "a")
    assert step(a)
    a._leading = True  # as run() does after acquiring
    assert a.may_act()
    lease.reachable = False
    clock.now += 9.9
    assert not step(a)
    assert a.may_act()
    clock.now += 0.1
    assert not a.may_act(), "past renewDeadline since the last successful renewal"


def test_the_deadline_counts_from_when_the_renewal_was_sent() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a = elector(lease, clock, "a")
    slow_get = lease.get

    async def get_slowly() -> tuple[LeaderRecord, str] | None:
        clock.now += 3  # the answer arrives 3 s after the request went out
        return await slow_get()

    lease.get = get_slowly  # type: ignore[method-assign]
    sent = clock.now
    assert step(a)
    a._leading = True
    clock.now = sent + 9.99
    assert a.may_act()
    clock.now = sent + 10
    assert not a.may_act()


class Loop:
    """Runs an elector's loops on the fake clock: every sleep advances time instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def sleep(self, seconds: float) -> None:
        self.clock.now += seconds
        await asyncio.sleep(0)


def test_a_partitioned_leader_steps_down_and_a_standby_takes_over_after_the_lease() -> None:
    clock, lease = FakeClock(), MemoryLease()
    loop = Loop(clock)
    stopped: list[float] = []
    started: list[float] = []
    a = LeaderElector(
        lease,
        "a",
        monotonic=clock.monotonic,
        wall=clock.wall,
        sleep=loop.sleep,
        jitter=lambda: 0.0,
        on_started_leading=lambda: started.append(clock.now),
        on_stopped_leading=lambda: stopped.append(clock.now),
    )

    async def scenario() -> None:
        task = asyncio.create_task(a.run())
        await asyncio.sleep(0)  # the first attempt acquires at once (the fake lock never waits)
        assert started
        acquired = clock.now
        for _ in range(3):  # a few renewals
            await loop.sleep(0)
        lease.reachable = False
        cut = a._renewed_at
        await task
        assert cut is not None
        assert a.lost and not a.may_act()
        assert stopped and stopped[0] - cut <= 10.0 + 1e-9
        assert acquired <= cut

    asyncio.run(scenario())
    # The standby first sees the last record only now; it waits a whole lease duration.
    lease.reachable = True
    b = elector(lease, clock, "b")
    assert not step(b)
    clock.now += 15.01
    assert step(b)


def test_release_empties_the_holder_so_a_standby_takes_over_at_once() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert step(a)
    a._leading = True
    assert not step(b)
    assert asyncio.run(a.release())
    assert lease.record is not None
    assert (lease.record.holder, lease.record.lease_duration_seconds) == ("", 1)
    assert not a.may_act()
    assert step(b), "an empty holder is free at once, no waiting for expiry"
    assert lease.record.transitions == 1


def test_release_after_our_own_late_renewal_releases_the_newer_version() -> None:
    """A renewal whose wait was cancelled can still land: the Lease is newer than the elector
    knows but still ours. The release reads it again and empties that version."""
    clock, lease = FakeClock(), MemoryLease()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert step(a)
    a._leading = True
    assert lease.record is not None
    lease._store(lease.record)  # the renewal a stopped waiting for, landing late
    assert asyncio.run(a.release())
    assert (lease.record.holder, lease.record.lease_duration_seconds) == ("", 1)
    assert step(b), "the standby takes over at once"


def test_release_never_empties_a_lease_someone_else_holds_now() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a = elector(lease, clock, "a")
    assert step(a)
    a._leading = True
    assert lease.record is not None
    lease._store(replace(lease.record, holder="b"))  # b took it (a's clock stalled, say)
    assert not asyncio.run(a.release())
    assert lease.record.holder == "b"


def test_release_by_a_non_leader_writes_nothing() -> None:
    clock, lease = FakeClock(), MemoryLease()
    assert step(elector(lease, clock, "a"))
    b = elector(lease, clock, "b")
    step(b)
    writes = len(lease.writes)
    assert not asyncio.run(b.release())
    assert len(lease.writes) == writes


def test_a_stepped_down_elector_never_acquires_again() -> None:
    clock, lease = FakeClock(), MemoryLease()
    a = elector(lease, clock, "a")
    a.step_down()
    assert not step(a)
    assert lease.record is None


@pytest.mark.parametrize(
    ("timing", "message"),
    [
        (ElectionTiming(10, 10, 2), "greater than the renew deadline"),
        (ElectionTiming(15, 2, 2), "retry period"),
    ],
)
def test_unsafe_timings_are_refused(timing: ElectionTiming, message: str) -> None:
    with pytest.raises(ElectionConfigError, match=message):
        timing.check()


def test_identity_is_the_pod_name_else_unique_per_process() -> None:
    assert default_identity({"POD_NAME": "agentcore-operator-5d9c-abcde"}) == "agentcore-operator-5d9c-abcde"
    first, second = default_identity({}), default_identity({})
    assert first != second and "_" in first


def test_a_standby_tries_again_right_when_the_lease_it_saw_expires() -> None:
    """Not up to a whole retry period later: after a crash the takeover comes at
    lease duration (plus a margin) after the last renewal the standby saw."""
    clock, lease = FakeClock(), MemoryLease()
    loop = Loop(clock)
    assert step(elector(lease, clock, "crashed"))
    standby = LeaderElector(
        lease, "standby", monotonic=clock.monotonic, wall=clock.wall, sleep=loop.sleep, jitter=lambda: 1.0
    )
    first_seen = clock.now
    asyncio.run(standby.acquire())
    assert lease.record is not None and lease.record.holder == "standby"
    assert first_seen + 15 < clock.now <= first_seen + 15 + 0.1
