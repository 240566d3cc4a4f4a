"""The error model: categories, messages, and ``retryable`` agreeing with the retry policy."""

from __future__ import annotations

import random

import pytest

from sansio_core import errors as err
from sansio_core.errors import (
    RETRYABLE_KINDS,
    DeadlineExceeded,
    FailureKind,
    PromptwireError,
    TransportError,
)
from sansio_core.http.retry import Outcome, RetryPolicy, decide
from sansio_core.timebase import Instant

NOW = Instant(10.0, 1_700_000_000.0)


@pytest.mark.parametrize(
    ("error", "category", "family"),
    [
        (err.ConfigError("x"), "config", err.LocalError),
        (err.TemplateError("x"), "template", err.LocalError),
        (err.TransformError("x"), "transform", err.LocalError),
        (err.JsError("x"), "transform", err.TransformError),
        (err.LocalProtocolError("x"), "local_protocol", err.LocalError),
        (err.Cancelled("x"), "cancelled", err.LocalError),
        (err.RemoteProtocolError("x"), "remote_protocol", err.RemoteError),
        (err.LimitExceeded("x"), "limit", err.RemoteError),
        (err.TransportError("x"), "transport", err.RemoteError),
        (err.DeadlineExceeded("x"), "timeout", err.TransportError),
        (err.HttpStatusError("x", 500), "status", err.RemoteError),
        (err.RetriesExhausted("x"), "retries", err.RemoteError),
        (err.WebSocketClosed("x"), "websocket", err.RemoteError),
        (err.TargetReportedError("x"), "result", err.RemoteError),
    ],
)
def test_every_error_has_a_category_and_a_family(error: PromptwireError, category: str, family: type) -> None:
    assert error.category == category
    assert isinstance(error, family) and isinstance(error, PromptwireError)
    assert str(error) == error.message == "x"


def test_local_and_remote_protocol_errors_are_told_apart() -> None:
    local, remote = err.LocalProtocolError("bad header"), err.RemoteProtocolError("bad status line")
    assert (local.category, remote.category) == ("local_protocol", "remote_protocol")
    assert not isinstance(local, err.RemoteError) and not isinstance(remote, err.LocalError)
    assert not local.retryable and not remote.retryable


def test_the_base_class_cannot_be_raised() -> None:
    with pytest.raises(TypeError, match="abstract"):
        PromptwireError("x")


def test_config_error_prefixes_the_path() -> None:
    e = err.ConfigError("expected a string", "config.url")
    assert (str(e), e.path) == ("config.url: expected a string", "config.url")
    assert str(err.ConfigError("no path")) == "no path"


def test_detail_attributes() -> None:
    js = err.JsError("too slow", kind="timeout")
    assert js.kind == "timeout" and err.JsError("x").kind == "error"
    closed = err.WebSocketClosed("closed", 1011, "server error")
    assert (closed.code, closed.reason) == (1011, "server error")
    assert err.WebSocketClosed("x").code is None
    t = TransportError("reset", FailureKind.RESET, response_started=True, reused=True)
    assert (t.kind, t.response_started, t.reused) == (FailureKind.RESET, True, True)
    status = err.HttpStatusError("429", 429, retryable=True)
    assert (status.status, status.retryable) == (429, True)
    assert not err.HttpStatusError("400", 400).retryable
    assert isinstance(err.UrlError("x"), ValueError) and isinstance(err.RawRequestError("x"), ValueError)


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (FailureKind.TLS, False),
        (FailureKind.DNS, False),
        (FailureKind.REFUSED, True),
        (FailureKind.RESET, True),
        (FailureKind.EOF, True),
        (FailureKind.TIMEOUT, True),
        (FailureKind.OTHER, True),
    ],
)
def test_transport_error_retryable_by_kind(kind: FailureKind, retryable: bool) -> None:
    assert TransportError("x", kind).retryable is retryable
    assert (kind in RETRYABLE_KINDS) is retryable


@pytest.mark.parametrize(("which", "retryable"),
                         [("total", False), ("connect", True), ("first_byte", True), ("idle", True)])
def test_deadline_exceeded_retryable_unless_the_total_deadline(which: str, retryable: bool) -> None:
    e = DeadlineExceeded(f"{which} timeout", which)
    assert e.retryable is retryable
    assert e.kind is FailureKind.TIMEOUT and e.which == which
    assert DeadlineExceeded("x").which == "total"


def _every_error() -> list[PromptwireError]:
    out: list[PromptwireError] = [TransportError(k.value, k) for k in FailureKind]
    out += [DeadlineExceeded(w, w) for w in ("total", "connect", "first_byte", "idle")]
    out += [err.RemoteProtocolError("x"), err.LimitExceeded("x"), err.WebSocketClosed("x", 1006),
            err.LocalProtocolError("x"), err.TransformError("x"), err.ConfigError("x")]
    return out


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: f"{type(e).__name__}-{e.message}")
@pytest.mark.parametrize("started", [False, True])
def test_retry_policy_retries_exactly_when_the_error_says_retryable(error: PromptwireError, started: bool) -> None:
    policy = RetryPolicy(max_retries=3, backoff_base_ms=100, jitter_ms=0)
    decision = decide(policy, 0, Outcome.from_error(error, response_started=started), NOW, random.Random(0))
    assert decision.retry is error.retryable
    if not decision.retry:
        assert decision.final_error is error  # the original error reaches the caller


@pytest.mark.parametrize("error", [e for e in _every_error() if e.retryable], ids=lambda e: e.message)
def test_retryable_errors_stop_when_attempts_run_out(error: PromptwireError) -> None:
    policy = RetryPolicy(max_retries=1, backoff_base_ms=100, jitter_ms=0)
    first = decide(policy, 0, Outcome.from_error(error), NOW, random.Random(0))
    last = decide(policy, 1, Outcome.from_error(error), NOW, random.Random(0), history=[first.reason])
    assert first.retry and first.delay_s == pytest.approx(0.1)
    assert not last.retry and isinstance(last.final_error, err.RetriesExhausted)
    assert str(last.final_error).startswith("Request failed after 1 retry: ")
    assert "(2 attempts: #1 " in str(last.final_error)
    assert last.final_error.__cause__ is error
