"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it.

The kubernetes Python client's own `leaderelection` package locks only ConfigMaps (its
`resourcelock` has `configmaplock.py` alone) and blocks a thread, so this is a small
async elector of our own, following client-go's `tryAcquireOrRenew` step for step:

- read the Lease; create it (holding it) when it does not exist;
- when someone else holds it, wait until the record has not changed for its
  leaseDurationSeconds, as measured on OUR clock from when we first saw that record
  (clocks of different machines are never compared);
- take or renew it by an update guarded by the resourceVersion we read, so of two
  contenders exactly one wins (the other gets 409 Conflict, or 409 AlreadyExists on create).

Fencing: the leader may act only while `may_act()` is true, that is until `renew_deadline`
after the start of its last successful renewal. Whoever takes over must first see the
record unchanged for `lease_duration` (> renew_deadline), so the old leader has stopped
acting before anyone else starts; the check is a clock comparison, so it holds even when
the renewal loop itself is stuck. A leader that passes its deadline steps down for good
(`on_stopped_leading`); the process then exits and restarts, as controller-runtime does.

On a clean shutdown `release()` empties holderIdentity (leaseDurationSeconds 1, as
client-go's ReleaseOnCancel does). A standby watches the Lease between its retries (one
thing client-go does not do), so it takes the released Lease within a round trip instead
of at its next retry, and never waits for the lease to expire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

logger = logging.getLogger("agentcore_operator.elector")

JITTER_FACTOR = 0.2  # standbys retry within [retry, 1.2 * retry): spread out, yet a prompt takeover
EXPIRY_MARGIN = 0.05  # seconds past a lease's expiry (on our clock) before trying to take it


class ElectionConfigError(ValueError):
    """The timings cannot give a safe election; the message says which relation fails."""


@dataclass(frozen=True)
class ElectionTiming:
    """client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def check(self) -> None:
        """client-go's own checks: the margin between deadline and lease is what makes fencing safe."""
        if self.lease_duration <= self.renew_deadline:
            raise ElectionConfigError(
                f"lease duration {self.lease_duration}s must be greater than the renew deadline "
                f"{self.renew_deadline}s"
            )
        if self.renew_deadline <= (1 + JITTER_FACTOR) * self.retry_period:
            raise ElectionConfigError(
                f"renew deadline {self.renew_deadline}s must be greater than "
                f"{1 + JITTER_FACTOR} x the retry period {self.retry_period}s"
            )
        if self.retry_period <= 0:
            raise ElectionConfigError("the retry period must be positive")


@dataclass(frozen=True)
class LeaderRecord:
    """The Lease spec fields the election uses; times are the Lease's MicroTime strings."""

    holder: str
    lease_duration_seconds: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int


class NotLeader(Exception):
    """A call was refused: this replica does not lead (a standby, a lost Lease) or is stopping."""


class LockConflict(Exception):
    """Someone else wrote the Lease first (409 Conflict or 409 AlreadyExists)."""


class LeaseLock(Protocol):
    """Where the record lives. `get` returns None when there is no Lease yet."""

    description: str

    async def get(self) -> tuple[LeaderRecord, str] | None: ...

    async def create(self, record: LeaderRecord) -> str: ...

    async def update(self, record: LeaderRecord, resource_version: str) -> str: ...

    def close(self) -> None: ...


class ReleaseWatch(Protocol):
    """Wait up to `seconds` for the Lease to be released (or deleted); True if it was."""

    async def __call__(self, resource_version: str, seconds: float) -> bool: ...


def default_identity(env: dict[str, str] | None = None) -> str:
    """POD_NAME (unique per pod, set by the chart), else host name plus a random part, so two
    processes on one host never share an identity."""
    env = dict(os.environ) if env is None else env
    pod_name = env.get("POD_NAME", "").strip()
    return pod_name or f"{socket.gethostname()}_{uuid.uuid4()}"


def micro_time(moment: datetime) -> str:
    """The Kubernetes MicroTime format: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        lock: LeaseLock,
        identity: str,
        timing: ElectionTiming | None = None,
        *,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Any] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        wait_for_release: ReleaseWatch | None = None,
    ) -> None:
        self.timing = timing or ElectionTiming()
        self.timing.check()
        self.lock = lock
        self.identity = identity
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._monotonic = monotonic
        self._wall = wall
        self._sleep = sleep
        self._jitter = jitter
        self._wait_for_release = wait_for_release
        self._observed: LeaderRecord | None = None
        self._observed_at = 0.0
        self._resource_version: str | None = None
        self._renewed_at: float | None = None  # when the last successful acquire/renew was SENT
        self._leading = False
        self._stepped_down = False
        self.lost = False  # leadership ended because renewal failed (not a clean release)

    # -- state -----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def observed_holder(self) -> str | None:
        return self._observed.holder if self._observed else None

    def may_act(self) -> bool:
        """Whether this process may make a mutating call right now (the fence).

        Pure arithmetic on the monotonic clock, safe to call from any thread: no I/O, no
        waiting on the renewal loop.
        """
        renewed_at = self._renewed_at
        return (
            self._leading
            and not self._stepped_down
            and renewed_at is not None
            and self._monotonic() - renewed_at < self.timing.renew_deadline
        )

    def step_down(self) -> None:
        """Close the fence for good (shutdown begins); the Lease is kept until `release`."""
        self._stepped_down = True

    # -- one step of the protocol ------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt, as client-go's tryAcquireOrRenew: True when we hold the Lease now."""
        if self._stepped_down:
            return False
        sent_at = self._monotonic()
        now = micro_time(self._wall())
        wanted = LeaderRecord(self.identity, round(self.timing.lease_duration), now, now, 0)
        try:
            current = await self.lock.get()
            if current is None:
                self._resource_version = await self.lock.create(wanted)
                self._succeeded(wanted, sent_at)
                return True
            record, resource_version = current
            self._resource_version = resource_version
            if record != self._observed:
                self._observed = record
                self._observed_at = self._monotonic()
            held_by_other = record.holder and record.holder != self.identity
            if held_by_other and self._observed_at + record.lease_duration_seconds > self._monotonic():
                return False
            if record.holder == self.identity:
                wanted = replace(wanted, acquire_time=record.acquire_time, transitions=record.transitions)
            else:
                wanted = replace(wanted, transitions=record.transitions + 1)
            self._resource_version = await self.lock.update(wanted, resource_version)
        except LockConflict as exc:
            logger.debug("lease %s: lost a race: %s", self.lock.description, exc)
            return False
        except Exception as exc:  # the API server unreachable or refusing: try again later
            logger.warning("lease %s: cannot read or write it: %s", self.lock.description, _brief(exc))
            return False
        self._succeeded(wanted, sent_at)
        return True

    def _succeeded(self, record: LeaderRecord, sent_at: float) -> None:
        self._observed = record
        self._observed_at = sent_at
        self._renewed_at = sent_at

    # -- the loops ---------------------------------------------------------------------

    async def run(self) -> None:
        """Acquire, then renew until renewal fails for `renew_deadline` (or we step down)."""
        await self.acquire()
        if self._stepped_down:
            return
        self._leading = True
        logger.info("became leader on lease %s as %s", self.lock.description, self.identity)
        if self._on_started is not None:
            self._on_started()
        await self._renew()

    async def acquire(self) -> None:
        while not self._stepped_down:
            if await self.try_acquire_or_renew():
                return
            holder = self.observed_holder
            if holder:
                logger.debug("lease %s is held by %s; standing by", self.lock.description, holder)
            delay = self.timing.retry_period * (1 + JITTER_FACTOR * self._jitter())
            if holder and self._observed is not None:
                # Try again right when the lease we saw would expire, not up to a retry later.
                expires_in = self._observed_at + self._observed.lease_duration_seconds - self._monotonic()
                if expires_in > 0:
                    delay = min(delay, expires_in + EXPIRY_MARGIN)
            if self._wait_for_release is not None and self._resource_version is not None and holder:
                # Polling alone would leave a released Lease free for up to a retry period;
                # watching it, a standby takes over within a round trip of the release.
                started = self._monotonic()
                try:
                    if await asyncio.wait_for(
                        self._wait_for_release(self._resource_version, delay), delay + 1
                    ):
                        continue
                except Exception as exc:  # fall back to polling
                    logger.debug("lease %s: watch failed: %s", self.lock.description, _brief(exc))
                delay -= self._monotonic() - started
            if delay > 0:
                await self._sleep(delay)

    async def _renew(self) -> None:
        while not self._stepped_down:
            await self._sleep(self.timing.retry_period)
            while not self._stepped_down:
                deadline = (self._renewed_at or 0.0) + self.timing.renew_deadline
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    self._lose()
                    return
                try:
                    renewed = await asyncio.wait_for(self.try_acquire_or_renew(), remaining)
                except TimeoutError:
                    renewed = False
                if renewed:
                    break
                if self._monotonic() >= deadline:
                    self._lose()
                    return
                await self._sleep(min(self.timing.retry_period, max(0.0, deadline - self._monotonic())))

    def _lose(self) -> None:
        logger.error(
            "lost the lease %s: not renewed within %ss; stopping all work",
            self.lock.description,
            self.timing.renew_deadline,
        )
        self._leading = False
        self._stepped_down = True
        self.lost = True
        if self._on_stopped is not None:
            self._on_stopped()

    async def release(self) -> bool:
        """Give the Lease up at once (holder empty, duration 1 s), if we still hold it."""
        self._stepped_down = True
        if not self._leading or self._resource_version is None or self._observed is None:
            return False
        self._leading = False
        now = micro_time(self._wall())
        empty = LeaderRecord("", 1, now, now, self._observed.transitions)
        try:
            try:
                self._resource_version = await self.lock.update(empty, self._resource_version)
            except LockConflict:
                # Our own renewal can land after we stopped waiting for it (its thread's request
                # outlives a cancelled or timed-out wait): the Lease is newer than we know, yet
                # still ours. Release that version, and only if it is still ours.
                current = await self.lock.get()
                if current is None or current[0].holder != self.identity:
                    return False
                empty = replace(empty, transitions=current[0].transitions)
                self._resource_version = await self.lock.update(empty, current[1])
        except Exception as exc:  # it expires by itself; the standby just waits longer
            logger.warning("could not release the lease %s: %s", self.lock.description, _brief(exc))
            return False
        self._observed = empty
        logger.info("released the lease %s", self.lock.description)
        return True


class KubernetesLeaseLock:
    """The Lease through the official client, in threads of its own.

    Its own threads and connection pool: a renewal never waits behind reconcile traffic
    in the shared executor. Each request has a timeout shorter than the retry period's
    worth of waiting, so a hung connection cannot stall the loop.
    """

    def __init__(
        self,
        configuration: k8s.Configuration,
        namespace: str,
        name: str,
        *,
        user_agent: str | None = None,
        request_timeout: float = 5.0,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.description = f"{namespace}/{name}"
        self._api_client = k8s.ApiClient(configuration)
        if user_agent:
            self._api_client.user_agent = user_agent
        self._api = k8s.CoordinationV1Api(self._api_client)
        self._timeout = request_timeout
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agentcore-elector")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._api_client.close()

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def get(self) -> tuple[LeaderRecord, str] | None:
        def read() -> Any:
            return self._api.read_namespaced_lease(
                self.name, self.namespace, _preload_content=False, _request_timeout=self._timeout
            )

        try:
            response = await self._run(read)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        lease = json.loads(response.data)
        return record_of(lease), str(lease["metadata"]["resourceVersion"])

    async def create(self, record: LeaderRecord) -> str:
        body = self._body(record, None)
        return await self._write(
            lambda: self._api.create_namespaced_lease(
                self.namespace, body, _preload_content=False, _request_timeout=self._timeout
            )
        )

    async def update(self, record: LeaderRecord, resource_version: str) -> str:
        body = self._body(record, resource_version)
        return await self._write(
            lambda: self._api.replace_namespaced_lease(
                self.name, self.namespace, body, _preload_content=False, _request_timeout=self._timeout
            )
        )

    async def wait_for_release(self, resource_version: str, seconds: float) -> bool:
        """Watch the Lease from `resource_version` until its holder empties or it is deleted."""

        def watch_until_released() -> bool:
            deadline = time.monotonic() + seconds
            stream = k8s_watch.Watch()
            try:
                for event in stream.stream(
                    self._api.list_namespaced_lease,
                    self.namespace,
                    field_selector=f"metadata.name={self.name}",
                    resource_version=resource_version,
                    timeout_seconds=max(1, math.ceil(seconds)),
                    _request_timeout=(self._timeout, max(0.1, seconds)),
                ):
                    lease = event["object"]
                    if event["type"] == "DELETED" or not (lease.spec and lease.spec.holder_identity):
                        return True
                    if time.monotonic() >= deadline:
                        return False
            except Exception:  # a read timeout ends the wait; anything else: poll instead
                return False
            finally:
                stream.stop()
            return False

        result: bool = await self._run(watch_until_released)
        return result

    async def _write(self, call: Callable[[], Any]) -> str:
        try:
            response = await self._run(call)
        except ApiException as exc:
            if exc.status == 409:
                raise LockConflict(f"{exc.status} {exc.reason}") from exc
            raise
        return str(json.loads(response.data)["metadata"]["resourceVersion"])

    def _body(self, record: LeaderRecord, resource_version: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version is not None:
            metadata["resourceVersion"] = resource_version
        spec: dict[str, Any] = {
            "holderIdentity": record.holder,
            "leaseDurationSeconds": record.lease_duration_seconds,
            "leaseTransitions": record.transitions,
        }
        if record.acquire_time:
            spec["acquireTime"] = record.acquire_time
        if record.renew_time:
            spec["renewTime"] = record.renew_time
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def _brief(exc: Exception) -> str:
    """One line: the client's ApiException prints every header and the body."""
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"[:300]


def record_of(lease: dict[str, Any]) -> LeaderRecord:
    spec = lease.get("spec") or {}
    return LeaderRecord(
        holder=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=spec.get("acquireTime"),
        renew_time=spec.get("renewTime"),
        transitions=int(spec.get("leaseTransitions") or 0),
    )
