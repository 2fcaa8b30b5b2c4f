"""The emulator's HTTP face: SigV4 check, rate limits, faults, dispatch, and `/_emulator/`.

A request goes through the same gates as at AWS, in the same order: authentication,
routing and validation, the per-operation request rate, then the operation itself.
Injected faults come before the operation (or after it, with `latency_after`).
Authentication names the caller's account (`accounts.py`), and everything after it is
that account's: its interpreters and sessions, its quota, its rate buckets. A request
signed for `sts` goes to `sts.py` instead (STS shares the port, as LocalStack's does).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agentcore_operator.local.agentcore import sts
from agentcore_operator.local.agentcore.accounts import Accounts, CredentialError
from agentcore_operator.local.agentcore.backend import Backend, Scope
from agentcore_operator.local.agentcore.config import FAULT_KINDS, EmulatorClock, EmulatorConfig, FaultRule
from agentcore_operator.local.agentcore.invoke import OPERATION as INVOKE
from agentcore_operator.local.agentcore.invoke import CodeInterpreterTools
from agentcore_operator.local.agentcore.sandbox import Sandboxes
from agentcore_operator.local.agentcore.sigv4 import Signature, read_signature
from agentcore_operator.local.agentcore.wire import SIGNING_NAME, AwsError, Protocol, Route, render_error

log = logging.getLogger(__name__)

CALL_LOG_SIZE = 20_000
# AWS does not publish InvokeCodeInterpreter's request limit; bigger bodies are refused with
# the model's ValidationException rather than read into memory.
MAX_REQUEST_BYTES = 5 * 1024**2
INVOKE_WORKERS = 32  # tool calls running at once, across sessions (one per session at a time)
SANDBOX_REAP_INTERVAL = 1.0  # seconds between sweeps for sandboxes of ended sessions


@dataclass(frozen=True)
class CallRecord:
    operation: str
    region: str
    outcome: str  # "Success" or the error code
    status: int
    at: float
    user_agent: str = ""  # who called: the operator puts its replica identity here
    account: str = ""  # whose credentials ("" when they named no one)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "region": self.region,
            "account": self.account,
            "outcome": self.outcome,
            "status": self.status,
            "at": self.at,
            "userAgent": self.user_agent,
        }


class TokenBucket:
    """`rate` requests per second with a burst of `rate`, on the real monotonic clock."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)  # below 1 TPS the bucket must still hold a whole token
        self.tokens = self.capacity
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class AgentCoreEmulator:
    """Both AgentCore planes and STS on one aiohttp app, backed by the emulated accounts.

    `monotonic` is the throttle's clock, `wall_clock` the clock credentials expire by.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.protocol = Protocol()
        self.accounts = Accounts(self.config, wall_clock)
        self.sts = sts.Sts(self.accounts)
        self.backend = Backend(self.config)
        self.sandboxes = Sandboxes(self.config.invoke_timeout, self.config.output_cap)
        result_shape = self.protocol.operation(INVOKE).output_shape.members["stream"].members["result"]  # type: ignore[union-attr]
        self.tools = CodeInterpreterTools(self.backend, self.sandboxes, result_shape)
        # Code runs for up to --invoke-timeout: its own threads, so it never starves the default
        # executor that Stop and reset use to end sandboxes.
        self._invoke_pool = ThreadPoolExecutor(max_workers=INVOKE_WORKERS, thread_name_prefix="invoke")
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}  # (account, region, operation)
        self._faults: list[list[Any]] = [[rule, rule.count] for rule in self.config.faults]
        self._random = random.Random(self.config.seed + 1)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._log: deque[CallRecord] = deque(maxlen=CALL_LOG_SIZE)
        self._handlers: dict[str, Callable[[Scope, Mapping[str, Any]], dict[str, Any]]] = {
            "StartCodeInterpreterSession": self.backend.start_session,
            "GetCodeInterpreterSession": self.backend.get_session,
            "ListCodeInterpreterSessions": self.backend.list_sessions,
            "StopCodeInterpreterSession": self.backend.stop_session,
            "GetCodeInterpreter": self.backend.get_interpreter,
            "ListCodeInterpreters": self.backend.list_interpreters,
            "CreateCodeInterpreter": self.backend.create_interpreter,
            "DeleteCodeInterpreter": self.backend.delete_interpreter,
            "TagResource": self.backend.tag_resource,
            "UntagResource": self.backend.untag_resource,
            "ListTagsForResource": self.backend.list_tags,
        }

    # -- the application ---------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/_emulator/calls", self._get_calls)
        app.router.add_get("/_emulator/sessions", self._get_sessions)
        app.router.add_get("/_emulator/interpreters", self._get_interpreters)
        app.router.add_get("/_emulator/credentials", self._get_credentials)
        app.router.add_get("/_emulator/faults", self._get_faults)
        app.router.add_post("/_emulator/faults", self._post_fault)
        app.router.add_delete("/_emulator/faults", self._delete_faults)
        app.router.add_post("/_emulator/clock", self._post_clock)
        app.router.add_post("/_emulator/sessions/{region}/{session_id}/stop", self._post_stop)
        app.router.add_post("/_emulator/reset", self._post_reset)
        app.router.add_route("*", "/{tail:.*}", self._aws)
        return app

    async def _aws(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        raw_path, _, query = request.raw_path.partition("?")
        route: Route | None = None
        region = "unknown"
        operation = "Unknown"
        account = ""
        try:
            if sts.is_unsigned_sts(request.method, raw_path, request.content_type, request.headers):
                return await self._sts(request, None, query, request_id)
            signature = read_signature(request.headers)
            region = signature.region
            if signature.service == sts.SERVICE:
                return await self._sts(request, signature, query, request_id)
            if signature.service != SIGNING_NAME:
                raise AwsError(
                    "InvalidSignatureException",
                    f"Credential should be scoped to correct service: '{SIGNING_NAME}', not '{signature.service}'",
                    403,
                )
            matched = self.protocol.match(request.method, raw_path)
            operation = matched[0].name if matched else operation  # counted by name, even if refused
            account = self._account(signature)
            if matched is None:
                raise AwsError(
                    "UnknownOperationException", f"No operation at {request.method} {raw_path}", 404
                )
            route, labels = matched
            operation = route.name
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge as exc:
                raise AwsError(
                    "ValidationException",
                    f"Request body is larger than the {MAX_REQUEST_BYTES} bytes the emulator accepts",
                    400,
                    reason="FieldValidationFailed",
                ) from exc
            params = self.protocol.parse_input(route, labels, query, request.headers, body)
            scope = Scope(account, region)
            self._throttle(scope, operation)
            rule = self._fault_for(operation, account)
            if rule is not None and rule.latency and not rule.latency_after:
                await asyncio.sleep(rule.latency)
            # The model's ValidationException requires a reason.
            extra = (
                {"reason": "FieldValidationFailed"}
                if rule is not None and rule.error == "ValidationException"
                else {}
            )
            if rule is not None and rule.error and not rule.latency_after:
                raise AwsError(
                    rule.error,
                    rule.message or f"Injected fault: {rule.error}",
                    FAULT_KINDS[rule.error],
                    **extra,
                )
            headers = {"Content-Type": "application/json"}
            if operation == INVOKE:  # runs code: off the event loop, answered as an event stream
                headers, payload = await asyncio.get_running_loop().run_in_executor(
                    self._invoke_pool, self.tools.invoke, scope, params
                )
            else:
                result = self._handlers[operation](scope, params)
                payload = self.protocol.render_output(route, result)
                if operation == "StopCodeInterpreterSession" and self.sandboxes.has(
                    region, result["sessionId"]
                ):
                    await asyncio.to_thread(self.sandboxes.close, region, str(result["sessionId"]))
            status = self.protocol.status_code(route)
            if rule is not None and rule.latency_after and rule.error:
                # AWS acted, and the caller hears an error: a lost answer.
                await asyncio.sleep(rule.latency)
                raise AwsError(
                    rule.error,
                    rule.message or f"Injected fault after acting: {rule.error}",
                    FAULT_KINDS[rule.error],
                    **extra,
                )
            self._record(operation, region, "Success", status, request, account)  # done, answer or not
            if rule is not None and rule.latency and rule.latency_after:
                await asyncio.sleep(rule.latency)
            return web.Response(
                status=status, body=payload, headers={**headers, "x-amzn-RequestId": request_id}
            )
        except AwsError as error:
            error.status = self.protocol.error_status(route, error.code, error.status)
            status, headers, payload = render_error(error, request_id)
            self._record(operation, region, error.code, status, request, account)
            return web.Response(status=status, body=payload, headers=headers)
        except Exception:  # a bug of ours: still a modelled answer, never aiohttp's text/plain 500
            log.exception("the emulator failed on %s", operation)
            status, headers, payload = render_error(
                AwsError("InternalServerException", f"The emulator failed on {operation}", 500), request_id
            )
            self._record(operation, region, "InternalServerException", status, request, account)
            return web.Response(status=status, body=payload, headers=headers)

    async def _sts(
        self, request: web.Request, signature: Signature | None, query: str, request_id: str
    ) -> web.Response:
        body = await request.read()
        key, token = (signature.access_key, signature.session_token) if signature else (None, None)
        answer = self.sts.answer(key, token, query, body, request_id)
        region = signature.region if signature else "unknown"
        self._record(answer.operation, region, answer.outcome, answer.status, request, answer.account)
        headers = {"Content-Type": sts.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id}
        return web.Response(status=answer.status, body=answer.body, headers=headers)

    def _account(self, signature: Signature) -> str:
        """The caller's account, or the 403 AWS answers credentials that name no one (any longer)."""
        try:
            principal = self.accounts.authenticate(signature.access_key, signature.session_token)
        except CredentialError as error:
            code = "ExpiredTokenException" if error.expired else "UnrecognizedClientException"
            raise AwsError(code, error.message, 403) from None
        return principal.account

    def _throttle(self, scope: Scope, operation: str) -> None:
        """One token bucket per account, region and operation, as AWS publishes the rates."""
        rate = self.config.rate_for(operation)
        if rate <= 0:
            return
        now = self._monotonic()
        key = (scope.account, scope.region, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rate, now)
            allowed = bucket.take(now)
        if not allowed:
            raise AwsError(
                "ThrottlingException", f"Rate exceeded for {operation} ({rate:g} requests per second)", 429
            )

    def _fault_for(self, operation: str, account: str) -> FaultRule | None:
        with self._lock:
            for entry in self._faults:
                rule, remaining = entry
                if not rule.matches(operation, account) or remaining == 0:
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    continue
                if remaining is not None:
                    entry[1] = remaining - 1
                return rule  # type: ignore[no-any-return]
        return None

    def _record(
        self, operation: str, region: str, outcome: str, status: int, request: web.Request, account: str = ""
    ) -> None:
        agent = request.headers.get("User-Agent", "")
        with self._lock:
            self._counts[(operation, outcome)] += 1
            self._log.append(CallRecord(operation, region, outcome, status, time.time(), agent, account))

    # -- Python introspection (thread-safe) --------------------------------------------

    def calls(self) -> dict[str, dict[str, int]]:
        """Counts of calls by operation and outcome ("Success" or an error code)."""
        with self._lock:
            counts: dict[str, dict[str, int]] = {}
            for (operation, outcome), count in self._counts.items():
                counts.setdefault(operation, {})[outcome] = count
            return counts

    def call_log(self) -> list[CallRecord]:
        with self._lock:
            return list(self._log)

    def call_count(self, operation: str | None = None, outcome: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (op, out), n in self._counts.items()
                if (operation is None or op == operation) and (outcome is None or out == outcome)
            )

    def add_fault(self, rule: FaultRule) -> None:
        with self._lock:
            self._faults.append([rule, rule.count])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**rule.to_dict(), "remaining": remaining} for rule, remaining in self._faults]

    def reset(self) -> None:
        """Back to the configured start: sessions (and their sandboxes), custom interpreters,
        call counts and buckets forgotten; the configured faults, and their seeded draws, anew.
        Issued credentials stay valid until they expire: callers hold them, as at AWS."""
        self.backend.reset()
        self.sandboxes.close_all()
        with self._lock:
            self._buckets.clear()
            self._faults = [[rule, rule.count] for rule in self.config.faults]
            self._random = random.Random(self.config.seed + 1)
            self._counts.clear()
            self._log.clear()

    # -- HTTP introspection ------------------------------------------------------------

    async def _get_calls(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"counts": self.calls(), "recent": [r.to_dict() for r in self.call_log()[-200:]]}
        )

    async def _get_sessions(self, request: web.Request) -> web.Response:
        query = request.query
        return web.json_response(
            {"sessions": self.backend.sessions(query.get("region"), query.get("account"))}
        )

    async def _get_interpreters(self, request: web.Request) -> web.Response:
        query = request.query
        interpreters = self.backend.interpreters(query.get("region", "us-east-1"), query.get("account"))
        return web.json_response({"interpreters": interpreters})

    async def _get_credentials(self, request: web.Request) -> web.Response:
        return web.json_response({"credentials": self.accounts.issued(request.query.get("account"))})

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": self.faults()})

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            rule = FaultRule.from_dict(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.add_fault(rule)
        return web.json_response({"faults": self.faults()}, status=201)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"faults": []})

    async def _post_clock(self, request: web.Request) -> web.Response:
        clock = self.config.clock
        if not isinstance(clock, EmulatorClock):
            return web.json_response(
                {"error": "the clock was injected by the caller; advance it there"}, status=409
            )
        try:
            data = await request.json()
        except ValueError:
            data = None
        seconds = data.get("advance") if isinstance(data, dict) else None
        if not isinstance(seconds, int | float) or seconds < 0:
            return web.json_response({"error": 'body must be {"advance": <seconds >= 0>}'}, status=400)
        clock.advance(float(seconds))
        return web.json_response({"now": clock()})

    async def _post_stop(self, request: web.Request) -> web.Response:
        try:
            self.backend.stop_out_of_band(request.match_info["region"], request.match_info["session_id"])
        except KeyError:
            return web.json_response({"error": "no such session"}, status=404)
        await asyncio.to_thread(
            self.sandboxes.close, request.match_info["region"], request.match_info["session_id"]
        )
        return web.json_response({"stopped": request.match_info["session_id"]})

    async def _post_reset(self, request: web.Request) -> web.Response:
        await asyncio.to_thread(self.reset)
        return web.json_response({"reset": True})

    # -- serving -----------------------------------------------------------------------

    @asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Serving]:
        """Serve on host:port (0 picks a free port) until the block ends."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        reaper = asyncio.create_task(self._reap_sandboxes())
        try:
            yield Serving(self, host, int(bound))
        finally:
            reaper.cancel()
            await runner.cleanup()
            await asyncio.to_thread(self.sandboxes.close_all)

    async def _reap_sandboxes(self) -> None:
        """Sessions also end without a call (expiry, a moved clock): their processes must go too."""
        while True:
            await asyncio.sleep(SANDBOX_REAP_INTERVAL)
            ended = [key for key in self.sandboxes.open_sessions() if not self.backend.session_alive(*key)]
            for region, session_id in ended:
                await asyncio.to_thread(self.sandboxes.close, region, session_id)


@dataclass(frozen=True)
class Serving:
    emulator: AgentCoreEmulator
    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"
