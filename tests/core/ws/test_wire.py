"""``WsWire`` and ``ws_url`` on their own, plus the fuzz invariant as a Hypothesis test."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_core import actions as A
from sansio_core.errors import ConfigError, PromptwireError, RemoteProtocolError
from sansio_core.limits import Limits
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget
from sansio_core.ws.url import parse_ws_url, redact_url
from sansio_core.ws.wire import Failed, WsWire


def frame(op: int, payload: bytes, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    head = bytes([b0, n]) if n < 126 else bytes([b0, 126]) + struct.pack("!H", n)
    return head + payload


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target", "host_header"),
    [
        ("ws://127.0.0.1:4000/s/a?u=a%20b%26c", "ws", "127.0.0.1", 4000, "/s/a?u=a%20b%26c", "127.0.0.1:4000"),
        ("ws://h/ws?user=u-7&q=hi there", "ws", "h", 80, "/ws?user=u-7&q=hi%20there", "h"),
        ("http://Example.COM/a/./b/../c", "ws", "example.com", 80, "/a/c", "example.com"),
        ("https://ex.com:443", "wss", "ex.com", 443, "/", "ex.com"),
        ("wss://[::1]:9/x", "wss", "::1", 9, "/x", "[::1]:9"),
        ("ws://bücher.de/ä", "ws", "xn--bcher-kva.de", 80, "/%C3%A4", "xn--bcher-kva.de"),
    ],
)
def test_urls_parse_like_whatwg(url: str, scheme: str, host: str, port: int, target: str,
                                host_header: str) -> None:
    parsed = parse_ws_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target, parsed.host_header) == (
        scheme, host, port, target, host_header)


@pytest.mark.parametrize("url", ["", "/ws", "ftp://h/x", "ws+unix:///tmp/s", "ws://h/#f", "ws://:80/",
                                 "ws://h:99999/"])
def test_bad_urls_are_config_errors_without_the_url(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ws_url(url)
    assert info.value.path == "url"
    assert "Failed to create WebSocket connection" in str(info.value)


def test_redaction() -> None:
    assert redact_url("ws://h/ws?token=abc&x=1&api_key=k") == "ws://h/ws?token=%5BREDACTED%5D&x=1&api_key=%5BREDACTED%5D"
    assert redact_url("ws://user:pw@h/ws") == "ws://[REDACTED]@h/ws"


def test_wire_reports_nothing_before_the_handshake_completes() -> None:
    wire = WsWire(100)
    wire.start("h", "/", [], [])
    assert wire.receive(b"HTTP/1.1 101 Switching").outcomes == []
    with pytest.raises(RemoteProtocolError, match="during the WebSocket handshake"):
        wire.receive(b"")


def test_accept_and_close_in_one_read_send_no_message() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Request

    from sansio_core.ws.wire import Accepted, Closed

    wire = WsWire(100)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(wire.start("h", "/", [], []))
    assert isinstance(next(server.events()), Request)
    data = server.send(AcceptConnection()) + server.send(CloseConnection(code=1001, reason="away"))
    feed = wire.receive(data)
    assert [type(o) for o in feed.outcomes] == [Accepted, Closed]
    assert feed.reply  # the close echo
    assert wire.send_text("too late") == b""
    assert wire.close() == b""


def run_raw(chunks: list[bytes], limit: int = 1 << 20) -> Any:
    target = WsTarget.compile("ws://127.0.0.1:9/x", {"messageTemplate": "{{ prompt }}", "timeoutMs": 1000},
                              Sources(), {}, limits=Limits(max_ws_message=limit))
    call = target.new_call("x", {}, None, now=Instant(0.0, 0.0), seed=0)
    terminal = run_ws_call(call, ScriptedWsServer(on_message=[("raw", c) for c in chunks if c])).terminal
    if isinstance(terminal, A.Complete):
        return dict(terminal.response)
    assert isinstance(terminal, A.Fail) and isinstance(terminal.error, PromptwireError)
    name = type(terminal.error).__name__
    return "bad frames" if name in ("LimitExceeded", "RemoteProtocolError") else name


def test_a_message_before_a_bad_frame_wins_however_it_is_split() -> None:
    # Found by fuzz_ws_frames: the first message used to be lost when the
    # bad frame arrived in the same read.
    data = frame(1, b"a") + bytes([0x00, 0x0E]) + b"c"
    assert run_raw([data]) == run_raw([data[:3], data[3:]]) == {"output": "a"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=64), st.sampled_from([8, 64, 1 << 20]))
def test_arbitrary_server_bytes_only_our_errors_and_split_invisible(data: bytes, cut: int, limit: int) -> None:
    whole = run_raw([data], limit)
    assert run_raw([data[:cut], data[cut:]], limit) == whole
    assert run_raw([data[i:i + 1] for i in range(len(data))], limit) == whole


# -- the fast path (whole data frames read without wsproto) agrees with wsproto ------------


def _opened(limit: int) -> WsWire:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection

    wire = WsWire(limit)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(wire.start("h", "/", [], []))
    next(server.events())
    wire.receive(server.send(AcceptConnection()))
    return wire


def _client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Our masked frames, unmasked (wsproto draws each mask at random)."""
    out, pos = [], 0
    while pos < len(data):
        b0, n, pos = data[pos], data[pos + 1] & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack("!H", data[pos:pos + 2])[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack("!Q", data[pos:pos + 8])[0], pos + 8
        mask, pos = data[pos:pos + 4], pos + 4
        out.append((b0, bytes(b ^ mask[i % 4] for i, b in enumerate(data[pos:pos + n]))))
        pos += n
    return out


def _observe(chunks: list[bytes], limit: int, fast: bool) -> list[Any]:
    wire = _opened(limit)
    wire.fast_path = fast
    seen: list[Any] = []
    for chunk in chunks:
        try:
            feed = wire.receive(chunk)
        except PromptwireError as exc:
            seen.append(("raised", type(exc).__name__, exc.message))
            break
        for outcome in feed.outcomes:
            if isinstance(outcome, Failed):
                # A frame both too big and malformed: which check fires first may
                # differ (as how much had arrived decides it for wsproto alone).
                return [*seen, "failed"]
            seen.append(repr(outcome))
        if feed.reply:
            seen.append(("reply", _client_frames(feed.reply)))
    seen.append(("close", _client_frames(wire.close())))  # the owed or polite close frame
    return seen


def _bytes(max_size: int) -> st.SearchStrategy[bytes]:
    # Lists of ints, not st.binary: mixed bytes/int choices trip hypothesis's
    # cache keys under python -bb (BytesWarning).
    return st.lists(st.integers(min_value=0, max_value=255), max_size=max_size).map(bytes)


_FRAME = st.one_of(
    st.tuples(st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x80, 0x89, 0x8A, 0x88, 0xC1, 0x83]),
              _bytes(300)).map(lambda t: frame(t[0] & 0x0F, t[1], bool(t[0] & 0x80))
                               if t[0] & 0x70 == 0 else bytes([t[0], len(t[1]) % 126]) + t[1][:125]),
    _bytes(12),  # garbage: masks, non-minimal lengths, truncation
    st.sampled_from([b"\x81\x7e\x00\x05hello", b"\x82\x7f" + bytes(8), b"\x81\x02\xc3\x28", b"\x81\x85abcd12345"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAME, max_size=6), st.lists(st.integers(min_value=0, max_value=2000), max_size=4),
       st.sampled_from([16, 200, 1 << 20]), st.booleans())
def test_fast_frames_read_exactly_as_wsproto_reads_them(frames: list[bytes], cuts: list[int], limit: int,
                                                       eof: bool) -> None:
    data = b"".join(frames)
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]
    if eof:
        chunks.append(b"")
    fast, slow = _observe(chunks, limit, fast=True), _observe(chunks, limit, fast=False)
    if "failed" not in fast:
        assert fast == slow
        return
    # A frame both too big and not UTF-8: which check fires first may differ.
    i = fast.index("failed")
    assert slow[:i] == fast[:i]
    assert slow[i] == "failed" or slow[i][0] == "close", slow
