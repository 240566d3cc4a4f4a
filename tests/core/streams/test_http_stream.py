"""Response bodies between h11 and the caller: Content-Encoding removed, SSE/NDJSON deltas streamed."""

from __future__ import annotations

import gzip
import json
import random
import zlib

import pytest

from sansio_core import actions as A
from sansio_core.call import CallContext
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import RemoteProtocolError
from sansio_core.http.exchange import RawResponse, ResponseHead
from sansio_core.http.target import HttpTarget
from sansio_core.limits import Limits
from sansio_core.sources import Sources
from sansio_core.streams.http_stream import StreamDecoder
from sansio_core.testing.driver import VirtualClock, drive
from sansio_core.testing.h11_peer import H11Peer, ServerReply
from sansio_core.timebase import Instant

T0 = Instant(5.0, 1_700_000_000.0)


def sse(*texts: str, done: bool = True) -> bytes:
    events = [f"data: {json.dumps({'choices': [{'delta': {'content': t}}]})}\n\n" for t in texts]
    return ("".join(events) + ("data: [DONE]\n\n" if done else "")).encode()


def head(*headers: tuple[str, str]) -> ResponseHead:
    return ResponseHead(200, "OK", tuple(headers))


def raw(body: bytes) -> RawResponse:
    return RawResponse(200, "OK", (), body, False, 0.0, 0.0, 0.0)


def decoder(deltas: bool = True, limits: Limits = Limits()) -> StreamDecoder:
    return StreamDecoder(limits, CallContext(now=T0, rng=random.Random(0)), deltas=deltas)


def test_plain_json_body_needs_no_listener_and_drops_a_leading_bom() -> None:
    d = decoder()
    assert d.on_head(head(("content-type", "application/json"))) is None
    assert not d.decoded
    assert d.finish_text(raw("\ufeff{\"a\":\"é\"}".encode())) == '{"a":"é"}'
    assert d.finish_deltas() == []


def test_identity_coding_is_no_coding() -> None:
    d = decoder()
    assert d.on_head(head(("content-encoding", " Identity "))) is None
    assert not d.decoded


def test_invalid_utf8_is_replaced() -> None:
    assert decoder().finish_text(raw(b"ok \xff")) == "ok \ufffd"


def test_gzip_body_is_decoded_across_chunks() -> None:
    body = gzip.compress(b'{"answer": 42}')
    d = decoder()
    listen = d.on_head(head(("content-encoding", "gzip"), ("content-type", "application/json")))
    assert listen is not None
    for i in range(0, len(body), 5):
        assert listen(body[i:i + 5]) == []
    assert d.decoded
    assert d.finish_text(raw(body)) == '{"answer": 42}'
    assert d.first_delta_at is None


def test_sse_deltas_arrive_as_the_events_complete() -> None:
    d = decoder()
    listen = d.on_head(head(("content-type", "text/event-stream; charset=utf-8")))
    assert listen is not None
    body = sse("Hel", "lo")
    assert listen(body[:10]) == []  # no complete event yet
    assert d.first_delta_at is None
    assert listen(body[10:]) == ["Hel", "lo"]
    assert d.first_delta_at == T0.mono
    assert d.finish_deltas() == []
    # Without a content coding the body is the exchange's own bytes (no second copy).
    assert d.finish_text(raw(body)) == body.decode()


def test_a_last_event_without_a_blank_line_is_delivered_at_the_end() -> None:
    d = decoder()
    listen = d.on_head(head(("content-type", "text/event-stream")))
    assert listen is not None
    body = sse("only", done=False).rstrip(b"\n")
    assert listen(body) == []
    assert d.finish_deltas() == ["only"]
    assert d.first_delta_at == T0.mono


def test_ndjson_deltas_from_a_deflated_body() -> None:
    lines = b'{"response":"a","done":false}\n{"response":"b","done":false}\n{"response":"","done":true}\n'
    d = decoder()
    listen = d.on_head(head(("content-type", "application/x-ndjson"), ("content-encoding", "deflate")))
    assert listen is not None
    assert listen(zlib.compress(lines)) == ["a", "b"]
    assert d.finish_text(raw(b"")) == lines.decode()


def test_without_deltas_an_event_stream_is_only_decoded() -> None:
    d = decoder(deltas=False)
    assert d.on_head(head(("content-type", "text/event-stream"))) is None
    listen = decoder(deltas=False).on_head(head(("content-type", "text/event-stream"),
                                                ("content-encoding", "gzip")))
    assert listen is not None and listen(gzip.compress(sse("x"))) == []


def test_unsupported_coding_is_a_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        decoder().on_head(head(("content-encoding", "br")))


def run(reply: ServerReply) -> tuple[A.Action, list[str]]:
    entry = parse_provider_entry({"id": "http://llm.test/v1/chat", "config": {
        "method": "POST", "body": {"q": "{{prompt}}"}, "maxRetries": 0}})
    call = HttpTarget.compile(entry, Sources()).new_call("hi", {}, None, now=T0, seed=1)
    result = drive(call, H11Peer(lambda r: reply), VirtualClock(T0, 0.001))
    return result.terminal, result.deltas


def test_http_call_streams_deltas_of_a_gzipped_event_stream_and_hands_over_the_text() -> None:
    body = sse("Hello", ", world")
    end, deltas = run(ServerReply(200, [("content-type", "text/event-stream"), ("content-encoding", "gzip")],
                                  gzip.compress(body)))
    assert deltas == ["Hello", ", world"]
    assert isinstance(end, A.Complete)
    assert end.response.raw == body.decode()
    # Decoded: the coding and encoded length no longer describe the body.
    headers = end.response.metadata["http"]["headers"]
    assert "content-encoding" not in headers and "content-length" not in headers
    assert headers["content-type"] == "text/event-stream"
    assert end.response.timing is not None and end.response.timing["attempts"] == 1
