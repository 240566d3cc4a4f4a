"""Retry decisions: what a user sees (whether a request is repeated, how long we
wait, the final error text) for every outcome the docs and the spec name."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from sansio_core.errors import (
    ConfigError,
    DeadlineExceeded,
    FailureKind,
    HttpStatusError,
    LimitExceeded,
    RemoteProtocolError,
    RetriesExhausted,
    TransportError,
)
from sansio_core.http.retry import (
    Decision,
    Outcome,
    RetryPolicy,
    decide,
    exhausted_error,
    never_retried,
    retry_hint_s,
)
from sansio_core.timebase import Instant

NOW = Instant(mono=100.0, wall=1_700_000_000.0)
POLICY = RetryPolicy()


def rng() -> random.Random:
    return random.Random(7)


def run(
    outcomes: list[Outcome], policy: RetryPolicy = POLICY, now: Instant = NOW
) -> tuple[list[Decision], float]:
    """Drive decisions as a flow would, on a virtual clock; returns decisions and total wait."""
    r = rng()
    history: list[str] = []
    decisions: list[Decision] = []
    waited = 0.0
    attempt = 0
    for out in outcomes:
        d = decide(policy, attempt, out, Instant(now.mono + waited, now.wall + waited), r, history=history)
        decisions.append(d)
        history.append(d.reason)
        if not d.retry:
            break
        waited += d.delay_s
        attempt += d.counts
    return decisions, waited


def resp(status: int, reason: str = "", headers: dict[str, str] | None = None, body: str = "") -> Outcome:
    return Outcome.response(status, reason, headers or {}, body)


OK = resp(200, "OK")


# -- configuration -------------------------------------------------------------------


def test_defaults_follow_the_docs() -> None:
    p = RetryPolicy.from_config(None, {})
    assert (p.max_retries, p.backoff_base_ms, p.jitter_ms, p.transient_base_ms, p.retry_5xx) == (
        4,
        5000.0,
        1000.0,
        1000.0,
        False,
    )


def test_max_retries_negative_is_zero() -> None:
    assert RetryPolicy.from_config(-3, {}).max_retries == 0
    assert RetryPolicy(max_retries=-1).max_retries == 0


def test_env_backoff_and_5xx() -> None:
    p = RetryPolicy.from_config(2, {"PROMPTFOO_REQUEST_BACKOFF_MS": "10", "PROMPTFOO_RETRY_5XX": "TRUE"})
    assert (p.max_retries, p.backoff_base_ms, p.jitter_ms, p.transient_base_ms, p.retry_5xx) == (
        2,
        10.0,
        10.0,
        10.0,
        True,
    )
    assert RetryPolicy.from_config(None, {"PROMPTFOO_RETRY_5XX": "0"}).retry_5xx is False


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"PROMPTFOO_REQUEST_BACKOFF_MS": "fast"}, "PROMPTFOO_REQUEST_BACKOFF_MS"),
        ({"PROMPTFOO_REQUEST_BACKOFF_MS": "-5"}, "PROMPTFOO_REQUEST_BACKOFF_MS"),
        ({"PROMPTFOO_REQUEST_BACKOFF_MS": "inf"}, "PROMPTFOO_REQUEST_BACKOFF_MS"),
        ({"PROMPTFOO_RETRY_5XX": "maybe"}, "PROMPTFOO_RETRY_5XX"),
    ],
)
def test_bad_env_is_a_config_error_naming_the_variable(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        RetryPolicy.from_config(None, env)
    assert exc.value.path == key
    assert key in str(exc.value)


# -- success and ordinary statuses ---------------------------------------------------


def test_success_is_not_retried() -> None:
    d = decide(POLICY, 0, OK, NOW, rng())
    assert (d.retry, d.final_error, d.reason) == (False, None, "200 OK")


def test_200_with_ratelimit_remaining_zero_is_a_success() -> None:
    # expectations/ratelimit_remaining_zero_on_200.yaml: docs beat observed behaviour.
    out = resp(200, "OK", {"X-RateLimit-Remaining": "0", "Retry-After": "0"})
    assert decide(POLICY, 0, out, NOW, rng()) == Decision(False, 0.0, "200 OK")


@pytest.mark.parametrize("status", [400, 401, 404, 500, 501])
def test_other_statuses_go_on_to_validate_status(status: int) -> None:
    d = decide(POLICY, 0, resp(status, "Whatever"), NOW, rng())
    assert not d.retry and d.final_error is None


# -- 429 -----------------------------------------------------------------------------


def test_429_retry_after_seconds_plus_jitter() -> None:
    (d, last), waited = run(
        [resp(429, "Too Many Requests", {"Retry-After": "1"}), OK], RetryPolicy(max_retries=1)
    )
    assert d.retry and 1.0 <= d.delay_s < 2.0
    assert d.reason.startswith("HTTP 429 Too Many Requests, retry after 1s; retrying in 1.")
    assert last.final_error is None and waited == d.delay_s


def test_429_retry_after_http_date_against_wall_clock() -> None:
    date = formatdate(NOW.wall + 30, usegmt=True)
    d = decide(POLICY, 0, resp(429, "Too Many Requests", {"retry-after": date}), NOW, rng())
    assert 30.0 <= d.delay_s < 31.0


def test_429_date_in_the_past_waits_only_jitter() -> None:
    date = formatdate(NOW.wall - 300, usegmt=True)
    d = decide(POLICY, 0, resp(429, "", {"Retry-After": date}), NOW, rng())
    assert 0.0 <= d.delay_s < 1.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"x-ratelimit-reset-requests": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "1m2.5s"}, 62.5),
        ({"x-ratelimit-reset-requests": "1h"}, 3600.0),
        ({"x-ratelimit-reset-requests": "2"}, 2.0),
        ({"X-RateLimit-Reset": str(int(NOW.wall) + 10)}, 11.0),
        ({"X-RateLimit-Reset": "30"}, 30.0),
        ({"X-RateLimit-Reset": str(int(NOW.wall) - 100)}, 0.0),
        ({"Retry-After": "-4"}, 0.0),
    ],
)
def test_retry_hints(headers: dict[str, str], seconds: float) -> None:
    assert retry_hint_s(headers, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Retry-After": "soon"},
        {"x-ratelimit-reset-requests": "1x"},
        {"Retry-After": "nan"},
        {"retry-after-ms": ""},
    ],
)
def test_unparseable_hints_are_ignored(headers: dict[str, str]) -> None:
    assert retry_hint_s(headers, NOW) is None


def test_429_without_hint_backs_off_exponentially() -> None:
    # Docs: "exponential backoff"; promptfoo waits a flat 60 s (see docs/compat-retries.md).
    p = RetryPolicy(backoff_base_ms=100, jitter_ms=0)
    limited = resp(429, "Too Many Requests", body="slow down")
    decisions, waited = run([limited] * 4 + [OK], p)
    assert [d.delay_s for d in decisions if d.retry] == [0.1, 0.2, 0.4, 0.8]
    assert waited == pytest.approx(1.5)


def test_429_with_no_retries_left_fails_with_the_reference_prefix() -> None:
    body = '{"error": {"message": "rate limited", "code": "rate_limit_exceeded"}}'
    d = decide(RetryPolicy(max_retries=0), 0, resp(429, "Too Many Requests", body=body), NOW, rng())
    assert not d.retry
    assert isinstance(d.final_error, HttpStatusError)
    assert d.final_error.status == 429 and d.final_error.retryable
    assert (
        str(d.final_error)
        == "Rate limit exceeded: HTTP 429 Too Many Requests (code: rate_limit_exceeded) after 1 attempt"
    )


def test_429_exhausted_after_every_attempt() -> None:
    limited = resp(429, "Too Many Requests", {"Retry-After": "0"}, "nope")
    decisions, _ = run([limited, limited], RetryPolicy(max_retries=1))
    assert [d.retry for d in decisions] == [True, False]
    assert (
        str(decisions[-1].final_error)
        == "Rate limit exceeded: HTTP 429 Too Many Requests after 2 attempts [retry after 0s]"
    )


@pytest.mark.parametrize(
    "code", ["insufficient_quota", "billing_hard_limit_reached", "credit_balance_exhausted"]
)
def test_hard_quota_fails_fast(code: str) -> None:
    body = f'{{"error": {{"code": "{code}", "message": "no money"}}}}'
    d = decide(RetryPolicy(max_retries=3), 0, resp(429, "Too Many Requests", body=body), NOW, rng())
    assert not d.retry
    assert isinstance(d.final_error, HttpStatusError) and not d.final_error.retryable
    assert str(d.final_error) == f"Quota exceeded: HTTP 429 Too Many Requests (code: {code})"


def test_quota_code_in_type_field() -> None:
    d = decide(POLICY, 0, resp(429, "", body='{"type": "access_terminated"}'), NOW, rng())
    assert str(d.final_error) == "Quota exceeded: HTTP 429 (code: access_terminated)"


def test_ambiguous_quota_with_near_reset_is_a_rate_limit() -> None:
    body = '{"error": {"code": "quota_exceeded"}}'
    d = decide(POLICY, 0, resp(429, "Too Many Requests", {"Retry-After": "20"}, body), NOW, rng())
    assert d.retry and 20.0 <= d.delay_s < 21.0
    billing = '{"error": {"code": "billing_not_active"}}'
    d = decide(POLICY, 0, resp(429, "Too Many Requests", {"Retry-After": "20"}, billing), NOW, rng())
    assert not d.retry and "Quota exceeded" in str(d.final_error)


def test_429_asking_for_too_long_a_wait_fails_now() -> None:
    d = decide(POLICY, 0, resp(429, "Too Many Requests", {"Retry-After": "86400"}), NOW, rng())
    assert not d.retry
    assert str(d.final_error).startswith(
        "Rate limit exceeded: HTTP 429 Too Many Requests: the server asks to wait 86400s"
    )


@pytest.mark.parametrize("body", ["not json", "[1,2]", '{"error": "text"}', "{broken", '{"code": 5}'])
def test_429_bodies_without_a_code(body: str) -> None:
    d = decide(POLICY, 0, resp(429, "Too Many Requests", {"Retry-After": "0"}, body), NOW, rng())
    assert d.retry


# -- 5xx -------------------------------------------------------------------------------


def test_503_service_unavailable_is_retried_then_succeeds() -> None:
    decisions, waited = run([resp(503, "Service Unavailable"), OK])
    assert [d.retry for d in decisions] == [True, False]
    assert waited == 1.0 and decisions[-1].final_error is None


def test_transient_waits_1_2_4_then_hands_the_response_on() -> None:
    decisions, _ = run([resp(502, "Bad Gateway")] * 5)
    assert [d.delay_s for d in decisions if d.retry] == [1.0, 2.0, 4.0]
    last = decisions[-1]
    assert not last.retry and last.final_error is None  # validateStatus decides
    assert last.reason == "transient HTTP 502 Bad Gateway; no retries left"


def test_transient_budget_also_capped_by_max_retries() -> None:
    decisions, _ = run([resp(504, "Gateway Timeout")] * 3, RetryPolicy(max_retries=1))
    assert [d.retry for d in decisions] == [True, False]


@pytest.mark.parametrize(
    ("status", "reason", "retried"),
    [
        (503, "Overloaded", False),
        (503, "SERVICE UNAVAILABLE", True),
        (503, "", True),  # empty reason: documented decision, see docs/retries.md
        (504, "Gateway Time-out", True),  # nginx's spelling
        (524, "A Timeout Occurred", True),
        (524, "Origin Down", False),
        (502, "Bad Gateway (upstream)", True),
        (500, "Internal Server Error", False),
        (501, "", False),
    ],
)
def test_transient_reason_phrase(status: int, reason: str, retried: bool) -> None:
    assert decide(POLICY, 0, resp(status, reason), NOW, rng()).retry is retried


def test_retry_5xx_env_retries_every_5xx_with_network_backoff() -> None:
    p = RetryPolicy.from_config(2, {"PROMPTFOO_RETRY_5XX": "true", "PROMPTFOO_REQUEST_BACKOFF_MS": "10"})
    decisions, waited = run([resp(503, "Overloaded", body="busy"), OK], p)
    assert [d.retry for d in decisions] == [True, False]
    assert 0.01 <= waited < 0.02


def test_retry_5xx_exhausted_message() -> None:
    p = RetryPolicy(max_retries=0, retry_5xx=True)
    d = decide(p, 0, resp(502, "Bad Gateway", body="err"), NOW, rng())
    assert isinstance(d.final_error, RetriesExhausted)
    assert str(d.final_error) == "Request failed after 0 retries: Internal Server Error: 502 Bad Gateway"


# -- network failures ----------------------------------------------------------------


def test_network_backoff_formula_is_seeded() -> None:
    p = RetryPolicy(backoff_base_ms=5000)
    out = Outcome.failed(FailureKind.REFUSED, "connect ECONNREFUSED")
    r1, r2 = random.Random(3), random.Random(3)
    delays = [decide(p, i, out, NOW, r1).delay_s for i in range(4)]
    for i, delay in enumerate(delays):
        u = r2.random()
        assert delay == pytest.approx((2**i) * (5000 + u * 1000) / 1000)
    # With the defaults a persistent failure costs about 75-80 s of backoff (spec 20.4).
    assert 75.0 <= sum(delays) < 90.0


@pytest.mark.parametrize(
    "out",
    [
        Outcome.failed(FailureKind.REFUSED, "ECONNREFUSED"),
        Outcome.failed(FailureKind.RESET, "ECONNRESET"),
        Outcome.failed(FailureKind.EOF, "other side closed"),
        Outcome.failed(FailureKind.EOF, "closed mid-body", response_started=True),
        Outcome.failed(FailureKind.OTHER, "", timeout="first_byte"),
        Outcome.from_error(DeadlineExceeded("idle timeout after 5 s", "idle")),
        Outcome.from_error(TransportError("reset", FailureKind.RESET)),
    ],
)
def test_network_failures_are_retried(out: Outcome) -> None:
    d = decide(POLICY, 0, out, NOW, rng())
    assert d.retry and 5.0 <= d.delay_s < 6.0 and d.counts


@pytest.mark.parametrize(
    ("out", "error_type"),
    [
        (Outcome.failed(FailureKind.DNS, "getaddrinfo ENOTFOUND api.example"), TransportError),
        (Outcome.failed(FailureKind.TLS, "certificate verify failed"), TransportError),
        (Outcome.from_error(DeadlineExceeded("Request timed out after 300 ms", "total")), DeadlineExceeded),
        (Outcome.from_error(RemoteProtocolError("illegal status line")), RemoteProtocolError),
        (Outcome.from_error(LimitExceeded("response head too big")), LimitExceeded),
    ],
)
def test_failures_not_worth_retrying_keep_their_error(out: Outcome, error_type: type) -> None:
    d = decide(POLICY, 0, out, NOW, rng())
    assert not d.retry and type(d.final_error) is error_type


def test_timeout_error_names_which_deadline() -> None:
    d = decide(POLICY, 0, Outcome.failed(FailureKind.OTHER, timeout="total"), NOW, rng())
    assert isinstance(d.final_error, DeadlineExceeded) and d.final_error.which == "total"
    assert str(d.final_error) == "total timeout"


def test_max_retries_zero_makes_one_attempt() -> None:
    decisions, _ = run([Outcome.failed(FailureKind.EOF, "other side closed"), OK], RetryPolicy(max_retries=0))
    assert len(decisions) == 1
    err = decisions[0].final_error
    assert isinstance(err, RetriesExhausted)
    assert str(err) == "Request failed after 0 retries: connection closed by the server: other side closed"
    assert isinstance(err.__cause__, TransportError) and err.__cause__.kind is FailureKind.EOF


def test_final_error_lists_every_attempt() -> None:
    p = RetryPolicy(max_retries=2, backoff_base_ms=1, jitter_ms=0)
    outs = [
        Outcome.failed(FailureKind.REFUSED, "ECONNREFUSED"),
        resp(503, "Service Unavailable"),
        Outcome.failed(FailureKind.OTHER, "no bytes for 10 s", timeout="idle"),
    ]
    decisions, _ = run(outs, p)
    assert str(decisions[-1].final_error) == (
        "Request failed after 2 retries: idle timeout: no bytes for 10 s (3 attempts: "
        "#1 connection refused: ECONNREFUSED; retrying in 0.001s; "
        "#2 transient HTTP 503 Service Unavailable; retrying in 2s; "
        "#3 idle timeout: no bytes for 10 s)"
    )


def test_count_without_history() -> None:
    d = decide(RetryPolicy(max_retries=2), 2, Outcome.failed(FailureKind.RESET), NOW, rng())
    assert str(d.final_error).startswith("Request failed after 2 retries: connection reset (3 attempts:")


def test_stale_pooled_connection_retries_at_once_without_using_an_attempt() -> None:
    out = Outcome.failed(FailureKind.EOF, "closed", reused=True)
    d = decide(RetryPolicy(max_retries=0), 0, out, NOW, rng())
    assert (d.retry, d.delay_s, d.counts) == (True, 0.0, False)
    started = Outcome.failed(FailureKind.EOF, "closed", reused=True, response_started=True)
    assert decide(RetryPolicy(max_retries=0), 0, started, NOW, rng()).retry is False


def test_no_retry_past_the_call_deadline() -> None:
    out = Outcome.failed(FailureKind.REFUSED, "ECONNREFUSED")
    d = decide(POLICY, 0, out, NOW, rng(), deadline=NOW.mono + 3.0)
    assert not d.retry and isinstance(d.final_error, RetriesExhausted)
    assert "would pass the call deadline" in str(d.final_error)
    assert decide(POLICY, 0, out, NOW, rng(), deadline=NOW.mono + 60.0).retry


def test_exhausted_error_wording() -> None:
    assert str(exhausted_error(POLICY, ["a"])) == "Request failed after 0 retries: a"
    assert (
        str(exhausted_error(POLICY, ["a", "b"])) == "Request failed after 1 retry: b (2 attempts: #1 a; #2 b)"
    )
    assert str(exhausted_error(POLICY, [])) == "Request failed after 0 retries: no attempt was made"


def test_same_seed_same_decisions() -> None:
    outs = [Outcome.failed(FailureKind.RESET)] * 3 + [resp(429, "", {"Retry-After": "1"}), OK]
    assert run(outs)[0] == run(outs)[0]


def test_h11_style_bytes_headers() -> None:
    out = Outcome.response(429, "Too Many Requests", [(b"Retry-After", b"2")])
    d = decide(POLICY, 0, out, NOW, rng())
    assert d.retry and 2.0 <= d.delay_s < 3.0


@pytest.mark.parametrize("retry_5xx", [False, True])
def test_never_retried_statuses_are_accepted_by_decide(retry_5xx: bool) -> None:
    """The attempt loop skips ``decide`` for these: it must have accepted them as they are."""
    policy = RetryPolicy(retry_5xx=retry_5xx)
    now = Instant(0.0, 0.0)
    for status in range(100, 600):
        if not never_retried(policy, status):
            continue
        for reason in ("", "OK", "Service Unavailable", "Bad Gateway"):
            d = decide(policy, 0, Outcome.response(status, reason, {"retry-after": "1"}, '{"error":{"code":"x"}}'),
                       now, random.Random(0))
            assert not d.retry and d.final_error is None, (status, reason)
    assert not never_retried(policy, 429) and not never_retried(policy, 503)
    assert never_retried(policy, 500) is not retry_5xx
