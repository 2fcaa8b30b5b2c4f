"""The writer's own HTTP/1.1 client (controller/http1.py) over real sockets.

The KubeWriter operations run against the emulated cluster; what that server never does
(chunked answers, `Connection: close`, answers ending with the stream, idle connections
closed under the client, slow answers, TLS with a CA and client certificates) is served by
small aiohttp servers, or by a few lines of asyncio where the exact bytes on the wire
matter. Every configuration is built the production way: a kubeconfig file, then
`load_configuration`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from agentcore_operator.api.v1alpha1 import PLURAL
from agentcore_operator.controller import kube
from agentcore_operator.controller.http1 import HttpConnectionError
from agentcore_operator.controller.kube import KubeConflict, KubeError, KubeWriter, load_configuration
from agentcore_operator.local.cluster.testing import ClusterHandle
from agentcore_operator.runtime.decision import EventNote
from aiohttp import web

from .conftest import session_manifest

TLS = Path(__file__).parent.parent / "fixtures" / "tls"
TOKEN = "test-token-123"


def write_kubeconfig(directory: Path, server: str, cluster: dict[str, Any] | None = None, **user: Any) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": "u", "user": user or {"token": TOKEN}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = directory / f"kubeconfig-{len(list(directory.iterdir()))}"
    path.write_text(yaml.safe_dump(config))
    return str(path)


MakeWriter = Callable[..., KubeWriter]


@pytest.fixture
async def writer_for(tmp_path: Path) -> AsyncIterator[MakeWriter]:
    """KubeWriters for a server URL, each from its own kubeconfig file; closed after the test."""
    made: list[KubeWriter] = []

    def make(
        server: str,
        *,
        cluster: dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> KubeWriter:
        kubeconfig = write_kubeconfig(tmp_path, server, cluster, **(user or {}))
        made.append(KubeWriter(load_configuration(kubeconfig), **kwargs))
        return made[-1]

    yield make
    for writer in made:
        await writer.close()


class Recorder:
    """What a test server saw: each request's method, path and headers, and each client's port."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.peers: set[int] = set()
        self.in_flight = 0
        self.most_in_flight = 0

    def note(self, request: web.BaseRequest) -> None:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peers.add(peer[1] if peer else -1)

    def methods(self) -> list[str]:
        return [method for method, _, _ in self.requests]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def aiohttp_server(
    handler: Handler, tls: ssl.SSLContext | None = None, keepalive_timeout: float = 75.0
) -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()

    async def recording(request: web.Request) -> web.StreamResponse:
        recorder.note(request)
        recorder.in_flight += 1
        recorder.most_in_flight = max(recorder.most_in_flight, recorder.in_flight)
        try:
            return await handler(request)
        finally:
            recorder.in_flight -= 1

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", recorder
    finally:
        await runner.cleanup()


async def version(request: web.Request) -> web.Response:
    return web.json_response({"gitVersion": "v1.31.0"})


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[str]:
    """A server writing exact bytes: for framing and connection handling aiohttp's server would not do."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    """The request line and body of the next request on a connection (None: the client closed it)."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head.split(b"\r\n", 1)[0].decode(), body


# -- the writer's operations against the emulated cluster ---------------------------------------


async def test_the_writer_operations_over_one_kept_alive_connection(cluster: ClusterHandle) -> None:
    writer = KubeWriter(load_configuration(str(cluster.kubeconfig)))
    try:
        assert (await writer.server_version()).startswith("v")
        created = await writer.create(PLURAL, "default", session_manifest("one"))
        assert created is not None and created["metadata"]["name"] == "one"
        with pytest.raises(KubeConflict, match=r"AlreadyExists|already exists"):  # 409
            await writer.create(PLURAL, "default", session_manifest("one"))
        with pytest.raises(KubeConflict, match=r"spec\.region"):  # 422, with the Status message
            await writer.create(PLURAL, "default", session_manifest("bad", region="not a region"))

        read = await writer.read(PLURAL, "default", "one")
        assert read is not None and read["metadata"]["uid"] == created["metadata"]["uid"]
        assert await writer.read(PLURAL, "default", "missing") is None  # 404

        patched = await writer.merge_patch(
            PLURAL, "default", "one", {"metadata": {"annotations": {"example.com/note": "kept"}}}
        )
        assert patched is not None and patched["metadata"]["annotations"]["example.com/note"] == "kept"
        stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
        with pytest.raises(KubeConflict):  # a conditional patch on an old version: 409
            await writer.merge_patch(PLURAL, "default", "one", stale)

        status = await writer.patch_status(patched, {}, {"phase": "Pending", "message": "waiting"})
        assert status is not None and status["status"]["phase"] == "Pending"
        status = await writer.patch_status(status, {"phase": "Pending", "message": "x"}, {"phase": "Pending"})
        assert status is not None and "message" not in status["status"]  # nulled by the merge patch

        await writer.post_event(status, EventNote("Normal", "Testing", "over the builtin client"))
        listing = await asyncio.to_thread(cluster.kubectl, "get", "events", "-o", "json")
        events = json.loads(listing.stdout)
        assert [e["reason"] for e in events["items"]] == ["Testing"]

        await writer.merge_configmap_data("default", "ledger", {"a": "1"}, {"app": "test"})  # 404, then POST
        await writer.merge_configmap_data("default", "ledger", {"b": "2", "a": None}, {"app": "test"})
        assert await writer.configmap_data("default", "app=test") == [{"b": "2"}]  # a query string
        assert await writer.configmap_data("default", "app=other") == []

        uid, version = status["metadata"]["uid"], status["metadata"]["resourceVersion"]
        with pytest.raises(KubeConflict):  # the precondition on an old resourceVersion
            await writer.delete(PLURAL, "default", "one", uid, created["metadata"]["resourceVersion"])
        await writer.delete(PLURAL, "default", "one", uid, version)
        assert await writer.read(PLURAL, "default", "one") is None
        await writer.delete(PLURAL, "default", "one", uid)  # gone already is fine

        client = writer.connection.builtin_client()
        assert client is not None and client.connections_opened == 1
    finally:
        await writer.close()


async def test_an_api_server_error_keeps_its_status_reason_and_message(cluster: ClusterHandle) -> None:
    writer = KubeWriter(load_configuration(str(cluster.kubeconfig)))
    try:
        with pytest.raises(KubeError) as caught:
            await writer.merge_configmap_data("no-such-ns", "x", {"a": "1"}, {})
        assert caught.value.status == 404 and caught.value.reason == "NotFound"
        assert "no-such-ns" in caught.value.message
    finally:
        await writer.close()


# -- framing, headers and connection reuse ------------------------------------------------------


async def test_requests_carry_the_configured_headers(writer_for: MakeWriter) -> None:
    async with aiohttp_server(version) as (url, seen):
        writer = writer_for(url, user_agent="agentcore-operator/replica-1")
        await writer.merge_patch(PLURAL, "ns", "name", {"metadata": {}})
    method, path, headers = seen.requests[0]
    assert (method, path) == (
        "PATCH",
        "/apis/agentcore.dev/v1alpha1/namespaces/ns/codeinterpretersessions/name",
    )
    assert headers["Host"] == url.removeprefix("http://")
    assert headers["User-Agent"] == "agentcore-operator/replica-1"
    assert headers["Accept"] == "application/json"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert headers["Content-Length"] == str(len(json.dumps({"metadata": {}})))
    assert "Accept-Encoding" not in headers  # never asks for what it cannot decompress


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept(writer_for: MakeWriter) -> None:
    items = [{"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 3000}} for i in range(5)]

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        text = json.dumps({"items": items}).encode()
        for start in range(0, len(text), 4096):  # Go's net/http writes ~4 KB chunks
            await response.write(text[start : start + 4096])
        await response.write_eof()
        return response

    async with aiohttp_server(chunked) as (url, seen):
        writer = writer_for(url)
        for _ in range(3):
            assert len(await writer.configmap_data("default", "app=x")) == 5
    assert len(seen.requests) == 3 and len(seen.peers) == 1


async def test_connection_close_is_honoured(writer_for: MakeWriter) -> None:
    async def closing(request: web.Request) -> web.StreamResponse:
        response = web.json_response({"gitVersion": "v1"})
        response.force_close()
        return response

    async with aiohttp_server(closing) as (url, seen):
        writer = writer_for(url)
        for _ in range(3):
            assert await writer.server_version() == "v1"
    assert seen.requests[0][2].get("Connection") is None  # the client asked to keep it
    assert len(seen.peers) == 3


async def test_an_answer_without_length_ends_with_the_stream(writer_for: MakeWriter) -> None:
    connections = 0

    async def to_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"gitVersion": "v-eof"}')
        await writer.drain()
        writer.close()

    async with raw_server(to_eof) as url:
        writer = writer_for(url)
        assert await writer.server_version() == "v-eof"
        assert await writer.server_version() == "v-eof"
    assert connections == 2


async def test_an_idle_connection_the_server_closed_is_not_used(writer_for: MakeWriter) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"gitVersion": "v1", "metadata": {"name": "x"}})

    async with aiohttp_server(answer, keepalive_timeout=0.1) as (url, seen):
        writer = writer_for(url)
        assert await writer.server_version() == "v1"
        await asyncio.sleep(0.5)  # the server closes the idle connection
        assert await writer.server_version() == "v1"
        await asyncio.sleep(0.5)
        assert await writer.merge_patch(PLURAL, "ns", "x", {"metadata": {}}) is not None
    assert seen.methods() == ["GET", "GET", "PATCH"]
    assert len(seen.peers) == 3


async def test_a_reused_connection_dropped_mid_request_retries_reads_but_never_writes(
    writer_for: MakeWriter,
) -> None:
    """The server takes the second request on a kept-alive connection and closes without answering.

    That is the race a server's idle timeout opens: the request left before the close was seen.
    A GET goes again on a fresh connection; a PATCH may have been applied, so it is not resent.
    """
    received: list[str] = []

    async def answers_once_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while (request := await read_request(reader)) is not None:
            received.append(request[0].split(" ")[0])
            if not first:
                break
            first = False
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n{"gitVersion": "v1.0"}')
            await writer.drain()
        writer.close()

    async with raw_server(answers_once_per_connection) as url:
        writer = writer_for(url)
        assert await writer.server_version() == "v1.0"
        assert await writer.server_version() == "v1.0"  # dropped, then sent again
        assert received == ["GET", "GET", "GET"]
        with pytest.raises(HttpConnectionError, match="not resent") as caught:
            await writer.merge_patch(PLURAL, "ns", "x", {"metadata": {}})
        assert isinstance(caught.value, aiohttp.ClientError)  # what pools/kind.py catches
    assert received == ["GET", "GET", "GET", "PATCH"]


async def test_a_slow_answer_times_out_and_its_connection_is_dropped(
    writer_for: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube, "REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=0.3))

    async def slow_first(request: web.Request) -> web.Response:
        if request.query.get("labelSelector") == "slow":
            await asyncio.sleep(2)
        return web.json_response({"items": []})

    async with aiohttp_server(slow_first) as (url, seen):
        writer = writer_for(url)
        with pytest.raises(TimeoutError):
            await writer.configmap_data("default", "slow")
        assert await writer.configmap_data("default", "fast") == []
    assert len(seen.peers) == 2


async def test_concurrent_requests_share_at_most_pool_size_connections(writer_for: MakeWriter) -> None:
    async def slowish(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.json_response({"gitVersion": "v1"})

    async with aiohttp_server(slowish) as (url, seen):
        writer = writer_for(url, pool_size=3)
        answers = await asyncio.gather(*(writer.server_version() for _ in range(20)))
    assert answers == ["v1"] * 20
    assert len(seen.peers) == 3 and seen.most_in_flight == 3


# -- TLS --------------------------------------------------------------------------------------------


def server_tls(require_client_certificate: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    if require_client_certificate:
        context.load_verify_locations(TLS / "ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def test_tls_verifies_the_server_against_the_kubeconfig_ca(writer_for: MakeWriter) -> None:
    async with aiohttp_server(version, tls=server_tls()) as (url, seen):
        ca = {"certificate-authority": str(TLS / "ca.pem")}
        assert await writer_for(url, cluster=ca).server_version() == "v1.31.0"
        by_name = url.replace("127.0.0.1", "localhost")
        assert await writer_for(by_name, cluster=ca).server_version() == "v1.31.0"
        with pytest.raises(HttpConnectionError) as caught:
            await writer_for(url).server_version()
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
        insecure = writer_for(url, cluster={"insecure-skip-tls-verify": True})
        assert await insecure.server_version() == "v1.31.0"
    assert len(seen.requests) == 3


async def test_a_client_certificate_from_the_kubeconfig_is_presented(writer_for: MakeWriter) -> None:
    subjects: list[Any] = []

    async def who(request: web.Request) -> web.Response:
        transport = request.transport
        subjects.append(transport.get_extra_info("peercert") if transport else None)
        return web.json_response({"gitVersion": "v1.31.0"})

    ca = {"certificate-authority": str(TLS / "ca.pem")}
    async with aiohttp_server(who, tls=server_tls(require_client_certificate=True)) as (url, _):
        with_certificate = writer_for(
            url,
            cluster=ca,
            user={"client-certificate": str(TLS / "client.pem"), "client-key": str(TLS / "client.key")},
        )
        assert await with_certificate.server_version() == "v1.31.0"
        with pytest.raises(HttpConnectionError):
            await writer_for(url, cluster=ca).server_version()
    assert subjects[0]["subject"][:1] == ((("commonName", "agentcore-operator"),),)


# -- the escape hatch -------------------------------------------------------------------------------


async def test_the_aiohttp_setting_and_a_proxy_send_through_aiohttp(
    writer_for: MakeWriter, tmp_path: Path
) -> None:
    async with aiohttp_server(version) as (url, seen):
        chosen = writer_for(url, http_client="aiohttp")
        assert await chosen.server_version() == "v1.31.0"
        assert await writer_for(url).server_version() == "v1.31.0"
        assert chosen.connection.builtin_client() is None
        configuration = load_configuration(write_kubeconfig(tmp_path, "http://cluster.invalid"))
        configuration.proxy = url  # the test server plays the proxy: aiohttp sends it the absolute URL
        proxied = KubeWriter(configuration)
        try:
            assert proxied.connection.builtin_client() is None
            assert await proxied.server_version() == "v1.31.0"
        finally:
            await proxied.close()
    via_aiohttp, via_builtin, via_proxy = (headers for _, _, headers in seen.requests)
    assert "Accept-Encoding" in via_aiohttp and "Accept-Encoding" not in via_builtin
    assert via_aiohttp["Authorization"] == via_builtin["Authorization"] == f"Bearer {TOKEN}"
    assert via_proxy["Host"] == "cluster.invalid"
