"""The Call contract: one outstanding action, cleanup before Fail, cancellation, replay."""

from __future__ import annotations

import random

import pytest

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import FEED_ALLOWED, Call, CallContext, CallState, Flow, expect
from sansio_core.errors import Cancelled, LocalProtocolError, TransformError
from sansio_core.response import ProviderResponse
from sansio_core.timebase import Instant

T0 = Instant(10.0, 1000.0)


def two_connections_then(fail: bool) -> Call:
    def flow(ctx: CallContext) -> Flow:
        for _ in range(2):
            conn = ctx.new_conn()
            expect((yield A.Open(conn, "http", "h", 80, None, None)), E.Opened)
        if fail:
            raise TransformError("boom")
        yield A.Release(1, reusable=True)
        yield A.Release(2, reusable=True)
        return ProviderResponse(output="ok")

    return Call(flow, CallContext(now=T0, rng=random.Random(1)))


def open_both(call: Call) -> None:
    for conn in (1, 2):
        assert call.next_action() == A.Open(conn, "http", "h", 80, None, None)
        call.feed(E.Opened(conn), T0)


def test_failure_closes_every_open_connection_before_fail() -> None:
    call = two_connections_then(fail=True)
    open_both(call)
    assert call.next_action() == A.Close(1)
    assert call.next_action() == A.Close(2)
    end = call.next_action()
    assert isinstance(end, A.Fail) and str(end.error) == "boom"
    assert call.next_action() is end and call.done  # terminal repeats


def test_cancel_closes_and_fails_with_cancelled() -> None:
    call = two_connections_then(fail=False)
    open_both(call)
    call.feed(E.Cancelled(), T0)
    assert [call.next_action(), call.next_action()] == [A.Close(1), A.Close(2)]
    end = call.next_action()
    assert isinstance(end, A.Fail) and isinstance(end.error, Cancelled)


def test_outstanding_action_repeats_until_fed_and_extra_events_are_refused() -> None:
    call = two_connections_then(fail=False)
    first = call.next_action()
    assert call.next_action() is first
    call.feed(E.Opened(1), T0)
    with pytest.raises(LocalProtocolError, match="no outstanding action"):
        call.feed(E.Opened(1), T0)


def test_success_releases_and_completes() -> None:
    call = two_connections_then(fail=False)
    open_both(call)
    assert call.next_action() == A.Release(1, reusable=True)
    assert call.next_action() == A.Release(2, reusable=True)
    end = call.next_action()
    assert isinstance(end, A.Complete) and end.response.output == "ok"


def test_a_wrong_reply_is_reported_as_a_binding_bug() -> None:
    call = two_connections_then(fail=False)
    call.next_action()
    call.feed(E.Woke(), T0)
    assert call.next_action() == A.Close(1)
    end = call.next_action()
    assert isinstance(end, A.Fail) and "binding replied Woke, expected Opened" in str(end.error)


def test_feed_updates_the_flows_clock() -> None:
    seen = []

    def flow(ctx: CallContext) -> Flow:
        yield A.Sleep(ctx.now.mono + 5)
        seen.append(ctx.now)
        return ProviderResponse()

    call = Call(flow, CallContext(now=T0, rng=random.Random(0)))
    assert call.next_action() == A.Sleep(15.0)
    call.feed(E.Woke(), Instant(15.0, 1005.0))
    assert isinstance(call.next_action(), A.Complete)
    assert seen == [Instant(15.0, 1005.0)]


# -- the explicit state (CallState) -----------------------------------------------------


def _buggy_flow(ctx: CallContext) -> Flow:
    conn = ctx.new_conn()
    expect((yield A.Open(conn, "http", "h", 80, None, None)), E.Opened)
    raise KeyError("missing-key")


def test_an_unexpected_exception_fails_once_then_the_call_refuses_use() -> None:
    # This used to return Complete(response=None) on the next next_action().
    call = Call(_buggy_flow, CallContext(now=T0))
    assert call.state is CallState.IDLE
    assert isinstance(call.next_action(), A.Open)
    assert call.state is CallState.AWAITING
    call.feed(E.Opened(1), T0)
    assert call.next_action() == A.Close(1)
    fail = call.next_action()
    assert isinstance(fail, A.Fail) and isinstance(fail.error, LocalProtocolError)
    assert "KeyError" in str(fail.error) and "missing-key" in str(fail.error)
    assert isinstance(fail.error.__cause__, KeyError)
    assert call.state is CallState.ERROR
    with pytest.raises(LocalProtocolError, match=r"already failed .*KeyError"):
        call.next_action()
    with pytest.raises(LocalProtocolError, match="already failed"):
        call.feed(E.Woke(), T0)
    with pytest.raises(LocalProtocolError, match="already failed"):
        call.feed(E.Cancelled(), T0)


def test_states_follow_the_actions() -> None:
    call = two_connections_then(fail=False)
    seen = []
    for conn in (1, 2):
        call.next_action()
        seen.append(call.state)
        call.feed(E.Opened(conn), T0)
        seen.append(call.state)
    assert seen == [CallState.AWAITING, CallState.RUNNING] * 2
    assert isinstance(call.next_action(), A.Release) and call.state is CallState.RUNNING
    call.next_action()
    end = call.next_action()
    assert isinstance(end, A.Complete) and call.state is CallState.DONE and call.done
    assert call.next_action() is end  # terminal actions repeat
    call.feed(E.Cancelled(), T0)  # too late to matter
    assert call.next_action() is end


def test_a_reply_without_an_outstanding_action_is_refused_in_every_state() -> None:
    call = two_connections_then(fail=False)
    with pytest.raises(LocalProtocolError, match="state idle"):
        call.feed(E.Opened(1), T0)
    open_both(call)
    call.next_action()  # Release: needs no reply
    with pytest.raises(LocalProtocolError, match="state running"):
        call.feed(E.Woke(), T0)


def test_feed_allowed_table_covers_every_state() -> None:
    assert set(FEED_ALLOWED) == set(CallState)
    assert FEED_ALLOWED[CallState.ERROR] == frozenset()
