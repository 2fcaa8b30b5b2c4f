"""The keep-alive HTTP transport under botocore (aws/transport.py), with real boto3 clients over
real sockets: against the AgentCore emulator, and against small servers started here that
answer in the framings and failures the emulator never shows (chunked, to EOF, closing, slow,
TLS, a proxy)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agentcore_operator.aws.clients import ClientFactory
from agentcore_operator.aws.transport import LeanHttpSession, install_on
from agentcore_operator.local.agentcore import EmulatorConfig
from agentcore_operator.local.agentcore.testing import running_emulator
from agentcore_operator.local.harness import dummy_boto_session
from agentcore_operator.manager.settings import ConfigError, parse_settings
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import URLLib3Session

TLS = Path(__file__).resolve().parents[1] / "fixtures" / "tls-aws"
BUILTIN = "aws.codeinterpreter.v1"
REGION = "us-east-1"


def transport_of(client: Any) -> LeanHttpSession:
    session = client._endpoint.http_session
    assert isinstance(session, LeanHttpSession)
    return session


# --- against the emulator ----------------------------------------------------------------


def test_session_calls_go_through_the_transport() -> None:
    with running_emulator(EmulatorConfig(tps=0)) as emulator:
        clients = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session())
        data, control = clients.data(REGION), clients.control(REGION)
        started = data.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, clientToken="t" * 33)
        session_id = started["sessionId"]
        got = data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
        assert got["status"] == "READY"
        listed = data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
        assert session_id in [item["sessionId"] for item in listed["items"]]
        data.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session_id)
        interpreter = control.get_code_interpreter(codeInterpreterId=BUILTIN)
        assert interpreter["codeInterpreterId"] == BUILTIN

        assert (transport_of(data).sent, transport_of(data).sent_by_fallback) == (4, 0)
        assert (transport_of(control).sent, transport_of(control).sent_by_fallback) == (1, 0)
        assert transport_of(data).connections_made == 1  # kept alive across the four calls
        # urllib3's pool behind it never opened a connection
        assert not transport_of(data).fallback._manager.pools.keys()


def test_error_answers_are_the_same_client_errors() -> None:
    with running_emulator(EmulatorConfig(tps=0)) as emulator:
        data = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session()).data(REGION)
        with pytest.raises(ClientError) as missing:
            data.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="0" * 26)
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as invalid:
            data.start_code_interpreter_session(
                codeInterpreterIdentifier=BUILTIN, sessionTimeoutSeconds=999999
            )
        assert invalid.value.response["Error"]["Code"] == "ValidationException"
        assert transport_of(data).sent == 2

    with running_emulator(EmulatorConfig(tps=1, tps_overrides={})) as emulator:
        data = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session()).data(REGION)
        codes = set()
        for _ in range(5):
            try:
                data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
            except ClientError as exc:
                codes.add(exc.response["Error"]["Code"])
        assert codes == {"ThrottlingException"}
        assert transport_of(data).connections_made == 1  # an error answer keeps the connection


def test_an_event_stream_answer_goes_to_urllib3() -> None:
    with running_emulator(EmulatorConfig(tps=0)) as emulator:
        data = ClientFactory(endpoint_url=emulator.endpoint_url, session=dummy_boto_session()).data(REGION)
        session_id = data.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN)["sessionId"]
        response = data.invoke_code_interpreter(
            codeInterpreterIdentifier=BUILTIN,
            sessionId=session_id,
            name="executeCode",
            arguments={"language": "python", "code": "print(1)"},
        )
        assert list(response["stream"])
        assert (transport_of(data).sent, transport_of(data).sent_by_fallback) == (1, 1)


def test_urllib3_setting_keeps_botocores_session() -> None:
    with running_emulator(EmulatorConfig(tps=0)) as emulator:
        clients = ClientFactory(
            endpoint_url=emulator.endpoint_url, session=dummy_boto_session(), http_client="urllib3"
        )
        data = clients.data(REGION)
        assert type(data._endpoint.http_session) is URLLib3Session
        data.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
        assert data._endpoint.http_session._manager.pools.keys()


def test_the_setting_is_read_and_checked() -> None:
    assert parse_settings([], {"AWS_REGION": REGION}).aws_http_client == "builtin"
    env = {"AWS_REGION": REGION, "AGENTCORE_AWS_HTTP_CLIENT": "urllib3"}
    assert parse_settings([], env).aws_http_client == "urllib3"
    assert parse_settings(["--aws-http-client", "builtin"], env).aws_http_client == "builtin"
    with pytest.raises(ConfigError, match="AGENTCORE_AWS_HTTP_CLIENT 'curl' is not one of builtin, urllib3"):
        parse_settings(["--aws-http-client", "curl"], {"AWS_REGION": REGION})
    assert parse_settings([], {"AWS_REGION": REGION}).aws_calls == "direct"
    assert (
        parse_settings([], {"AWS_REGION": REGION, "AGENTCORE_AWS_CALLS": "botocore"}).aws_calls == "botocore"
    )
    with pytest.raises(
        ConfigError, match="--aws-calls/AGENTCORE_AWS_CALLS 'raw' is not one of direct, botocore"
    ):
        parse_settings(["--aws-calls", "raw"], {"AWS_REGION": REGION})


# --- against a server written here ---------------------------------------------------------

Answer = Callable[[int, bytes], tuple[bytes | None, bool]]  # request number, head -> reply, close after


class WireServer:
    """A socket server that counts requests and connections and answers with `answer`'s bytes."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.answer = answer
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            with self._lock:
                self.connections += 1
            reader = sock.makefile("rb")
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        reader.read(int(line.split(b":")[1]))
                with self._lock:
                    self.requests.append(head)
                    number = len(self.requests)
                reply, close = self.answer(number, head)
                if reply is not None:
                    sock.sendall(reply)
                if close:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            sock.close()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., WireServer]]:
    servers: list[WireServer] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> WireServer:
        servers.append(WireServer(answer, tls, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def json_answer(body: bytes = b'{"sessionId": "abc"}', *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    if not any(line.lower().startswith((b"transfer-encoding", b"content-length")) for line in extra):
        head.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def data_client(endpoint_url: str, **config: Any) -> Any:
    factory = ClientFactory(endpoint_url=endpoint_url, session=dummy_boto_session(), **config)
    return factory.data(REGION)


def get(client: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.get_code_interpreter_session(
        codeInterpreterIdentifier=BUILTIN, sessionId="s"
    )
    return result


def test_chunked_answer(serve: Callable[..., WireServer]) -> None:
    chunked = b'5\r\n{"ses\r\n10;ext=1\r\nsionId": "abc"}\r\n0\r\nX-Trailer: t\r\n\r\n'
    server = serve(lambda n, head: (json_answer(chunked, b"Transfer-Encoding: chunked"), False))
    client = data_client(server.url())
    assert get(client)["sessionId"] == "abc"
    assert get(client)["sessionId"] == "abc"
    assert server.connections == 1


def test_connection_close_is_not_reused(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (json_answer(b'{"sessionId": "abc"}', b"Connection: close"), False))
    client = data_client(server.url())
    assert get(client)["sessionId"] == "abc"
    assert get(client)["sessionId"] == "abc"
    assert server.connections == 2


def test_answer_without_length_runs_to_eof(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (b'HTTP/1.1 200 OK\r\n\r\n{"sessionId": "abc"}', True))
    client = data_client(server.url())
    assert get(client)["sessionId"] == "abc"
    assert get(client)["sessionId"] == "abc"
    assert server.connections == 2


def test_an_idle_connection_the_server_closed_is_replaced(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (json_answer(), True))  # keep-alive announced, then closed
    client = data_client(server.url())
    assert get(client)["sessionId"] == "abc"
    time.sleep(0.2)  # the FIN arrives
    assert get(client)["sessionId"] == "abc"
    assert (len(server.requests), server.connections) == (2, 2)


def test_a_connection_closed_mid_request_is_not_resent(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (json_answer(), False) if n == 1 else (None, True))
    client = data_client(server.url())
    assert get(client)["sessionId"] == "abc"
    with pytest.raises(ConnectionClosedError):
        get(client)
    time.sleep(0.1)
    assert len(server.requests) == 2  # the failed request reached the server once
    assert transport_of(client).connections_made == 1


def test_a_header_with_a_line_break_is_refused_before_sending(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (json_answer(), False))
    transport = transport_of(data_client(server.url()))
    request = AWSRequest(method="GET", url=server.url() + "/x", headers={"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(HTTPClientError):
        transport.send(request.prepare())
    assert server.requests == []


def test_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with pytest.raises(EndpointConnectionError):
        get(data_client(f"http://127.0.0.1:{port}"))


def test_slow_answer_is_a_read_timeout(serve: Callable[..., WireServer]) -> None:
    def slow(n: int, head: bytes) -> tuple[bytes | None, bool]:
        time.sleep(1.0)
        return json_answer(), False

    server = serve(slow)
    client = data_client(server.url(), read_timeout=0.2)
    with pytest.raises(ReadTimeoutError):
        get(client)


def tls_server(serve: Callable[..., WireServer]) -> WireServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    return serve(lambda n, head: (json_answer(), False), context)


def tls_client(url: str, verify: bool | str | None) -> Any:
    client = dummy_boto_session().client(
        "bedrock-agentcore",
        region_name=REGION,
        endpoint_url=url,
        verify=verify,
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert install_on(client) is not None
    return client


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_verified_with_the_ca_bundle(serve: Callable[..., WireServer], host: str) -> None:
    server = tls_server(serve)
    client = tls_client(server.url("https", host), str(TLS / "ca.pem"))
    assert get(client)["sessionId"] == "abc"
    assert get(client)["sessionId"] == "abc"
    assert (server.connections, transport_of(client).sent) == (1, 2)


def test_tls_default_verification_refuses_an_unknown_ca(
    serve: Callable[..., WireServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    server = tls_server(serve)
    with pytest.raises(SSLError):
        get(tls_client(server.url("https"), None))
    assert server.requests == []


def test_tls_hostname_is_checked(serve: Callable[..., WireServer]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    server = serve(lambda n, head: (json_answer(), False), context, "127.0.0.2")  # not in the SAN
    with pytest.raises(SSLError, match="match"):
        get(tls_client(server.url("https", "127.0.0.2"), str(TLS / "ca.pem")))
    assert server.requests == []


def test_an_unreadable_ca_bundle_is_an_ssl_error(serve: Callable[..., WireServer], tmp_path: Path) -> None:
    server = tls_server(serve)
    with pytest.raises(SSLError, match="CA bundle"):
        get(tls_client(server.url("https"), str(tmp_path / "missing.pem")))


def test_tls_without_verification_accepts(serve: Callable[..., WireServer]) -> None:
    server = tls_server(serve)
    assert get(tls_client(server.url("https"), False))["sessionId"] == "abc"


def test_a_proxy_from_the_environment_uses_urllib3(
    serve: Callable[..., WireServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(lambda n, head: (json_answer(), False))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    client = data_client("http://agentcore.test")
    assert get(client)["sessionId"] == "abc"
    assert (transport_of(client).sent, transport_of(client).sent_by_fallback) == (0, 1)
    assert proxy.requests[0].startswith(b"GET http://agentcore.test/")  # the proxy's absolute form


def test_a_proxy_in_the_config_uses_urllib3(serve: Callable[..., WireServer]) -> None:
    proxy = serve(lambda n, head: (json_answer(), False))
    client = dummy_boto_session().client(
        "bedrock-agentcore",
        region_name=REGION,
        endpoint_url="http://agentcore.test",
        config=Config(proxies={"http": proxy.url()}, retries={"total_max_attempts": 1}),
    )
    transport = install_on(client)
    assert transport is not None
    assert get(client)["sessionId"] == "abc"
    assert (transport.sent, transport.sent_by_fallback, len(proxy.requests)) == (0, 1, 1)


def test_a_client_certificate_uses_urllib3(serve: Callable[..., WireServer]) -> None:
    server = serve(lambda n, head: (json_answer(), False))
    client = dummy_boto_session().client(
        "bedrock-agentcore",
        region_name=REGION,
        endpoint_url=server.url(),
        config=Config(client_cert=(str(TLS / "server.pem"), str(TLS / "server.key"))),
    )
    transport = install_on(client)
    assert transport is not None
    assert get(client)["sessionId"] == "abc"
    assert (transport.sent, transport.sent_by_fallback) == (0, 1)
