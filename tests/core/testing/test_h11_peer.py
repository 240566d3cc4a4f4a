"""The in-memory h11 server: requests as h11 parsed them, replies well-formed or raw, silence as timeouts."""

from __future__ import annotations

import random

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import DeadlineExceeded, RemoteProtocolError
from sansio_core.http.exchange import RawResponse, exchange
from sansio_core.http.prepared import PreparedRequest
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.testing.driver import VirtualClock
from sansio_core.testing.h11_peer import H11Peer, SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(1.0, 1_700_000_000.0)


def request(method: str = "POST", body: bytes | None = b"hello") -> PreparedRequest:
    headers = [("host", "h.test"), ("x-a", "1")]
    if body is not None:
        headers.append(("content-length", str(len(body))))
    return PreparedRequest(method, "http", "h.test", 80, "/p?q=1", tuple(headers), body, "http://h.test/p?q=1")


def exchange_call(req: PreparedRequest, total_ms: float = 2000) -> Call:
    def flow(ctx: CallContext) -> Flow:
        raw: RawResponse = yield from exchange(ctx, req, tls=None, timeouts=Timeouts(total_ms), limits=Limits())
        return ProviderResponse(status=raw.status, headers=dict(raw.headers), body=raw.body.decode())

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def test_the_handler_sees_the_parsed_request_and_its_reply_is_framed() -> None:
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(201, [("x-b", "2")], b"created", reason=b"Created")

    end, rec = run_against(exchange_call(request()), handler)
    assert seen == rec.requests
    assert (seen[0].method, seen[0].target, seen[0].body) == ("POST", "/p?q=1", b"hello")
    assert ("x-a", "1") in seen[0].headers
    assert isinstance(end, A.Complete)
    assert end.response["status"] == 201 and end.response["body"] == "created"
    assert end.response["headers"]["content-length"] == "7" and end.response["headers"]["x-b"] == "2"


def test_a_chunked_reply_keeps_the_handlers_framing() -> None:
    end, _ = run_against(exchange_call(request("GET", None)),
                         lambda r: ServerReply(200, [("transfer-encoding", "chunked")], b"streamed"))
    assert isinstance(end, A.Complete)
    assert end.response["body"] == "streamed" and "content-length" not in end.response["headers"]


def test_raw_bytes_reach_the_client_as_they_are() -> None:
    end, _ = run_against(exchange_call(request()), lambda r: ServerReply(raw=b"NOT HTTP\r\n\r\n", close=True))
    assert isinstance(end, A.Fail) and isinstance(end.error, RemoteProtocolError)


def test_a_silent_server_times_the_read_out_at_its_deadline() -> None:
    end, rec = run_against(exchange_call(request(), total_ms=1500), lambda r: ServerReply(raw=b""), step_s=0.0)
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded)
    assert rec.steps[-1][2].mono == T0.mono + 1.5


def test_a_read_without_a_deadline_times_out_at_once_and_a_partial_request_gets_no_reply() -> None:
    peer = H11Peer(lambda r: ServerReply())
    clock = VirtualClock(T0)
    assert peer.open(A.Open(1, "http", "h.test", 80, None, None), clock) == E.Opened(1)
    head = b"POST / HTTP/1.1\r\nhost: h.test\r\ncontent-length: 10\r\n\r\n12345"
    assert peer.write(A.Write(1, head, None), clock) == E.Written(1)
    assert peer.requests == []
    assert peer.read(A.Read(1, 100, None), clock) == E.TimedOut(1)
    assert clock.now == T0


def test_a_request_split_across_writes_is_answered_once_complete() -> None:
    peer = H11Peer(lambda r: ServerReply())
    clock = VirtualClock(T0)
    peer.open(A.Open(1, "http", "h.test", 80, None, None), clock)
    peer.write(A.Write(1, b"POST / HTTP/1.1\r\nhost: h.test\r\ncontent-length: 10\r\n\r\n12345", None), clock)
    peer.write(A.Write(1, b"67890", None), clock)
    assert [r.body for r in peer.requests] == [b"1234567890"]
    got = peer.read(A.Read(1, 12, None), clock)
    assert isinstance(got, E.Received) and got.data == b"HTTP/1.1 200"
