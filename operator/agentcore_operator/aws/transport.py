"""A lean HTTP/1.1 keep-alive transport under botocore, for the AgentCore calls.

Why: about half of the CPU the boto3 worker threads spend per AgentCore call is botocore's
HTTP layer (`URLLib3Session.send`: urllib3's pool, http.client, and http.client's header
parsing through the `email` package). `LeanHttpSession` puts the same bytes on the wire
from one keep-alive socket per worker thread instead. Everything else stays botocore's:
serialization, SigV4 signing, retries configuration, parsing and the error classes.

What it does:
- one keep-alive connection per (scheme, host, port) per thread (`threading.local`): the
  worker threads already bound the connections, as max_pool_connections does for urllib3
  (the operator's pool threads live as long as the process; a connection of a thread that
  ended stays open until `close()` or the server drops it);
- HTTPS verified as botocore verifies: `verify` False -> no check; a path -> that CA
  bundle (or directory); default -> botocore's bundle (`get_cert_path`: certifi's, else
  botocore's cacert.pem); the hostname is checked and SNI sent; ALPN offers http/1.1;
- the client's connect and read timeouts (and a request's own `read_timeout`);
- a connection the server closed while idle is dropped before reuse (readable with nothing
  to read, as urllib3's `is_connection_dropped`). A failure on a reused connection is never
  resent: it surfaces as ConnectionClosedError, as with URLLib3Session (a Start carries a
  clientToken and the reconciler replays; hidden resends are not ours to do);
- answers framed by Content-Length, `Transfer-Encoding: chunked`, or read to EOF;
  `Connection: close` (or HTTP/1.0) -> the connection is not reused;
- errors raised as URLLib3Session.send raises them: EndpointConnectionError (refused, DNS),
  ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError (the peer closed or spoke no
  HTTP), SSLError, HTTPClientError for the rest.

What it does NOT do: it hands the request to the original URLLib3Session (`fallback`) when
a proxy is configured for the URL (HTTP(S)_PROXY / NO_PROXY or Config(proxies=...), as
botocore resolved them), a client certificate is configured, the answer is streamed
(`request.stream_output`: event streams), the body is a stream rather than bytes/str/None,
or the request is chunked or expects 100-continue. No HTTP/2, no compression, no redirects
(botocore follows none either).

The settings (verify, proxies, timeouts, client certificate, socket options) are read from
the URLLib3Session botocore built for the client, so whatever botocore resolved from the
Config, the environment and the AWS config file holds here too. `from_urllib3` returns None
when that session does not look as expected (a botocore change): the client then keeps it.
"""

from __future__ import annotations

import contextlib
import logging
import os.path
import re
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import SplitResult, urlsplit

import botocore.httpsession
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LINE = 65536  # as http.client: a longer status or header line is not HTTP
MAX_HEADERS = 100
# the checks of the standard library's http.client, so a request it would refuse is refused here too
_DISALLOWED_IN_TARGET = re.compile("[\x00-\x20\x7f]").search
_LEGAL_HEADER_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_HEADER_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search


class ProtocolError(Exception):
    """The peer closed the connection or did not answer in HTTP/1.x."""


class _Body:
    """`AWSResponse.raw`: the body, read in full before `send` returns."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        if self._data:
            yield self._data


class _Connection:
    """One socket and its buffered reader, to one (scheme, host, port)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def dropped(self) -> bool:
        """The server closed it (or sent something unasked) while it was idle: the socket is
        readable, or TLS holds decrypted bytes. (Bytes a server sent past a complete answer
        and left in the reader's buffer fail the next status line: ConnectionClosedError.)"""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        poller = select.poll()  # poll, not select: no limit on the descriptor's number
        try:
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        for closable in (self.reader, self.sock):
            with contextlib.suppress(OSError):
                closable.close()


class LeanHttpSession:
    """botocore's http session interface (`send`, `close`) over keep-alive sockets."""

    def __init__(
        self,
        fallback: botocore.httpsession.URLLib3Session,
        *,
        verify: bool | str,
        proxy_config: botocore.httpsession.ProxyConfiguration,
        connect_timeout: float | None,
        read_timeout: float | None,
        socket_options: list[tuple[int, int, int]],
        everything_to_fallback: bool = False,
    ) -> None:
        self.fallback = fallback
        self._verify = verify
        self._proxy_config = proxy_config
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._socket_options = socket_options
        self._everything_to_fallback = everything_to_fallback
        self._ssl_context: ssl.SSLContext | None = None
        self._local = threading.local()
        self._open: set[_Connection] = set()  # every thread's, for close()
        self._lock = threading.Lock()
        # How many requests each path carried (tests and curiosity; ints under the GIL).
        self.sent = 0
        self.sent_by_fallback = 0
        self.connections_made = 0

    @classmethod
    def from_urllib3(cls, session: object) -> LeanHttpSession | None:
        """A transport with the settings botocore gave `session`, or None if it is not the
        URLLib3Session we know (then keep using it)."""
        if type(session) is not botocore.httpsession.URLLib3Session:
            return None
        settings: Any = session  # its private attributes are not in the stubs
        try:
            verify = settings._verify
            proxy_config = settings._proxy_config
            timeout = settings._timeout
            cert_file = settings._cert_file
            socket_options = list(settings._socket_options or [])
        except AttributeError:
            logger.warning("botocore's URLLib3Session changed shape; AWS calls stay on urllib3")
            return None
        if not isinstance(proxy_config, botocore.httpsession.ProxyConfiguration):
            return None
        if isinstance(timeout, int | float):
            connect_timeout = read_timeout = float(timeout)
        else:  # urllib3.Timeout(connect=..., read=...)
            connect_timeout, read_timeout = timeout.connect_timeout, timeout.read_timeout
        return cls(
            session,
            verify=verify,
            proxy_config=proxy_config,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            socket_options=socket_options,
            everything_to_fallback=cert_file is not None,
        )

    # botocore's interface

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        body = request.body
        if (
            self._everything_to_fallback
            or request.stream_output
            or not (body is None or isinstance(body, bytes | bytearray | str))
            or self._proxy_config.proxy_url_for(request.url)
            or _header(request, "Transfer-Encoding")
            or _header(request, "Expect")
        ):
            self.sent_by_fallback += 1
            response: AWSResponse = self.fallback.send(request)
            return response
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            self.sent_by_fallback += 1
            response = self.fallback.send(request)
            return response
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        self.sent += 1
        return self._send(request, parts, parts.port or DEFAULT_PORTS[scheme], payload)

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()
        self.fallback.close()

    # the wire

    def _send(
        self, request: AWSPreparedRequest, parts: SplitResult, port: int, payload: bytes
    ) -> AWSResponse:
        url = request.url
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        key = (scheme, host, port)
        connections: dict[tuple[str, str, int], _Connection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        connection = connections.pop(key, None)
        if connection is not None and connection.dropped():
            self._forget(connection)
            connection = None
        if connection is None:
            connection = self._connect(url, scheme, host, port)
        read_timeout = (getattr(request, "context", None) or {}).get("read_timeout") or self._read_timeout
        try:
            connection.sock.settimeout(read_timeout)
            connection.sock.sendall(self._head(request, parts, port, len(payload)) + payload)
            status, headers, data, reusable = _read_answer(connection.reader, request.method)
        except Exception as exc:
            self._forget(connection)
            raise _mapped(exc, request) from exc
        except BaseException:  # interrupted mid-answer: the connection's state is unknown
            self._forget(connection)
            raise
        if reusable:
            connections[key] = connection
        else:
            self._forget(connection)
        # botocore wraps the headers in its case-insensitive HeadersDict whatever the mapping
        # (the stubs name http.client's HTTPMessage, which costs the `email` parsing we skip).
        answer_headers: Any = headers
        return AWSResponse(url, status, answer_headers, _Body(data))

    def _connect(self, url: str, scheme: str, host: str, port: int) -> _Connection:
        try:
            sock = socket.create_connection((host, port), timeout=self._connect_timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except OSError as exc:  # refused, unreachable, DNS (socket.gaierror)
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
        try:
            for level, option, value in self._socket_options:
                sock.setsockopt(level, option, value)
            if scheme == "https":
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except ssl.SSLError as exc:  # includes SSLCertVerificationError
            sock.close()
            raise SSLError(endpoint_url=url, error=exc) from exc
        except OSError as exc:
            sock.close()
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
        connection = _Connection(sock)
        with self._lock:
            self._open.add(connection)
        self.connections_made += 1
        return connection

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._open.discard(connection)
        connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        """Built once, on first use: botocore's context (its options and ciphers), verifying
        as URLLib3Session does (`_setup_ssl_cert`), with Python checking the hostname."""
        with self._lock:
            if self._ssl_context is None:
                self._ssl_context = self._new_tls_context()
            return self._ssl_context

    def _new_tls_context(self) -> ssl.SSLContext:
        context: ssl.SSLContext = botocore.httpsession.create_urllib3_context()
        if self._verify:
            cert_path = str(botocore.httpsession.get_cert_path(self._verify))  # type: ignore[arg-type]
            try:
                if os.path.isdir(cert_path):
                    context.load_verify_locations(capath=cert_path)
                else:
                    context.load_verify_locations(cafile=cert_path)
            except OSError as exc:  # urllib3 reports an unreadable bundle as an SSLError too
                raise ssl.SSLError(f"cannot load the CA bundle {cert_path}: {exc}") from exc
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = True
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["http/1.1"])
        return context

    @staticmethod
    def _head(request: AWSPreparedRequest, parts: SplitResult, port: int, length: int) -> bytes:
        """Request line and headers, as http.client would write them for urllib3 (and refused
        where http.client refuses them: control characters in the path, CR/LF in a header)."""
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        if _DISALLOWED_IN_TARGET(target):
            raise ValueError(f"control characters or spaces in the request target {target!r}")
        names = {name.lower() for name in request.headers}
        lines = [f"{request.method} {target} HTTP/1.1".encode("ascii")]
        if "host" not in names:
            shown = f"[{host}]" if ":" in host else host
            if port != DEFAULT_PORTS[scheme]:
                shown = f"{shown}:{port}"
            try:  # as http.client: ASCII, else IDNA
                lines.append(b"Host: " + shown.encode("ascii"))
            except UnicodeEncodeError:
                lines.append(b"Host: " + shown.encode("idna"))
        if "accept-encoding" not in names:
            lines.append(b"Accept-Encoding: identity")
        for name, value in request.headers.items():
            if name.lower() == "content-length":
                continue
            raw_name = name.encode("ascii")
            raw_value = value if isinstance(value, bytes) else str(value).encode("latin-1")
            if not _LEGAL_HEADER_NAME(raw_name) or _ILLEGAL_HEADER_VALUE(raw_value):
                raise ValueError(f"invalid header {name!r}")
            lines.append(raw_name + b": " + raw_value)
        if length or "content-length" in names or request.method not in ("GET", "HEAD", "OPTIONS"):
            lines.append(b"Content-Length: " + str(length).encode("ascii"))
        return b"\r\n".join(lines) + b"\r\n\r\n"


def install_on(boto_client: Any) -> LeanHttpSession | None:
    """Send `boto_client`'s requests through a LeanHttpSession; None (and unchanged) if it cannot.

    botocore has no public way to give a client an http session: its endpoint builds a
    URLLib3Session from the client's Config and sends every request through
    `endpoint.http_session`, so replacing that attribute is the one hook. The original
    stays inside the transport as its fallback (proxies, client certificates, streams)."""
    endpoint = boto_client._endpoint
    transport = LeanHttpSession.from_urllib3(endpoint.http_session)
    if transport is not None:
        endpoint.http_session = transport
    return transport


def _header(request: AWSPreparedRequest, name: str) -> bool:
    return request.headers.get(name) is not None


def _mapped(exc: Exception, request: AWSPreparedRequest) -> Exception:
    """The botocore error URLLib3Session.send would raise for a failure after connecting."""
    url = request.url
    if isinstance(exc, TimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, ssl.SSLError):
        return SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, ProtocolError | OSError):  # reset, broken pipe, closed, not HTTP
        return ConnectionClosedError(error=exc, request=request, endpoint_url=url)
    return HTTPClientError(error=exc)


def _readline(reader: Any) -> bytes:
    line: bytes = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("line too long")
    return line


def _read_answer(reader: Any, method: str) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers (repeated ones joined with ', ', as urllib3 does), body, reusable."""
    while True:
        status_line = _readline(reader)
        if not status_line:
            raise ProtocolError("the server closed the connection without answering")
        try:
            version, code, *_ = status_line.decode("latin-1").split(None, 2)
            status = int(code)
        except ValueError:
            raise ProtocolError(f"not an HTTP status line: {status_line[:80]!r}") from None
        if not version.startswith("HTTP/1.") or not 100 <= status <= 999:
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        headers = _read_headers(reader)
        if status != 100:  # 100 Continue precedes the answer (http.client skips it too)
            break
    lowered = {name.lower(): value for name, value in headers.items()}
    connection_tokens = {token.strip().lower() for token in lowered.get("connection", "").split(",")}
    reusable = "close" not in connection_tokens and (
        version != "HTTP/1.0" or "keep-alive" in connection_tokens
    )
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", reusable
    if "chunked" in lowered.get("transfer-encoding", "").lower():
        return status, headers, _read_chunked(reader), reusable
    if "content-length" in lowered:
        try:
            length = int(lowered["content-length"].split(",")[0])
        except ValueError:
            raise ProtocolError(f"bad Content-Length {lowered['content-length']!r}") from None
        if length < 0:
            raise ProtocolError(f"bad Content-Length {length}")
        data = reader.read(length)
        if len(data) < length:
            raise ProtocolError(f"the body ended after {len(data)} of {length} bytes")
        return status, headers, data, reusable
    return status, headers, reader.read(), False  # no length: the body runs to EOF


def _read_headers(reader: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _readline(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ProtocolError("the connection closed inside the headers")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        name, value = name.strip(), value.strip()
        previous = headers.get(name)
        headers[name] = value if previous is None else f"{previous}, {value}"
    raise ProtocolError(f"more than {MAX_HEADERS} headers")


def _read_chunked(reader: Any) -> bytes:
    pieces: list[bytes] = []
    while True:
        size_line = _readline(reader)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {size_line[:80]!r}") from None
        if size == 0:
            break
        piece = reader.read(size)
        if len(piece) < size or _readline(reader) not in (b"\r\n", b"\n"):
            raise ProtocolError("the connection closed inside a chunk")
        pieces.append(piece)
    while _readline(reader) not in (b"\r\n", b"\n", b""):  # trailers, ignored
        pass
    return b"".join(pieces)
