"""The virtual-clock driver: drive a call against a peer, record it, replay it without one."""

from __future__ import annotations

import random

import pytest

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call, CallContext, Flow, expect
from sansio_core.config.provider import parse_provider_entry
from sansio_core.http.target import HttpTarget
from sansio_core.response import ProviderResponse
from sansio_core.sources import Sources
from sansio_core.testing.driver import Recording, VirtualClock, drive, replay
from sansio_core.testing.h11_peer import H11Peer, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(100.0, 1_700_000_000.0)


def test_virtual_clock_only_moves_forward_and_ticks_by_its_step() -> None:
    clock = VirtualClock(T0, step_s=0.5)
    clock.advance_to(101.0)
    assert clock.now == Instant(101.0, T0.wall + 1.0)
    clock.advance_to(100.5)
    assert clock.now.mono == 101.0
    clock.tick()
    assert clock.now == Instant(101.5, T0.wall + 1.5)
    still = VirtualClock(T0)
    still.tick()
    assert still.now == T0


def sleepy_call() -> Call:
    def flow(ctx: CallContext) -> Flow:
        yield A.Emit("a")
        expect((yield A.Sleep(ctx.now.mono + 2.0)), E.Woke)
        yield A.Emit("b")
        return ProviderResponse(output=ctx.now.mono)

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def test_drive_collects_deltas_and_jumps_the_clock_on_sleep() -> None:
    run = drive(sleepy_call(), H11Peer(lambda r: ServerReply()), VirtualClock(T0))
    assert run.deltas == ["a", "b"]
    assert isinstance(run.terminal, A.Complete) and run.terminal.response.output == T0.mono + 2.0
    assert run.elapsed == 2.0
    assert [type(a).__name__ for a in run.actions] == ["Emit", "Sleep", "Emit", "Complete"]


def test_drive_gives_up_on_a_call_that_never_ends() -> None:
    def forever(ctx: CallContext) -> Flow:
        while True:
            yield A.Emit("x")

    with pytest.raises(AssertionError, match="did not finish"):
        drive(Call(forever, CallContext(now=T0, rng=random.Random(0))), H11Peer(lambda r: ServerReply()),
              VirtualClock(T0), max_steps=10)


def http_target() -> HttpTarget:
    entry = parse_provider_entry({"id": "http://api.test/v1", "config": {
        "method": "POST", "body": {"q": "{{prompt}}"}, "transformResponse": "json.a", "maxRetries": 1}})
    return HttpTarget.compile(entry, Sources(env={"PROMPTFOO_REQUEST_BACKOFF_MS": "100"}))


def test_a_recorded_http_call_replays_to_the_same_result_without_a_peer() -> None:
    replies = iter([ServerReply(raw=b"", close=True), ServerReply(200, [("content-type", "application/json")],
                                                                   b'{"a": "yes"}')])
    target = http_target()
    end, rec = run_against(target.new_call("hi", {}, None, now=T0, seed=3), lambda r: next(replies))
    assert isinstance(end, A.Complete) and end.response.output == "yes"
    again = replay(target.new_call("hi", {}, None, now=T0, seed=3), rec)
    assert isinstance(again, A.Complete)
    assert again.response.output == "yes" and again.response.timing == end.response.timing


def test_replay_reports_where_a_call_diverged() -> None:
    target = http_target()
    _, rec = run_against(target.new_call("hi", {}, None, now=T0, seed=3),
                         lambda r: ServerReply(200, [], b'{"a": 1}'))
    with pytest.raises(AssertionError, match=r"^replay diverged: recorded Write\("):
        replay(target.new_call("a different prompt", {}, None, now=T0, seed=3), rec)


def test_replaying_an_empty_recording_returns_the_first_action() -> None:
    assert replay(sleepy_call(), Recording()) == A.Emit("a")
