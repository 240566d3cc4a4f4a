"""Events a binding feeds: each outcome of an action becomes the error (or progress) a user sees."""

from __future__ import annotations

import random

import pytest

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import Cancelled, DeadlineExceeded, FailureKind, TransportError
from sansio_core.http.exchange import exchange
from sansio_core.http.prepared import PreparedRequest
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.timebase import Instant

T0 = Instant(1.0, 1_700_000_000.0)
REQ = PreparedRequest("GET", "http", "h.test", 80, "/", (("host", "h.test"),), None, "http://h.test/")


def call() -> Call:
    def flow(ctx: CallContext) -> Flow:
        raw = yield from exchange(ctx, REQ, tls=None, timeouts=Timeouts(1000), limits=Limits())
        return ProviderResponse(status=raw.status)

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def until_terminal(c: Call) -> A.Action:
    while True:
        action = c.next_action()
        if isinstance(action, A.TERMINAL):
            return action


def test_events_are_values() -> None:
    assert E.Received(1, b"x") == E.Received(1, b"x") and E.Received(1, b"x") != E.Received(2, b"x")
    assert hash(E.TimedOut(3)) == hash(E.TimedOut(3))
    assert E.Opened(1).reused is False and E.WriteFailed(1, FailureKind.RESET).detail == ""


@pytest.mark.parametrize(("kind", "retryable"), [(FailureKind.DNS, False), (FailureKind.REFUSED, True),
                                                 (FailureKind.TLS, False)])
def test_open_failed_is_a_transport_error_of_its_kind(kind: FailureKind, retryable: bool) -> None:
    c = call()
    opened = c.next_action()
    assert isinstance(opened, A.Open)
    c.feed(E.OpenFailed(opened.conn, kind, "no such host"), T0)
    end = until_terminal(c)
    assert isinstance(end, A.Fail) and isinstance(end.error, TransportError)
    assert end.error.kind is kind and end.error.retryable is retryable
    assert "no such host" in str(end.error)


def test_write_and_read_failures() -> None:
    c = call()
    c.next_action()
    c.feed(E.Opened(1), T0)
    write = c.next_action()
    assert isinstance(write, A.Write) and write.data.startswith(b"GET / HTTP/1.1\r\n")
    c.feed(E.WriteFailed(1, FailureKind.RESET, "broken pipe"), T0)
    end = until_terminal(c)
    assert isinstance(end, A.Fail) and isinstance(end.error, TransportError) and end.error.kind is FailureKind.RESET

    c = call()
    c.next_action()
    c.feed(E.Opened(1), T0)
    c.next_action()
    c.feed(E.Written(1), T0)
    assert isinstance(c.next_action(), A.Read)
    c.feed(E.ReadFailed(1, FailureKind.EOF, "eof"), T0)
    end = until_terminal(c)
    assert isinstance(end, A.Fail) and isinstance(end.error, TransportError) and end.error.kind is FailureKind.EOF


def test_timed_out_and_cancelled() -> None:
    c = call()
    c.next_action()
    c.feed(E.TimedOut(1), Instant(2.0, T0.wall + 1))
    end = until_terminal(c)
    # A connect that never completes is named as a connect timeout, whichever deadline fired.
    assert isinstance(end, A.Fail) and isinstance(end.error, DeadlineExceeded) and end.error.which == "connect"

    c = call()
    c.next_action()
    c.feed(E.Cancelled(), T0)
    end = until_terminal(c)
    assert isinstance(end, A.Fail) and isinstance(end.error, Cancelled)
