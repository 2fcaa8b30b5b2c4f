"""The kube HTTP client's checks that need no server (its wire behaviour: tests/integration/test_kube_http.py)."""

from __future__ import annotations

import ssl

import pytest
from agentcore_operator.controller.http1 import Http1Client


def client(base: str, ssl_context: ssl.SSLContext | None = None) -> Http1Client:
    return Http1Client(base, ssl_context=ssl_context, user_agent="t", pool_size=1, timeout=1.0)


def test_the_port_defaults_by_scheme_and_the_host_header_keeps_the_url_form() -> None:
    assert client("http://api.example").port == 80
    assert client("https://api.example", ssl_context=ssl.create_default_context()).port == 443
    assert client("https://[::1]:6443/", ssl_context=ssl.create_default_context()).port == 6443
    assert b"\r\nHost: [::1]:6443\r\n" in client("http://[::1]:6443")._head("GET", "/version", None, None, {})


def test_https_without_a_tls_context_or_a_non_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="no TLS context"):
        client("https://api.example")
    with pytest.raises(ValueError, match="not an http"):
        client("unix:///run/k8s.sock")


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api\r\nX-Injected: 1", {}), ("/api", {"Authorization": "Bearer abc\nX-Injected: 1"})],
)
async def test_a_line_break_in_the_path_or_a_header_never_reaches_the_wire(
    path: str, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="line break"):
        await client("http://127.0.0.1:9").request("GET", path, headers=headers)
