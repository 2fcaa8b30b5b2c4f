"""The code interpreter session resource manager (ACK's ReadOne/Create/Delete, for sessions).

Each method performs one AWS call for one action of the state machine and returns the
observation; nothing here decides what to do. Every call goes through `_call`, which
waits for the client-side rate limiter, runs boto3 in a worker thread (never on the event
loop), classifies any failure and records metrics.

Each action names the account it goes to (tenancy: the session's `status.accountId`);
`identities` turns it into the role to act as (None: the operator's own identity), and the
rate limiter paces each account on its own. The client, and an assumed role's credentials
(AssumeRole, and its refreshes), are made in the worker thread with the call.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from agentcore_operator.aws.clients import CONTROL_PLANE, DATA_PLANE, ClientFactory
from agentcore_operator.aws.errors import classify
from agentcore_operator.controller.observations import (
    INTERPRETER_READY,
    CallFailed,
    InterpreterMissing,
    InterpreterSeen,
    Observation,
    SessionMissing,
    SessionSeen,
    SessionStarted,
    SessionStopped,
)
from agentcore_operator.controller.state_machine import (
    AwsAction,
    CheckInterpreter,
    ReadSession,
    StartSession,
    StopSession,
)
from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.elector import NotLeader
from agentcore_operator.runtime.errors import ApiError, ErrorKind
from agentcore_operator.runtime.ratelimit import RateLimiter
from agentcore_operator.tenancy.policy import Identity

T = TypeVar("T")
IdentityOf = Callable[[str], Identity | None]  # account id -> role (raises ApiError if none is known)

LIST_PAGE_SIZE = 100  # the API's maximum: fewest calls per sweep
# Calls that change AgentCore: only the leader makes them, and only while its Lease is fresh.
MUTATING_OPERATIONS = frozenset(
    {
        "StartCodeInterpreterSession",
        "StopCodeInterpreterSession",
        "CreateCodeInterpreter",
        "DeleteCodeInterpreter",
        "TagResource",
        "UntagResource",
    }
)


@dataclass(frozen=True)
class SessionSummary:
    """One entry of a ListCodeInterpreterSessions page."""

    session_id: str
    name: str | None
    status: str
    created_at: datetime
    last_updated_at: datetime | None

    def as_seen(self) -> SessionSeen:
        return SessionSeen(self.session_id, self.status, self.created_at, self.last_updated_at)


class SessionManager:
    """AgentCore calls for code interpreter sessions, paced, threaded and classified."""

    def __init__(
        self,
        clients: ClientFactory,
        limiter: RateLimiter,
        metrics: Metrics | None = None,
        *,
        interpreter_cache_seconds: float = 10.0,
        on_call: Callable[[str, ApiError | None], None] | None = None,
        concurrency: int = 16,
        may_mutate: Callable[[], bool] | None = None,
        stopping: asyncio.Event | None = None,
        identities: IdentityOf | None = None,
    ) -> None:
        self._clients = clients
        self._identities = identities
        self._limiter = limiter
        self._metrics = metrics
        self._interpreter_cache_seconds = interpreter_cache_seconds
        self._interpreters: dict[tuple[str, str, str], tuple[float, Observation]] = {}
        self._on_call = on_call
        self._may_mutate = may_mutate
        self._stopping = stopping
        # Mutating calls waiting for their rate token, woken at once when the replica stops.
        self._token_waiters: set[asyncio.Future[None]] = set()
        self._stop_watch: asyncio.Task[None] | None = None
        # boto3 runs in threads of its own (not the executor Kubernetes calls share), so a call
        # that has its rate token is sent at once rather than queueing behind other I/O and
        # reaching AgentCore in a burst with others.
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="agentcore-aws")
        self._slots = asyncio.Semaphore(concurrency)

    def close(self) -> None:
        if self._stop_watch is not None:
            self._stop_watch.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def prepare(self, region: str) -> None:
        """Build the clients of a region ahead of the first call.

        botocore reads and parses the service models when a client is built (a few hundred
        milliseconds of CPU): at startup, not while the first burst of Starts waits for it.
        """
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._clients.data, region)
        await loop.run_in_executor(self._executor, self._clients.control, region)

    async def perform(self, action: AwsAction) -> Observation:
        """Carry out one AWS action of the state machine; failures come back as CallFailed."""
        try:
            match action:
                case CheckInterpreter():
                    return await self.check_interpreter(action)
                case StartSession():
                    return await self.start(action)
                case ReadSession():
                    return await self.read(action)
                case StopSession():
                    return await self.stop(action)
        except ApiError as error:
            return CallFailed(error)
        raise AssertionError(f"unknown action {action!r}")  # pragma: no cover

    async def check_interpreter(self, action: CheckInterpreter) -> Observation:
        """GetCodeInterpreter, cached briefly: many sessions on one interpreter need one answer."""
        key = (action.account, action.region, action.interpreter_id)
        loop_time = asyncio.get_running_loop().time()
        cached = self._interpreters.get(key)
        if cached is not None and cached[0] > loop_time:
            return cached[1]
        try:
            identity = self.identity("GetCodeInterpreter", action.account)
            control = await self.control_client(action.region, identity)
            response = await self._call(
                action.region,
                "GetCodeInterpreter",
                lambda: control.get_code_interpreter(codeInterpreterId=action.interpreter_id),
                identity=identity,
            )
            observation: Observation = InterpreterSeen(str(response["status"]), response.get("failureReason"))
        except ApiError as error:
            if error.kind is not ErrorKind.NOT_FOUND:
                raise
            observation = InterpreterMissing()
        if observation == InterpreterSeen(INTERPRETER_READY):
            # Only a usable answer is shared: CREATING must be asked again at the next poll.
            self._interpreters[key] = (loop_time + self._interpreter_cache_seconds, observation)
        return observation

    async def start(self, action: StartSession) -> Observation:
        identity = self.identity("StartCodeInterpreterSession", action.account)
        mounts: dict[str, Any] = {}
        if action.certificates:
            mounts["certificates"] = list(action.certificates)
        if action.filesystem_configurations:
            mounts["filesystemConfigurations"] = list(action.filesystem_configurations)

        client = await self.data_client(action.region, identity)
        response = await self._call(
            action.region,
            "StartCodeInterpreterSession",
            lambda: client.start_code_interpreter_session(
                codeInterpreterIdentifier=action.interpreter,
                name=action.name,
                sessionTimeoutSeconds=action.timeout_seconds,
                clientToken=action.client_token,
                **mounts,
            ),
            identity=identity,
        )
        return SessionStarted(str(response["sessionId"]), response["createdAt"])

    async def read(self, action: ReadSession) -> Observation:
        identity = self.identity("GetCodeInterpreterSession", action.account)
        client = await self.data_client(action.region, identity)
        try:
            response = await self._call(
                action.region,
                "GetCodeInterpreterSession",
                lambda: client.get_code_interpreter_session(
                    codeInterpreterIdentifier=action.interpreter, sessionId=action.session_id
                ),
                identity=identity,
            )
        except ApiError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return SessionMissing(action.session_id)
            raise
        return SessionSeen(
            session_id=str(response["sessionId"]),
            status=response.get("status"),
            created_at=response["createdAt"],
            last_updated_at=None,
        )

    async def stop(self, action: StopSession) -> Observation:
        identity = self.identity("StopCodeInterpreterSession", action.account)
        client = await self.data_client(action.region, identity)
        try:
            response = await self._call(
                action.region,
                "StopCodeInterpreterSession",
                lambda: client.stop_code_interpreter_session(
                    codeInterpreterIdentifier=action.interpreter,
                    sessionId=action.session_id,
                    clientToken=action.client_token,
                ),
                identity=identity,
            )
        except ApiError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return SessionMissing(action.session_id)
            raise
        return SessionStopped(action.session_id, response.get("lastUpdatedAt"))

    async def list_sessions(
        self, region: str, interpreter: str, status: str | None = "READY", *, account: str = ""
    ) -> list[SessionSummary]:
        """Every session of one interpreter (optionally of one status) in one account, 100 per call.

        Raises ApiError."""
        identity = self.identity("ListCodeInterpreterSessions", account)
        client = await self.data_client(region, identity)
        summaries: list[SessionSummary] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"codeInterpreterIdentifier": interpreter, "maxResults": LIST_PAGE_SIZE}
            if status:
                params["status"] = status
            if token:
                params["nextToken"] = token

            page = await self._call(
                region,
                "ListCodeInterpreterSessions",
                functools.partial(client.list_code_interpreter_sessions, **params),
                identity=identity,
            )
            for item in page.get("items", []):
                summaries.append(
                    SessionSummary(
                        session_id=str(item["sessionId"]),
                        name=item.get("name"),
                        status=str(item["status"]),
                        created_at=item["createdAt"],
                        last_updated_at=item.get("lastUpdatedAt"),
                    )
                )
            token = page.get("nextToken")
            if not token:
                return summaries

    async def _wait_for_token(self, region: str, operation: str, account: str, *, droppable: bool) -> float:
        """The rate-limit token; for a mutating call, unless the replica stops first.

        A burst can queue Starts for tens of seconds; a replica that is stopping (SIGTERM,
        or a lost Lease) must not wait for them before it hands over. Mutating calls still
        waiting for their turn are dropped (NotLeader); calls already sent finish, and the
        reads that follow them (the Get confirming a Start) go on, so what was done is recorded.
        """
        if self._stopping is None or not droppable:
            return await self._limiter.acquire(region, operation, account)
        if self._stopping.is_set():
            raise NotLeader(operation)
        # One task for the token and one shared watch of the stop flag: a task per call to
        # wait for the flag, and asyncio.wait on the pair, cost more than the rest of the pacing.
        token = asyncio.ensure_future(self._limiter.acquire(region, operation, account))
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        token.add_done_callback(functools.partial(_wake, waiter))
        self._token_waiters.add(waiter)
        watch = self._stop_watch
        if watch is None or watch.done() or watch.get_loop() is not loop:
            self._stop_watch = asyncio.ensure_future(self._wake_token_waiters(self._stopping))
        try:
            await waiter
        finally:
            self._token_waiters.discard(waiter)
            if not token.done():
                token.cancel()
        if token.done() and not token.cancelled():
            return token.result()
        raise NotLeader(operation)

    async def _wake_token_waiters(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        for waiter in list(self._token_waiters):
            _wake(waiter)

    @property
    def clients(self) -> ClientFactory:
        return self._clients

    async def call(
        self, region: str, operation: str, call: Callable[[], T], *, identity: Identity | None = None
    ) -> T:
        """One paced, threaded, classified call, for the adapters of the other kinds.

        Every kind's calls share this manager's rate limiter, threads and metrics, so the
        operator as a whole keeps to each operation's rate, whichever kind makes the call.
        """
        return await self._call(region, operation, call, identity=identity)

    async def data_client(self, region: str, identity: Identity | None) -> Any:
        """The data-plane client of (identity, region); built in a worker thread the first time
        (parsing the service model), before the call waits for its rate-limit token."""
        return await self._built(DATA_PLANE, region, identity)

    async def control_client(self, region: str, identity: Identity | None) -> Any:
        return await self._built(CONTROL_PLANE, region, identity)

    async def _built(self, service: str, region: str, identity: Identity | None) -> Any:
        client = self._clients.built(service, region, identity)
        if client is None:
            build = self._clients.data if service == DATA_PLANE else self._clients.control
            client = await asyncio.get_running_loop().run_in_executor(self._executor, build, region, identity)
        return client

    def identity(self, operation: str, account: str) -> Identity | None:
        """The role to call `operation` in `account` with; ApiError (AccessDenied) if none is known."""
        if self._identities is None or not account:
            return None
        try:
            return self._identities(account)
        except ApiError as error:
            raise ApiError(error.kind, operation, error.code, error.message) from None

    async def _call(
        self, region: str, operation: str, call: Callable[[], T], *, identity: Identity | None = None
    ) -> T:
        fence = self._may_mutate if operation in MUTATING_OPERATIONS else None
        if fence is not None and not fence():
            raise NotLeader(operation)
        # The token first, then a thread: a call waiting for its token must not hold a thread
        # slot, or Starts queueing for theirs would starve the Gets of sessions already started.
        # Each account has its own published rate: "" is the operator's own.
        account = identity.account_id if identity is not None else ""
        waited = await self._wait_for_token(
            region, operation, account, droppable=operation in MUTATING_OPERATIONS
        )
        if self._metrics is not None:
            self._metrics.rate_limiter_wait.labels(operation).observe(waited)
        async with self._slots:

            def fenced_call() -> T:
                # The fence is checked in the worker thread, right before the request goes
                # out: after the rate-limit wait and the thread handoff, not before them.
                if fence is not None and not fence():
                    raise NotLeader(operation)
                return call()

            started = time.monotonic()
            error: ApiError | None = None
            try:
                return await asyncio.get_running_loop().run_in_executor(self._executor, fenced_call)
            except NotLeader:
                started = -1.0  # no call was made: nothing to classify or count
                raise
            except Exception as exc:
                error = classify(exc, operation)
                raise error from exc
            finally:
                if started >= 0:
                    if self._metrics is not None:
                        self._metrics.api_latency.labels(operation).observe(time.monotonic() - started)
                        self._metrics.api_calls.labels(operation, error.code if error else "Success").inc()
                    if self._on_call is not None:
                        self._on_call(operation, error)


def _wake(waiter: asyncio.Future[None], _: object = None) -> None:
    if not waiter.done():
        waiter.set_result(None)
