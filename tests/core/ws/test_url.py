"""WebSocket URLs parsed as ``ws`` parses them, and redacted for messages."""

from __future__ import annotations

import pytest

from sansio_core.auth.static import basic_credentials
from sansio_core.errors import ConfigError
from sansio_core.ws.url import WsUrl, parse_ws_url, redact_url


@pytest.mark.parametrize(("url", "parsed"), [
    ("ws://h.test/chat?x=1", WsUrl("ws", "h.test", 80, "/chat?x=1", "h.test")),
    ("WSS://H.test:8443", WsUrl("wss", "h.test", 8443, "/", "h.test:8443")),
    ("wss://h.test:443/", WsUrl("wss", "h.test", 443, "/", "h.test")),
    ("http://[::1]:9000/a", WsUrl("ws", "::1", 9000, "/a", "[::1]:9000")),
    ("https://u%20x:p%40w@h.test/", WsUrl("wss", "h.test", 443, "/", "h.test", "u x", "p@w")),
    ("  ws://h.test/a b", WsUrl("ws", "h.test", 80, "/a%20b", "h.test")),
])
def test_parse(url: str, parsed: WsUrl) -> None:
    assert parse_ws_url(url) == parsed


def test_tls_and_basic_auth() -> None:
    assert parse_ws_url("wss://h.test").tls and not parse_ws_url("ws://h.test").tls
    assert parse_ws_url("ws://h.test").basic_auth() is None
    assert parse_ws_url("ws://me:pw@h.test").basic_auth() == basic_credentials("me", "pw")
    assert parse_ws_url("ws://me@h.test").basic_auth() == basic_credentials("me", "")


@pytest.mark.parametrize(("url", "reason"), [
    ("/relative", "not an absolute URL"),
    ("ftp://h.test/", 'the URL\'s protocol must be one of "ws:", "wss:", "http:" or "https:", not "ftp:"'),
    ("ws://h.test/#frag", "the URL contains a fragment identifier"),
    ("ws://h:99999/", ""),
    ("ws://", ""),
])
def test_errors_say_failed_to_create_websocket_connection(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ws_url(url)
    assert info.value.path == "url"
    assert info.value.message.startswith("url: Failed to create WebSocket connection: " + reason)


@pytest.mark.parametrize(("url", "redacted"), [
    ("wss://h.test/chat", "wss://h.test/chat"),
    ("wss://user:pw@h.test/chat", "wss://[REDACTED]@h.test/chat"),
    ("wss://h.test/?api_key=s3&model=m&Session-Token=t&flag", "wss://h.test/?api_key=%5BREDACTED%5D&model=m&"
                                                             "Session-Token=%5BREDACTED%5D&flag"),
    ("wss://h.test/?sig=1#frag", "wss://h.test/?sig=%5BREDACTED%5D#frag"),
    ("wss://h.test/?my%5Fpassword=x", "wss://h.test/?my%5Fpassword=%5BREDACTED%5D"),
])
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
