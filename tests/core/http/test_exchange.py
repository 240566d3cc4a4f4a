"""The HTTP/1.1 exchange against a real h11 server peer in memory (no sockets)."""

from __future__ import annotations

import random

import pytest

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import (
    DeadlineExceeded,
    FailureKind,
    LimitExceeded,
    RemoteProtocolError,
    TransportError,
)
from sansio_core.http.exchange import RawResponse, exchange
from sansio_core.http.prepared import PreparedRequest
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(100.0, 1_700_000_000.0)


def request(body: bytes | None = b'{"a":1}') -> PreparedRequest:
    headers = [("host", "example.test"), ("content-type", "application/json")]
    if body is not None:
        headers.append(("content-length", str(len(body))))
    return PreparedRequest("POST", "http", "example.test", 80, "/v1/chat?x=1", tuple(headers), body,
                           "http://example.test/v1/chat?x=1")


def exchange_call(req: PreparedRequest, timeouts: Timeouts = Timeouts(), limits: Limits = Limits()) -> Call:
    def flow(ctx: CallContext) -> Flow:
        raw: RawResponse = yield from exchange(ctx, req, tls=None, timeouts=timeouts, limits=limits)
        return ProviderResponse(status=raw.status, reason=raw.reason, headers=list(raw.headers),
                                body=raw.body.decode(), reused=raw.reused)

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def test_request_bytes_and_response_reach_the_caller() -> None:
    seen = []

    def handler(req):  # type: ignore[no-untyped-def]
        seen.append(req)
        return ServerReply(200, [("Content-Type", "application/json"), ("X-Mixed", "v")], b'{"ok":true}',
                           reason=b"OK")

    end, rec = run_against(exchange_call(request()), handler)
    assert isinstance(end, A.Complete)
    assert seen[0].method == "POST" and seen[0].target == "/v1/chat?x=1"
    assert seen[0].body == b'{"a":1}'
    r = end.response
    assert (r["status"], r["reason"], r["body"]) == (200, "OK", '{"ok":true}')
    assert ("x-mixed", "v") in r["headers"]  # names lower-cased for transforms
    releases = [a for a, _, _ in rec.steps if isinstance(a, A.Release)]
    assert releases == [A.Release(1, reusable=True)]


def test_connection_close_is_not_pooled() -> None:
    end, rec = run_against(exchange_call(request()), lambda r: ServerReply(200, [], b"x", close=True))
    assert isinstance(end, A.Complete)
    assert [a for a, _, _ in rec.steps if isinstance(a, A.Release)] == [A.Release(1, reusable=False)]


def test_eof_before_any_response_byte_is_a_retryable_eof() -> None:
    end, _ = run_against(exchange_call(request()), lambda r: ServerReply(raw=b"", close=True))
    assert isinstance(end, A.Fail)
    err = end.error
    assert isinstance(err, TransportError) and err.kind.value == "eof" and not err.response_started
    assert "without sending a response" in str(err)


def test_garbage_response_is_a_remote_protocol_error_and_closes() -> None:
    end, rec = run_against(exchange_call(request()), lambda r: ServerReply(raw=b"NOT HTTP\r\n\r\n"))
    assert isinstance(end, A.Fail) and isinstance(end.error, RemoteProtocolError)
    assert any(isinstance(a, A.Close) for a, _, _ in rec.steps)


def test_silent_server_times_out_naming_the_total_timeout() -> None:
    end, rec = run_against(exchange_call(request(), Timeouts(total_ms=1500)), lambda r: ServerReply(raw=b""))
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded)
    assert end.error.which == "total"
    assert "Request timed out after 1500 ms" in str(end.error)
    reads = [a for a, _, _ in rec.steps if isinstance(a, A.Read)]
    assert reads[0].deadline == pytest.approx(T0.mono + 1.5)


def test_first_byte_timeout_is_named() -> None:
    end, _ = run_against(exchange_call(request(), Timeouts(total_ms=60_000, first_byte_ms=200)),
                         lambda r: ServerReply(raw=b""))
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded)
    assert end.error.which == "first_byte" and "First-byte timed out after 200 ms" in str(end.error)


def test_idle_timeout_after_a_partial_body() -> None:
    partial = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"
    end, _ = run_against(exchange_call(request(), Timeouts(total_ms=60_000, idle_ms=300)),
                         lambda r: ServerReply(raw=partial))
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded)
    assert end.error.which == "idle" and end.error.response_started


def test_body_over_the_limit_is_refused() -> None:
    end, _ = run_against(exchange_call(request(), limits=Limits(max_response_body=10)),
                         lambda r: ServerReply(200, [], b"x" * 11))
    assert isinstance(end, A.Fail) and isinstance(end.error, LimitExceeded)
    assert "max_response_body" in str(end.error)


def test_informational_response_is_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"
    end, _ = run_against(exchange_call(request()), lambda r: ServerReply(raw=raw))
    assert isinstance(end, A.Complete) and end.response["status"] == 201


def test_open_failure_names_the_origin() -> None:
    call = exchange_call(request())
    assert isinstance(call.next_action(), A.Open)
    call.feed(E.OpenFailed(1, FailureKind.REFUSED, "connection refused"), T0)
    end = call.next_action()
    assert isinstance(end, A.Fail) and "http://example.test:80" in str(end.error)
    assert "connection refused" in str(end.error)


def test_header_injection_is_our_error_not_h11s() -> None:
    bad = PreparedRequest("GET", "http", "h", 80, "/", (("host", "h"), ("x-a", "1\r\nx-b: 2")), None, "http://h/")
    call = exchange_call(bad)
    call.next_action()
    call.feed(E.Opened(1), T0)
    end = call.next_action()
    while not isinstance(end, (A.Complete, A.Fail)):
        end = call.next_action()
    assert isinstance(end, A.Fail) and "cannot send this request" in str(end.error)


def test_drop_mid_body_is_an_eof_after_the_response_started() -> None:
    partial = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"
    end, _ = run_against(exchange_call(request()), lambda r: ServerReply(raw=partial, close=True))
    assert isinstance(end, A.Fail) and isinstance(end.error, TransportError)
    assert end.error.response_started and "before the response was complete" in str(end.error)


def test_close_delimited_body_ends_at_eof() -> None:
    raw = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it"
    end, rec = run_against(exchange_call(request()), lambda r: ServerReply(raw=raw, close=True))
    assert isinstance(end, A.Complete) and end.response["body"] == "all of it"
    assert [a for a, _, _ in rec.steps if isinstance(a, A.Release)] == [A.Release(1, reusable=False)]


def test_connect_timeout_is_named_and_uses_the_earlier_deadline() -> None:
    call = exchange_call(request(), Timeouts(total_ms=60_000, connect_ms=150))
    opened = call.next_action()
    assert isinstance(opened, A.Open) and opened.deadline == pytest.approx(T0.mono + 0.15)
    call.feed(E.TimedOut(opened.conn), Instant(T0.mono + 0.15, T0.wall + 0.15))
    end = call.next_action()
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded)
    assert end.error.which == "connect"
    assert "Connect timed out after 150 ms" in str(end.error) and "example.test" in str(end.error)
