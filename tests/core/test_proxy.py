"""Pure proxy decisions: curl's reading of the environment, NO_PROXY, CONNECT bytes and replies."""

from __future__ import annotations

import pytest

from sansio_core.errors import ConfigError
from sansio_core.proxy import (
    ProxyServer,
    absolute_target,
    bypassed,
    configured_proxy,
    connect_request,
    parse_connect_reply,
    parse_proxy_url,
    select_proxy,
)


def test_proxy_urls_default_scheme_and_port_and_unquote_credentials() -> None:
    assert parse_proxy_url("proxy.corp:3128") == ProxyServer("proxy.corp", 3128)
    assert parse_proxy_url("http://proxy.corp").port == 1080
    server = parse_proxy_url("http://al%40ice:p%3Ass@[::1]:8080")
    assert (server.host, server.port, server.username, server.password) == ("::1", 8080, "al@ice", "p:ss")
    assert server.label == "http://[::1]:8080"


def test_credentials_never_show_in_labels_or_reprs() -> None:
    server = parse_proxy_url("http://user:hunter2@proxy:8080")
    route = select_proxy("https", "api", configured=server, env={})
    assert route is not None
    for text in (server.label, repr(server), route.label, repr(route)):
        assert "hunter2" not in text and "user" not in text
    assert server.authorization() == "Basic dXNlcjpodW50ZXIy"


@pytest.mark.parametrize("bad", ["socks5://h:1", "https://h:1", "http://", "http://h:1/path", "http://h:99999"])
def test_unsupported_or_malformed_proxy_urls_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="proxy"):
        configured_proxy(bad)


def test_environment_variables_by_scheme_lower_case_first() -> None:
    env = {"http_proxy": "http://low:1", "HTTP_PROXY": "http://up:2", "HTTPS_PROXY": "http://sec:3"}
    route = select_proxy("http", "api", configured=None, env=env)
    assert route is not None and route.server.host == "low" and not route.tunnel
    route = select_proxy("wss", "api", configured=None, env=env)
    assert route is not None and route.server.host == "sec" and route.tunnel
    route = select_proxy("ws", "api", configured=None, env={"HTTP_PROXY": "up:2"})
    assert route is not None and route.server.host == "up" and route.tunnel  # a WebSocket always tunnels
    assert select_proxy("https", "api", configured=None, env={"http_proxy": "x:1"}) is None


def test_all_proxy_is_the_fallback() -> None:
    env = {"ALL_PROXY": "http://every:9", "https_proxy": "http://sec:3"}
    assert select_proxy("http", "h", configured=None, env=env).server.host == "every"  # type: ignore[union-attr]
    assert select_proxy("https", "h", configured=None, env=env).server.host == "sec"  # type: ignore[union-attr]


def test_no_proxy_bypasses_the_environment_but_not_the_target_option() -> None:
    env = {"https_proxy": "p:1", "NO_PROXY": "internal.corp"}
    assert select_proxy("https", "api.internal.corp", configured=None, env=env) is None
    assert select_proxy("https", "api.example.com", configured=None, env=env) is not None
    assert select_proxy("https", "api.internal.corp", configured=ProxyServer("t", 2), env=env) is not None


@pytest.mark.parametrize(("no_proxy", "host", "expected"), [
    ("*", "anything", True),
    ("example.com", "example.com", True),
    ("example.com", "a.b.example.com", True),
    (".example.com", "example.com", True),
    ("example.com", "notexample.com", False),
    ("EXAMPLE.com", "Example.COM.", True),
    ("a.test, b.test", "b.test", True),
    ("a.test b.test", "b.test", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "127.0.0.2", False),
    ("10.0.0.0/8", "10.1.2.3", True),
    ("10.0.0.0/8", "11.1.2.3", False),
    ("::1", "[::1]", True),
    ("[::1]", "::1", True),
    ("fd00::/8", "fd12::1", True),
    ("localhost", "127.0.0.1", False),  # names are not resolved
    ("", "x", False),
])
def test_no_proxy_matching(no_proxy: str, host: str, expected: bool) -> None:
    assert bypassed(no_proxy, host) is expected


def test_connect_request_bytes() -> None:
    data = connect_request("api.example.com", 443, ProxyServer("p", 1, "u", "pw"), "promptwire/1")
    assert data == (b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
                    b"User-Agent: promptwire/1\r\nProxy-Authorization: Basic dTpwdw==\r\n\r\n")
    assert connect_request("::1", 8443, ProxyServer("p", 1), "ua").startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\n")


def test_connect_replies() -> None:
    assert parse_connect_reply(b"HTTP/1.1 200 Connection") is None
    reply = parse_connect_reply(b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n")
    assert reply is not None and (reply.status, reply.reason, reply.rest) == (200, "Connection established", b"")
    reply = parse_connect_reply(b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\nbody")
    assert reply is not None and reply.status == 407 and reply.rest == b"body"
    with pytest.raises(ValueError, match="HTTP"):
        parse_connect_reply(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ValueError, match="longer"):
        parse_connect_reply(b"x" * 20000)


def test_absolute_form_targets() -> None:
    assert absolute_target("http", "api", 80, "/v1?q=1") == "http://api/v1?q=1"
    assert absolute_target("http", "127.0.0.1", 8080, "/") == "http://127.0.0.1:8080/"
    assert absolute_target("http", "::1", 81, "/x") == "http://[::1]:81/x"


# -- the wiring: targets put their decision on Open, forwarding changes the bytes ---------

from typing import Any  # noqa: E402

from sansio_core import actions as A  # noqa: E402
from sansio_core import events as E  # noqa: E402
from sansio_core.config.provider import parse_provider_entry  # noqa: E402
from sansio_core.errors import FailureKind, TransportError  # noqa: E402
from sansio_core.http.target import HttpTarget  # noqa: E402
from sansio_core.proxy import ProxySettings  # noqa: E402
from sansio_core.sources import Sources  # noqa: E402
from sansio_core.timebase import Instant  # noqa: E402
from sansio_core.ws.flow import WsTarget  # noqa: E402

NOW = Instant(100.0, 1_700_000_000.0)


def _first_open_and_write(url: str, config: dict[str, Any], env: dict[str, str]) -> tuple[A.Open, bytes]:
    target = HttpTarget.compile(parse_provider_entry({"id": url, "config": {"method": "GET", **config}}),
                                Sources(env=env))
    call = target.new_call("hi", {}, None, now=NOW, seed=0)
    opened = call.next_action()
    assert isinstance(opened, A.Open)
    call.feed(E.Opened(opened.conn, reused=False), NOW)
    write = call.next_action()
    assert isinstance(write, A.Write)
    return opened, write.data


def test_no_proxy_settings_means_no_decision_at_all() -> None:
    assert ProxySettings.for_target(None, {"NO_PROXY": "*", "PATH": "/bin"}) is None
    opened, data = _first_open_and_write("http://api.test/v1?q=1", {}, {})
    assert opened.proxy is None and data.startswith(b"GET /v1?q=1 HTTP/1.1\r\n")


def test_plain_http_is_forwarded_in_absolute_form_with_proxy_authorization() -> None:
    opened, data = _first_open_and_write("http://api.test:8080/v1?q=1", {},
                                         {"http_proxy": "http://u:pw-123456@proxy.corp:3128"})
    assert opened.proxy is not None and not opened.proxy.tunnel
    assert (opened.host, opened.port, opened.proxy.server.host) == ("api.test", 8080, "proxy.corp")
    assert data.startswith(b"GET http://api.test:8080/v1?q=1 HTTP/1.1\r\n")
    assert b"\r\nproxy-authorization: Basic dTpwdy0xMjM0NTY=\r\n" in data
    assert b"\r\nHost: api.test:8080\r\n" in data or b"\r\nhost: api.test:8080\r\n" in data


def test_https_tunnels_with_origin_form_and_no_proxy_header_to_the_origin() -> None:
    opened, data = _first_open_and_write("https://api.test/v1", {"proxy": "http://u:pw-123456@proxy.corp:3128"},
                                         {"NO_PROXY": "api.test"})  # the option wins over NO_PROXY
    assert opened.proxy is not None and opened.proxy.tunnel and opened.tls is not None
    assert opened.tls.server_name == "api.test"
    assert data.startswith(b"GET /v1 HTTP/1.1\r\n") and b"proxy-authorization" not in data.lower()


def test_no_proxy_in_the_environment_bypasses() -> None:
    opened, _ = _first_open_and_write("http://api.test/v1", {},
                                      {"HTTP_PROXY": "proxy.corp:3128", "NO_PROXY": ".test"})
    assert opened.proxy is None


def test_proxy_passwords_are_target_secrets() -> None:
    entry = parse_provider_entry({"id": "https://api.test/v1", "config": {"method": "GET"}})
    target = HttpTarget.compile(entry, Sources(env={"HTTPS_PROXY": "http://u:pw-from-env-99@proxy:1"}))
    assert "pw-from-env-99" in target.secrets
    err = target.secrets.scrub_error(TransportError("oops pw-from-env-99", FailureKind.OTHER))
    assert "pw-from-env-99" not in str(err)


def test_a_malformed_proxy_variable_is_a_config_error_when_the_target_is_built() -> None:
    entry = parse_provider_entry({"id": "https://api.test/v1", "config": {"method": "GET"}})
    with pytest.raises(ConfigError, match="HTTPS_PROXY"):
        HttpTarget.compile(entry, Sources(env={"HTTPS_PROXY": "socks5://proxy:1080"}))


def test_a_proxy_refusal_is_a_transport_error_of_kind_proxy() -> None:
    target = HttpTarget.compile(parse_provider_entry({"id": "https://api.test/v1", "config": {
        "method": "GET", "maxRetries": 0, "proxy": "http://proxy.corp:3128"}}), Sources())
    call = target.new_call("hi", {}, None, now=NOW, seed=0)
    opened = call.next_action()
    assert isinstance(opened, A.Open)
    call.feed(E.OpenFailed(opened.conn, FailureKind.PROXY, "proxy http://proxy.corp:3128 answered 407"), NOW)
    end = call.next_action()
    assert isinstance(end, A.Fail) and "answered 407" in str(end.error)


def test_websocket_targets_tunnel_ws_and_wss() -> None:
    for url in ("ws://h.test/x", "wss://h.test/x"):
        target = WsTarget.compile(url, {"messageTemplate": "x", "proxy": "proxy.corp:3128"}, Sources(), {})
        opened = target.new_call("hi", {}, None, now=NOW, seed=0).next_action()
        assert isinstance(opened, A.Open) and opened.proxy is not None and opened.proxy.tunnel
        assert (opened.host, opened.proxy.server.port) == ("h.test", 3128)
