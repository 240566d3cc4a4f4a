"""REQUEST_TIMEOUT_MS and the per-attempt deadlines, as HTTP and WebSocket targets see them."""

from __future__ import annotations

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.timeouts import AttemptClock, Timeouts, request_timeout_ms
from sansio_core.config.ws import load_ws_config
from sansio_core.errors import ConfigError, DeadlineExceeded
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

T0 = Instant(50.0, 1_700_000_000.0)


@pytest.mark.parametrize("raw", [None, "", "  ", "0", "-5", "-0.5"])
def test_unset_empty_zero_or_negative_request_timeout_is_the_default(raw: str | None) -> None:
    env = {} if raw is None else {"REQUEST_TIMEOUT_MS": raw}
    assert request_timeout_ms(env) == 300_000
    assert Timeouts.build(env).total_ms == 300_000
    assert load_ws_config({"messageTemplate": "x"}).timeout_ms(env) == 300_000


@pytest.mark.parametrize(("raw", "ms"), [("1500", 1500.0), ("2.5", 2.5), (" 42 ", 42.0)])
def test_request_timeout_is_read_the_same_for_http_and_websocket(raw: str, ms: float) -> None:
    env = {"REQUEST_TIMEOUT_MS": raw}
    assert request_timeout_ms(env) == ms
    assert Timeouts.build(env).total_ms == ms
    assert load_ws_config({"messageTemplate": "x"}).timeout_ms(env) == ms


@pytest.mark.parametrize("raw", ["abc", "12ms", "nan"])
def test_request_timeout_that_is_not_a_number_is_a_config_error_naming_the_variable(raw: str) -> None:
    for read in (request_timeout_ms, lambda env: Timeouts.build(env),
                 lambda env: load_ws_config({"messageTemplate": "x"}).timeout_ms(env)):
        with pytest.raises(ConfigError) as info:
            read({"REQUEST_TIMEOUT_MS": raw})
        assert info.value.path == "REQUEST_TIMEOUT_MS"
        assert str(info.value) == f"REQUEST_TIMEOUT_MS: expected a number of milliseconds, got {raw!r}"


def test_config_timeouts_win_over_the_environment() -> None:
    env = {"REQUEST_TIMEOUT_MS": "abc", "PROMPTWIRE_CONNECT_TIMEOUT_MS": "100"}
    t = Timeouts.build(env, total_ms=2000, connect_ms="250", first_byte_ms=300.0, idle_ms=40)
    assert t == Timeouts(total_ms=2000.0, connect_ms=250.0, first_byte_ms=300.0, idle_ms=40.0)
    assert load_ws_config({"messageTemplate": "x", "timeoutMs": 900}).timeout_ms(env) == 900.0


def test_promptwire_timeouts_come_from_the_environment_and_are_off_by_default() -> None:
    assert Timeouts.build({}) == Timeouts(300_000.0, None, None, None)
    env = {"PROMPTWIRE_CONNECT_TIMEOUT_MS": "100", "PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS": "200",
           "PROMPTWIRE_IDLE_TIMEOUT_MS": ""}
    assert Timeouts.build(env) == Timeouts(300_000.0, 100.0, 200.0, None)


@pytest.mark.parametrize(
    ("kwargs", "env", "path", "message"),
    [
        ({"total_ms": "soon"}, {}, "timeoutMs", "expected a number of milliseconds, got 'soon'"),
        ({"total_ms": -1}, {}, "timeoutMs", "must be a positive number of milliseconds, got -1"),
        ({"idle_ms": 0}, {}, "PROMPTWIRE_IDLE_TIMEOUT_MS", "must be a positive number of milliseconds, got 0"),
        ({}, {"PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS": "x"}, "PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS",
         "expected a number of milliseconds, got 'x'"),
    ],
)
def test_bad_timeout_values_name_their_source(kwargs: dict[str, object], env: dict[str, str], path: str,
                                              message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Timeouts.build(env, **kwargs)  # type: ignore[arg-type]
    assert info.value.path == path and info.value.message == f"{path}: {message}"


def test_with_total_keeps_the_other_deadlines() -> None:
    t = Timeouts(1000.0, 1.0, 2.0, 3.0).with_total(None)
    assert t == Timeouts(None, 1.0, 2.0, 3.0)


def test_attempt_clock_deadlines_and_which_one_fired() -> None:
    start = Instant(10.0, 0.0)
    clock = AttemptClock(Timeouts(5000.0, 1000.0, 2000.0, 500.0), start)
    assert clock.open_deadline() == 11.0
    assert clock.read_deadline(Instant(10.5, 0.0), started=False) == 15.0  # no first-byte timer yet
    clock.request_sent(Instant(10.5, 0.0))
    assert clock.read_deadline(Instant(10.5, 0.0), started=False) == 12.5
    assert clock.read_deadline(Instant(12.0, 0.0), started=True) == 12.5  # idle: now + 0.5
    assert clock.which(Instant(11.0, 0.0), "connect", False) == ("connect", 1000.0)
    assert clock.which(Instant(12.5, 0.0), "read", False) == ("first_byte", 2000.0)
    assert clock.which(Instant(13.0, 0.0), "read", True) == ("idle", 500.0)
    assert clock.which(Instant(15.0, 0.0), "read", True) == ("total", 5000.0)
    assert clock.which(Instant(12.0, 0.0), "write", True) == ("total", 5000.0)


def test_attempt_clock_without_timeouts_has_no_deadlines() -> None:
    clock = AttemptClock(Timeouts(None), Instant(0.0, 0.0))
    clock.request_sent(Instant(1.0, 0.0))
    assert clock.open_deadline() is None
    assert clock.read_deadline(Instant(1.0, 0.0), started=False) is None
    assert clock.read_deadline(Instant(1.0, 0.0), started=True) is None
    assert clock.which(Instant(9.0, 0.0), "read", True) == ("total", 0.0)


def test_http_call_times_out_after_request_timeout_ms() -> None:
    entry = parse_provider_entry({"id": "http://api.test/x", "config": {"maxRetries": 0}})
    target = HttpTarget.compile(entry, Sources(env={"REQUEST_TIMEOUT_MS": "1500"}))
    end, rec = run_against(target.new_call("hi", {}, None, now=T0, seed=1), lambda r: ServerReply(raw=b""),
                           step_s=0.0)
    assert isinstance(end, A.Fail)
    assert isinstance(end.error, DeadlineExceeded) and end.error.which == "total"
    assert not end.error.retryable
    assert rec.steps[-1][2].mono == pytest.approx(T0.mono + 1.5)


def test_websocket_call_times_out_after_the_same_request_timeout_ms() -> None:
    target = WsTarget.compile("ws://ws.test/", {"messageTemplate": "{{prompt}}"}, Sources(),
                              {"REQUEST_TIMEOUT_MS": "1500"})
    run = run_ws_call(target.new_call("hi", {}, None, now=T0, seed=1), ScriptedWsServer(on_message=[("hang",)]))
    assert isinstance(run.error, DeadlineExceeded)
    assert run.elapsed == pytest.approx(1.5)
