"""Liveness, readiness and metrics over one small HTTP server.

Readiness means "this operator can do its job": the Kubernetes API answers and AWS
accepts our credentials. Each failing check says why in the JSON body (the kubelet shows
only the status code: `kubectl port-forward` and `curl /readyz` to read the reason).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agentcore_operator.manager.metrics import Metrics
from agentcore_operator.runtime.errors import ApiError, ErrorKind

Check = Callable[[], Awaitable[str | None]]  # None when healthy, else the reason


@dataclass
class AwsHealth:
    """Readiness of AWS from the outcomes of real calls: no extra API spend for probing."""

    last_denied: ApiError | None = None
    last_success: float | None = None
    credentials_probe: Callable[[], str | None] | None = None
    _probed: bool = field(default=False, repr=False)

    def record(self, operation: str, error: ApiError | None) -> None:
        if error is None:
            self.last_denied = None
            self.last_success = time.monotonic()
        elif error.kind is ErrorKind.ACCESS_DENIED:
            self.last_denied = error

    async def check(self) -> str | None:
        if self.last_denied is not None:
            return f"AWS denies access: {self.last_denied.code}: {self.last_denied.message}"
        if self.last_success is None and self.credentials_probe is not None:
            return await asyncio.to_thread(self.credentials_probe)
        return None


class HealthServer:
    def __init__(
        self,
        metrics: Metrics,
        *,
        live: Check,
        ready: dict[str, Check],
        host: str,
        port: int,
    ) -> None:
        self._metrics = metrics
        self._live = live
        self._ready = ready
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_view)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        reason = await self._live()
        return _answer({"live": reason}, "live")

    async def _readyz(self, request: web.Request) -> web.Response:
        results = dict(
            zip(self._ready, await asyncio.gather(*(check() for check in self._ready.values())), strict=True)
        )
        return _answer(results, "ready")

    async def _metrics_view(self, request: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _answer(results: dict[str, str | None], what: str) -> web.Response:
    failing = {name: reason for name, reason in results.items() if reason}
    body = {
        "status": "ok" if not failing else f"not {what}",
        "checks": {n: r or "ok" for n, r in results.items()},
    }
    return web.Response(
        status=200 if not failing else 503, text=json.dumps(body), content_type="application/json"
    )
