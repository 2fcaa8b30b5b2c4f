"""A small HTTP/1.1 keep-alive client for the operator's own API-server requests.

Why it exists: a session's lifecycle costs the operator about ten short requests to the
API server (status patches, finalizers, events). Through aiohttp, each of them builds a
ClientRequest, a yarl URL, CIMultiDicts, a cookie-jar lookup, timers and trace hooks, and
that machinery cost more CPU than the request itself. This client writes the request line
and headers itself on asyncio streams and reads the answer back, nothing more.

What it does:
- HTTP/1.1 with keep-alive, over TCP or TLS (the caller's `ssl.SSLContext`: CA file,
  client certificate and key, insecure-skip-verify all live in that context);
- answers framed by `Content-Length`, by `Transfer-Encoding: chunked` (Go's net/http chunks
  any answer over ~2 KB that did not set a length), or by the end of the stream;
- a LIFO pool of idle connections, at most `pool_size` open or in use at once;
- one retry on a fresh connection when a *reused* connection fails before any byte of the
  answer arrived, only for idempotent methods: a POST or PATCH is never sent twice on a guess;
- the whole request (waiting for a connection included) under one timeout; a connection
  whose request timed out or was cancelled is closed, never reused.

What it does NOT do (callers keep aiohttp for these):
- proxies (`configuration.proxy`), redirects, cookies, compression (it never sends
  `Accept-Encoding`, so the API server answers uncompressed), `Expect: 100-continue`,
  request bodies that are not bytes in memory, or streaming answers (watches: the
  informer's long-lived streams stay on aiohttp);
- status interpretation: an answer of any status is returned; the caller turns >= 400
  into its own error.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import aiohttp

# aiohttp retries these on a dropped keep-alive connection too (RFC 9110 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# Methods whose requests carry a length even when empty: some servers refuse them otherwise.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A header line, status line or chunk-size line longer than this is not an API server talking.
_LINE_LIMIT = 64 * 1024


class HttpConnectionError(aiohttp.ClientConnectionError):
    """The API server could not be reached, or the connection broke before a whole answer.

    A subclass of aiohttp's, so code that catches `aiohttp.ClientError` around API-server
    calls catches this client's failures as well.
    """


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; `headers` are keyed by lower-case name (HTTP names are case-insensitive;
    of a repeated header, the last value)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def closed_by_peer(self) -> bool:
        """The server closed it while idle (or sent bytes nobody asked for): not reusable."""
        unread = getattr(self.reader, "_buffer", b"")  # e.g. a 408 a server sent before closing
        return self.writer.is_closing() or self.reader.at_eof() or bool(unread)

    def close(self) -> None:
        self.writer.close()


class _Retry(Exception):
    """A reused connection died before the answer began; the request may go on a fresh one."""


class Http1Client:
    """Requests to one server (`base`: scheme://host[:port]) over a pool of keep-alive connections.

    Create it on the loop that will use it: its connections and semaphore belong to that loop.
    """

    def __init__(
        self,
        base: str,
        *,
        ssl_context: ssl.SSLContext | None,
        user_agent: str,
        pool_size: int,
        timeout: float,
        server_hostname: str | None = None,
    ) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base!r}")
        if parts.scheme == "https" and ssl_context is None:
            raise ValueError(f"{base!r} is https but no TLS context was given")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl_context if parts.scheme == "https" else None
        self._server_hostname = (server_hostname or self.host) if self._ssl is not None else None
        self._prefix = parts.path.rstrip("/")  # a server URL may carry a path (a proxying gateway)
        host_header = parts.netloc.rpartition("@")[2]
        self._fixed_head = f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n"
        self._timeout = timeout
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[_Connection] = []
        self._closed = False
        self.connections_opened = 0  # for tests and debugging: how often the pool had to dial

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer (any status); `path` is already quoted."""
        if self._closed:
            raise HttpConnectionError("the client is closed")
        head = self._head(method, path, query, body, headers or {})
        message = head if body is None else head + body
        async with asyncio.timeout(self._timeout), self._slots:
            connection, reused = self._idle_connection()
            if connection is None:
                connection = await self._open()
            try:
                return await self._exchange(connection, method, message, reused)
            except _Retry as exc:
                if method not in IDEMPOTENT_METHODS:
                    raise HttpConnectionError(
                        f"{method} {path}: the kept-alive connection was closed before an answer "
                        f"({exc.__cause__ or 'end of stream'}); not resent, it may have been received"
                    ) from exc.__cause__
            return await self._exchange(await self._open(), method, message, reused=False)

    async def close(self) -> None:
        """Close every idle connection; one in use is closed when its request ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _head(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> bytes:
        target = self._prefix + path + ("?" + urlencode(query) if query else "")
        lines = [f"{method} {target} HTTP/1.1\r\n", self._fixed_head]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        if body is not None or method in _BODY_METHODS:
            lines.append(f"Content-Length: {0 if body is None else len(body)}\r\n")
        text = "".join(lines)
        if text.count("\n") != len(lines) + 2 or text.count("\r") != len(lines) + 2:
            # A CR or LF inside a path or header (a token read from a file, say) would split the request.
            raise ValueError(f"{method} {path}: a line break inside the request line or a header")
        return (text + "\r\n").encode("latin-1")

    def _idle_connection(self) -> tuple[_Connection | None, bool]:
        while self._idle:
            connection = self._idle.pop()  # LIFO: the warmest connection, the others may time out
            if connection.closed_by_peer():
                connection.close()
                continue
            return connection, True
        return None, False

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self._server_hostname,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:  # refused, unreachable, TLS verification failed (SSLError is an OSError)
            raise HttpConnectionError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.connections_opened += 1
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, method: str, message: bytes, reused: bool) -> Answer:
        """Write the request and read the answer; the connection goes back to the pool or is closed."""
        keep = answering = False
        try:
            connection.writer.write(message)
            await connection.writer.drain()
            status_line = await connection.reader.readline()
            if not status_line:
                raise ConnectionResetError("the server closed the connection")
            answering = True
            answer, keep = await _read_answer(connection.reader, status_line, method)
            return answer
        except (OSError, EOFError, ValueError) as exc:
            if reused and not answering and not isinstance(exc, ValueError):
                raise _Retry() from exc
            where = "in the answer" if answering else "before an answer"
            raise HttpConnectionError(f"{method}: connection broken {where}: {exc}") from exc
        finally:
            if keep and not self._closed:
                self._idle.append(connection)
            else:
                connection.close()


async def _read_answer(reader: asyncio.StreamReader, status_line: bytes, method: str) -> tuple[Answer, bool]:
    """Parse the answer after its status line; True with it when the connection can be reused."""
    while True:
        version, status, reason = _parse_status_line(status_line)
        headers = await _read_headers(reader)
        if not 100 <= status < 200:
            break
        status_line = await reader.readline()  # an interim answer (100 Continue): the real one follows
        if not status_line:
            raise EOFError("end of stream after an interim answer")
    connection_tokens = headers.get("connection", "").lower()
    keep = version == "HTTP/1.1" and "close" not in connection_tokens
    if method == "HEAD" or status in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length < 0:
            raise ValueError(f"negative Content-Length {length}")
        body = await reader.readexactly(length)
    else:  # neither length nor chunks: the answer ends with the stream
        body = await reader.read()
        keep = False
    return Answer(status, reason, headers, body), keep


def _parse_status_line(line: bytes) -> tuple[str, int, str]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {line[:100]!r}")
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if not line:
            raise EOFError("end of stream in the headers")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ValueError(f"not a header line: {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise EOFError("end of stream in a chunked answer")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")
    while (await reader.readline()) not in (b"\r\n", b"\n"):  # trailers, ignored
        if reader.at_eof():
            raise EOFError("end of stream in the trailers")
    return b"".join(parts)
