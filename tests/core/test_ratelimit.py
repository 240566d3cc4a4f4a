"""The pure token bucket behind ``maxRequestsPerSecond`` / ``maxRequestsPerMinute``, and its place in the flows."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError
from sansio_core.http.target import HttpTarget
from sansio_core.ratelimit import RateLimiter, TokenBucket
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

T0 = Instant(1000.0, 1_700_000_000.0)


# -- the bucket ----------------------------------------------------------------------------


def test_first_token_is_free_then_tokens_are_spaced_by_one_over_rate() -> None:
    bucket = TokenBucket(rate=20)
    times = []
    for _ in range(5):
        at = bucket.available_at(10.0)
        bucket.take(at)
        times.append(at)
    assert times == pytest.approx([10.0, 10.05, 10.10, 10.15, 10.20])


def test_idle_time_refills_but_never_beyond_capacity() -> None:
    bucket = TokenBucket(rate=2, capacity=3)
    for _ in range(3):
        bucket.take(bucket.available_at(0.0))
    assert bucket.available_at(0.0) == pytest.approx(0.5)
    assert bucket.level(100.0) == 3  # a long idle time refills to capacity only
    for _ in range(3):
        assert bucket.available_at(100.0) == 100.0
        bucket.take(100.0)
    assert bucket.available_at(100.0) == pytest.approx(100.5)


def test_reservations_queue_in_order_without_polling() -> None:
    limiter = RateLimiter(per_second=4)
    # Ten callers asking at the same instant get ten distinct, ordered slots.
    slots = [limiter.reserve(50.0) for _ in range(10)]
    assert slots == pytest.approx([50.0 + i * 0.25 for i in range(10)])
    # A caller arriving after the queue drained goes at once.
    assert limiter.reserve(60.0) == 60.0


def test_a_late_caller_waits_only_for_the_remaining_part_of_the_interval() -> None:
    limiter = RateLimiter(per_second=1)
    assert limiter.reserve(0.0) == 0.0
    assert limiter.reserve(0.4) == pytest.approx(1.0)


def test_both_limits_apply_and_the_stricter_one_wins() -> None:
    limiter = RateLimiter(per_second=10, per_minute=60)
    slots = [limiter.reserve(0.0) for _ in range(4)]
    assert slots == pytest.approx([0.0, 1.0, 2.0, 3.0])  # 60/min = one a second
    burst_limited = RateLimiter(per_second=2, per_minute=600)
    assert [burst_limited.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.5, 1.0])


@pytest.mark.parametrize("rate", [0.5, 3, 20, 1000])
def test_no_window_ever_sees_more_than_rate_times_width_plus_one(rate: float) -> None:
    limiter = RateLimiter(per_second=rate)
    arrivals = [i * 0.013 for i in range(200)]
    sent = sorted(limiter.reserve(t) for t in arrivals)
    width = 1.0
    for i, start in enumerate(sent):
        inside = sum(1 for s in sent[i:] if s < start + width - 1e-9)
        assert inside <= rate * width + 1


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, capacity=0.5)


def test_from_config_reads_both_spellings_of_a_config() -> None:
    assert RateLimiter.from_config({}) is None
    limiter = RateLimiter.from_config({"maxRequestsPerMinute": 30})
    assert limiter is not None and limiter.describe() == "30/min"
    limiter = RateLimiter.from_config({"maxRequestsPerSecond": 2.5, "maxRequestsPerMinute": 30})
    assert limiter is not None and limiter.describe() == "2.5/s, 30/min"


# -- configs ------------------------------------------------------------------------------


def http_target(config: dict[str, Any]) -> HttpTarget:
    return HttpTarget.compile(parse_provider_entry({"id": "http://api.test/x", "config": config}), Sources())


@pytest.mark.parametrize("key", ["maxRequestsPerSecond", "maxRequestsPerMinute"])
def test_rates_must_be_positive(key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        http_target({key: 0})
    with pytest.raises(ConfigError, match=key):
        WsTarget.compile("ws://h/x", {"messageTemplate": "x", key: -1}, Sources(), {})


def test_a_target_without_limits_has_no_limiter() -> None:
    assert http_target({}).rate_limiter is None
    assert WsTarget.compile("ws://h/x", {"messageTemplate": "x"}, Sources(), {}).rate_limiter is None


# -- the flows ----------------------------------------------------------------------------


def ok(_: SeenRequest) -> ServerReply:
    return ServerReply(200, [("Content-Type", "text/plain")], b"fine", reason=b"OK")


def test_http_calls_of_one_target_share_the_bucket_and_sleep_for_their_token() -> None:
    target = http_target({"maxRequestsPerSecond": 2})
    sleeps = []
    for _ in range(3):
        call = target.new_call("p", {}, None, now=T0, seed=1)
        terminal, rec = run_against(call, ok)
        assert isinstance(terminal, A.Complete)
        sleeps.append([a.until for a, _, _ in rec.steps if isinstance(a, A.Sleep)])
    assert sleeps == [[], [pytest.approx(1000.5)], [pytest.approx(1001.0)]]


def test_http_every_attempt_takes_a_token_and_deadlines_start_after_the_wait() -> None:
    target = http_target({"maxRequestsPerSecond": 1, "maxRetries": 1, "timeoutMs": 300})
    replies = [ServerReply(429, [("Retry-After", "0")], b"busy", reason=b"Too Many"), ServerReply(200, [], b"ok")]
    call = target.new_call("p", {}, None, now=T0, seed=1)
    terminal, rec = run_against(call, lambda _: replies.pop(0))
    assert isinstance(terminal, A.Complete), terminal
    actions = [a for a, _, _ in rec.steps]
    opens = [a for a in actions if isinstance(a, A.Open)]
    sleeps = [a.until for a in actions if isinstance(a, A.Sleep)]
    assert sleeps[-1] == pytest.approx(1001.0)  # the retry waited for the next token
    # The second attempt's deadline (300 ms) counts from its token, not from the call's start.
    assert opens[-1].deadline is not None and opens[-1].deadline > 1001.0


def test_ws_calls_wait_for_a_token_before_connecting() -> None:
    target = WsTarget.compile("ws://127.0.0.1:9/ws", {"messageTemplate": "{{prompt}}", "maxRequestsPerMinute": 30},
                              Sources(), {})
    firsts = []
    for _ in range(2):
        run = run_ws_call(target.new_call("p", {}, None, now=T0, seed=1), ScriptedWsServer(on_message=[("text", "pong")]))
        assert isinstance(run.terminal, A.Complete), run.terminal
        firsts.append(run.actions[0])
    assert isinstance(firsts[0], A.Open)
    assert firsts[1] == A.Sleep(pytest.approx(1002.0))  # type: ignore[arg-type]


def test_split_keeps_one_share_of_each_rate() -> None:
    limiter = RateLimiter(per_second=20, per_minute=600)
    limiter.split(4)
    assert [limiter.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.4, 0.8])
