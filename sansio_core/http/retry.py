"""Whether and when to try a request again: a pure function of the attempt's outcome.

The flow asks ``decide()`` after every attempt and carries the answer out with
a ``Sleep`` action, so the whole policy is testable with a virtual clock and a
seeded ``random.Random``. The rules follow the reference docs (Request
Retries) where they speak and promptfoo's observed fetch layer where they are
silent (spec section 20.4); every place where promptwire chose differently is
listed in ``docs/compat-retries.md``.

Attempts are numbered from 0. ``policy.max_retries`` retries means at most
``max_retries + 1`` attempts; ``decide(attempt=i)`` is asked after attempt
``i`` and may retry only while ``i < max_retries``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

from ..errors import (
    RETRYABLE_KINDS,
    ConfigError,
    DeadlineExceeded,
    FailureKind,
    HttpStatusError,
    PromptwireError,
    RetriesExhausted,
    TransportError,
)
from ..js.jsvalue import json_depth
from ..limits import MAX_JSON_DEPTH, MAX_RETRY_AFTER_S, MAX_RETRY_BODY_SCAN, MAX_TRANSIENT_RETRIES
from ..timebase import Instant

DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_MS = 5000.0
# promptfoo adds up to one second of jitter to every wait (spec 20.4).
DEFAULT_JITTER_MS = 1000.0
# Docs, Transient Error Handling: "exponential backoff (1s, 2s, 4s)".
DEFAULT_TRANSIENT_BASE_MS = 1000.0

# Transient statuses and the words their reason phrase must contain (docs,
# Transient Error Handling). Compared on letters only, so nginx's 504
# "Gateway Time-out" matches "gateway timeout".
TRANSIENT_REASONS: Mapping[int, str] = {
    502: "badgateway",
    503: "serviceunavailable",
    504: "gatewaytimeout",
    524: "timeout",
}

# 429 body codes that mean "no amount of waiting helps" (spec 20.4).
BILLING_CODES = frozenset(
    {"billing_hard_limit_reached", "billing_not_active", "access_terminated", "credit_balance_exhausted"}
)
# Codes some APIs also use for per-minute quotas: fail fast only when the
# server gives no near reset hint.
AMBIGUOUS_QUOTA_CODES = frozenset({"insufficient_quota", "quota_exceeded"})
# A hint at most this far away turns an ambiguous quota code into a rate limit.
AMBIGUOUS_QUOTA_HINT_S = 3600.0

_TRUTHY = frozenset({"1", "true", "yes", "y", "on"})
_FALSY = frozenset({"", "0", "false", "no", "n", "off"})
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_NOT_LETTERS = re.compile(r"[^a-z]+")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts and how long between them.

    Attributes:
        max_retries: retries after the first attempt (``maxRetries``; 0 = one attempt).
        backoff_base_ms: base of the network-failure backoff ``2^i * (base + U*jitter)``
            (``PROMPTFOO_REQUEST_BACKOFF_MS``).
        jitter_ms: the ``U*jitter`` part of every wait, ``U`` uniform in [0, 1).
        transient_base_ms: first wait for a transient 502/503/504/524 (doubles each time).
        retry_5xx: retry every 5xx status (``PROMPTFOO_RETRY_5XX``).
        max_transient_retries: cap on retries of transient statuses.
        max_retry_after_s: longest server-requested wait honoured.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base_ms: float = DEFAULT_BACKOFF_MS
    jitter_ms: float = DEFAULT_JITTER_MS
    transient_base_ms: float = DEFAULT_TRANSIENT_BASE_MS
    retry_5xx: bool = False
    max_transient_retries: int = MAX_TRANSIENT_RETRIES
    max_retry_after_s: float = MAX_RETRY_AFTER_S

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            object.__setattr__(self, "max_retries", 0)

    @classmethod
    def from_config(cls, max_retries: int | None, env: Mapping[str, str]) -> RetryPolicy:
        """The policy for a target's ``maxRetries`` and the process environment.

        ``PROMPTFOO_REQUEST_BACKOFF_MS`` sets the backoff base; when it is below
        one second it also shrinks the jitter and the transient base to the same
        value, so a test suite that sets it small never waits a real second.

        Raises:
            ConfigError: an environment variable is not a number / boolean.
        """
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max(0, int(max_retries))
        base = DEFAULT_BACKOFF_MS
        raw = env.get("PROMPTFOO_REQUEST_BACKOFF_MS")
        if raw is not None and raw.strip() != "":
            try:
                base = float(raw)
            except ValueError:
                base = -1.0
            if not (0.0 <= base < float("inf")):
                raise ConfigError(
                    f"expected a non-negative number of ms, got {raw!r}", "PROMPTFOO_REQUEST_BACKOFF_MS"
                )
        flag = env.get("PROMPTFOO_RETRY_5XX", "").strip().lower()
        if flag not in _TRUTHY and flag not in _FALSY:
            raise ConfigError(f"expected true or false, got {flag!r}", "PROMPTFOO_RETRY_5XX")
        small = min(base, DEFAULT_JITTER_MS)
        return cls(
            max_retries=retries,
            backoff_base_ms=base,
            jitter_ms=small,
            transient_base_ms=min(base, DEFAULT_TRANSIENT_BASE_MS),
            retry_5xx=flag in _TRUTHY,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt ended with: a response head (+ body text) or a failure.

    Build with ``Outcome.response(...)`` or ``Outcome.failed(...)`` /
    ``Outcome.from_error(...)``. Header names are matched case-insensitively.
    """

    status: int | None = None
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body_text: str = ""
    failure: FailureKind | None = None
    detail: str = ""
    timeout: str | None = None
    response_started: bool = False
    reused: bool = False
    error: PromptwireError | None = None

    @classmethod
    def response(
        cls,
        status: int,
        reason: str = "",
        headers: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] = (),
        body_text: str = "",
    ) -> Outcome:
        """A complete response. Repeated headers keep the last value.

        Header names and values may be ``str`` or ``bytes`` (h11's raw items,
        decoded as Latin-1).
        """
        items = headers.items() if isinstance(headers, Mapping) else headers
        flat = {_text(k).lower(): _text(v) for k, v in items}
        return cls(
            status=status,
            reason=reason,
            headers=flat,
            body_text=body_text,
            response_started=True,
        )

    @classmethod
    def failed(
        cls,
        kind: FailureKind,
        detail: str = "",
        *,
        timeout: str | None = None,
        response_started: bool = False,
        reused: bool = False,
    ) -> Outcome:
        """A transport failure; ``timeout`` names the deadline that fired, if one did."""
        if timeout is not None:
            kind = FailureKind.TIMEOUT
        return cls(
            failure=kind, detail=detail, timeout=timeout, response_started=response_started, reused=reused
        )

    @classmethod
    def from_error(
        cls, err: PromptwireError, *, response_started: bool = False, reused: bool = False
    ) -> Outcome:
        """An attempt that raised one of our errors (keeps it for the final report)."""
        if isinstance(err, DeadlineExceeded):
            kind, which = FailureKind.TIMEOUT, err.which
        elif isinstance(err, TransportError):
            kind, which = err.kind, None
        else:
            kind, which = FailureKind.OTHER, None
        return cls(
            failure=kind,
            detail=err.message,
            timeout=which,
            response_started=response_started,
            reused=reused,
            error=err,
        )

    @property
    def is_response(self) -> bool:
        return self.status is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one attempt.

    ``retry`` with ``delay_s``: sleep, then try again. Otherwise the call ends:
    with ``final_error`` if set, else by handing the response on as usual
    (validateStatus and transforms decide). ``reason`` is one line for logs and
    for ``exhausted_error``. ``counts`` is False for a retry that should not use
    up an attempt (a pooled connection the server had already closed).
    """

    retry: bool
    delay_s: float
    reason: str
    final_error: PromptwireError | None = None
    counts: bool = True


def decide(
    policy: RetryPolicy,
    attempt: int,
    outcome: Outcome,
    now: Instant,
    rng: random.Random,
    *,
    history: Sequence[str] = (),
    deadline: float | None = None,
) -> Decision:
    """Decide what follows attempt number ``attempt`` (0-based).

    Args:
        history: the ``reason`` of every earlier attempt, for the final error.
        deadline: the call's absolute monotonic deadline; a retry that could
            not start before it is not made.
    """
    if outcome.is_response:
        decision = _decide_response(policy, attempt, outcome, now, rng, history)
    else:
        decision = _decide_failure(policy, attempt, outcome, rng, history)
    if decision.retry and deadline is not None and now.mono + decision.delay_s >= deadline:
        why = f"{decision.reason}; no retry: waiting {decision.delay_s:.3g}s would pass the call deadline"
        return Decision(False, 0.0, why, _exhausted([*history, why], policy, outcome, attempt))
    return decision


def never_retried(policy: RetryPolicy, status: int) -> bool:
    """``decide`` accepts a response with this status as it is (no retry, no
    error) whatever its reason or body: the attempt loop may skip the ``Outcome``."""
    return status != 429 and status not in TRANSIENT_REASONS and not (policy.retry_5xx and 500 <= status <= 599)


def exhausted_error(policy: RetryPolicy, attempts: Sequence[str]) -> RetriesExhausted:
    """The error after the last attempt: how many were made and why each failed.

    ``policy`` is accepted for symmetry with ``decide`` (the count comes from
    ``attempts``, which may be fewer than the policy allowed).
    """
    del policy
    retries = max(0, len(attempts) - 1)
    last = attempts[-1] if attempts else "no attempt was made"
    message = f"Request failed after {retries} {'retry' if retries == 1 else 'retries'}: {last}"
    if len(attempts) > 1:
        listed = "; ".join(f"#{i} {why}" for i, why in enumerate(attempts, start=1))
        message += f" ({len(attempts)} attempts: {listed})"
    return RetriesExhausted(message)


# -- responses -------------------------------------------------------------------------


def _decide_response(
    policy: RetryPolicy, attempt: int, out: Outcome, now: Instant, rng: random.Random, history: Sequence[str]
) -> Decision:
    status = out.status
    assert status is not None
    line = _status_line(out)
    left = attempt < policy.max_retries
    if status == 429:
        return _decide_429(policy, attempt, out, now, rng, history)
    if 500 <= status <= 599 and policy.retry_5xx:
        why = f"Internal Server Error: {line}"
        if not left:
            return Decision(False, 0.0, why, _exhausted([*history, why], policy, out, attempt))
        delay = _backoff_s(policy, attempt, rng)
        return Decision(True, delay, f"{why}; retrying in {delay:.3g}s")
    if _is_transient(status, out.reason):
        why = f"transient HTTP {line}"
        if attempt < min(policy.max_retries, policy.max_transient_retries):
            delay = policy.transient_base_ms * (2**attempt) / 1000.0
            return Decision(True, delay, f"{why}; retrying in {delay:.3g}s")
        # Out of transient retries: the response goes on as any other
        # (validateStatus decides), as it would have without a retry.
        return Decision(False, 0.0, f"{why}; no retries left")
    return Decision(False, 0.0, line)


def _is_transient(status: int, reason: str) -> bool:
    """Docs, Transient Error Handling, matched on letters only.

    An empty reason phrase counts as the standard one: HTTP/2 and some
    HTTP/1.1 servers send none, and nothing in an empty phrase marks the
    failure as permanent (a server that means "permanent" says so in its own words).
    """
    words = TRANSIENT_REASONS.get(status)
    if words is None:
        return False
    letters = _NOT_LETTERS.sub("", reason.lower())
    return letters == "" or words in letters


def _decide_429(
    policy: RetryPolicy, attempt: int, out: Outcome, now: Instant, rng: random.Random, history: Sequence[str]
) -> Decision:
    line = _status_line(out)
    code = _error_code(out.body_text)
    hint = retry_hint_s(out.headers, now)
    suffix = f" (code: {code})" if code else ""
    hint_text = f", retry after {hint:.3g}s" if hint is not None else ""
    why = f"HTTP {line}{suffix}{hint_text}"
    if code in BILLING_CODES or (
        code in AMBIGUOUS_QUOTA_CODES and (hint is None or hint > AMBIGUOUS_QUOTA_HINT_S)
    ):
        return Decision(False, 0.0, why, HttpStatusError(f"Quota exceeded: HTTP {line}{suffix}", 429))
    attempts = attempt + 1
    if attempt >= policy.max_retries:
        message = (
            f"Rate limit exceeded: HTTP {line}{suffix} after {attempts} attempt{'s' if attempts > 1 else ''}"
        )
        if hint is not None:
            message += f" [retry after {hint:.3g}s]"
        return Decision(False, 0.0, why, HttpStatusError(message, 429, retryable=True))
    if hint is not None and hint > policy.max_retry_after_s:
        message = (
            f"Rate limit exceeded: HTTP {line}{suffix}: the server asks to wait {hint:.0f}s, "
            f"more than the {policy.max_retry_after_s:.0f}s promptwire waits"
        )
        return Decision(False, 0.0, why, HttpStatusError(message, 429, retryable=True))
    if hint is None:
        # Docs: "up to 4 retries with exponential backoff"; promptfoo's code
        # waits a flat 60 s instead (spec 24.7). See docs/compat-retries.md.
        delay = _backoff_s(policy, attempt, rng)
    else:
        delay = hint + rng.random() * policy.jitter_ms / 1000.0
    return Decision(True, delay, f"{why}; retrying in {delay:.3g}s")


def retry_hint_s(headers: Mapping[str, str], now: Instant) -> float | None:
    """Seconds the server asks us to wait, from the first header that parses.

    Order: ``retry-after-ms``, ``Retry-After`` (seconds or HTTP date),
    ``x-ratelimit-reset-requests``/``-tokens`` (Go-style durations such as
    ``6m0s``; the longer of the two), ``X-RateLimit-Reset`` (epoch seconds, or a
    delta when the number is too small to be a date). Never negative.
    """
    h = {k.lower(): v.strip() for k, v in headers.items()}
    ms = _number(h.get("retry-after-ms"))
    if ms is not None:
        return max(0.0, ms / 1000.0)
    after = h.get("retry-after")
    if after:
        secs = _number(after)
        if secs is not None:
            return max(0.0, secs)
        when = _http_date(after)
        if when is not None:
            return max(0.0, when - now.wall)
    resets = [
        d
        for d in (
            _duration(h.get("x-ratelimit-reset-requests")),
            _duration(h.get("x-ratelimit-reset-tokens")),
        )
        if d is not None
    ]
    if resets:
        return max(resets)
    epoch = _number(h.get("x-ratelimit-reset"))
    if epoch is not None:
        # A value this small is a delta (some APIs), not a 1970s date.
        if epoch < 1e9:
            return max(0.0, epoch)
        return max(0.0, epoch - now.wall + 1.0)
    return None


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        n = float(value)
    except ValueError:
        return None
    return n if n == n and n not in (float("inf"), float("-inf")) else None


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _duration(value: str | None) -> float | None:
    """``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s`` -> seconds (OpenAI's reset headers)."""
    if not value:
        return None
    pos, total = 0, 0.0
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * scale[m.group(2)]
        pos = m.end()
    if pos == 0 or pos != len(value):
        return _number(value)  # a bare number is seconds
    return total


def _error_code(body: str) -> str | None:
    """``error.code`` / ``code`` / ``error.type`` / ``type`` of a JSON error body."""
    text = body[:MAX_RETRY_BODY_SCAN].strip()
    if not text.startswith("{") or json_depth(text) > MAX_JSON_DEPTH:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    inner = err if isinstance(err, dict) else {}
    for value in (inner.get("code"), data.get("code"), inner.get("type"), data.get("type")):
        if isinstance(value, str) and value:
            return value
    return None


def _status_line(out: Outcome) -> str:
    return f"{out.status} {out.reason}".rstrip()


# -- failures --------------------------------------------------------------------------


def _decide_failure(
    policy: RetryPolicy, attempt: int, out: Outcome, rng: random.Random, history: Sequence[str]
) -> Decision:
    why = _failure_reason(out)
    if not _retryable(out):
        return Decision(False, 0.0, why, _original(out))
    if out.reused and not out.response_started and out.failure in (FailureKind.EOF, FailureKind.RESET):
        # A pooled connection the server had already closed: the request
        # never reached it, so try again at once on a fresh connection.
        return Decision(True, 0.0, f"{why} (stale pooled connection); retrying now", counts=False)
    if attempt >= policy.max_retries:
        return Decision(False, 0.0, why, _exhausted([*history, why], policy, out, attempt))
    delay = _backoff_s(policy, attempt, rng)
    return Decision(True, delay, f"{why}; retrying in {delay:.3g}s")


def _retryable(out: Outcome) -> bool:
    err = out.error
    if isinstance(err, TransportError):
        return err.retryable
    if err is not None:
        return False
    if out.timeout == "total":
        return False  # the call's own deadline: nothing is left to retry in
    return out.failure in RETRYABLE_KINDS


_KIND_TEXT = {
    FailureKind.DNS: "DNS lookup failed",
    FailureKind.REFUSED: "connection refused",
    FailureKind.TLS: "TLS handshake failed",
    FailureKind.RESET: "connection reset",
    FailureKind.EOF: "connection closed by the server",
    FailureKind.TIMEOUT: "timed out",
    FailureKind.PROXY: "the proxy refused the connection",
    FailureKind.OTHER: "request failed",
}


def short_reason(out: Outcome) -> str:
    """One secret-free phrase for a retry log line: ``connection refused``, ``HTTP 503 ...``."""
    if out.is_response:
        return f"HTTP {_status_line(out)}"
    kind = out.failure or FailureKind.OTHER
    return f"{out.timeout} timeout" if out.timeout else _KIND_TEXT[kind]


def _failure_reason(out: Outcome) -> str:
    kind = out.failure or FailureKind.OTHER
    text = f"{out.timeout} timeout" if out.timeout else _KIND_TEXT[kind]
    if kind is FailureKind.EOF and out.response_started:
        text += " in the middle of the response"
    if out.detail and out.detail != text:
        text += f": {out.detail}"
    return text


def _original(out: Outcome) -> PromptwireError:
    if out.error is not None:
        return out.error
    if out.timeout is not None:
        return DeadlineExceeded(_failure_reason(out), out.timeout)
    return TransportError(_failure_reason(out), out.failure or FailureKind.OTHER)


def _exhausted(attempts: Sequence[str], policy: RetryPolicy, out: Outcome, attempt: int) -> RetriesExhausted:
    if len(attempts) < attempt + 1:
        # The flow kept no history: count from ``attempt``, name only the last reason.
        attempts = [*(["(not recorded)"] * (attempt + 1 - len(attempts))), *attempts]
    err = exhausted_error(policy, attempts)
    if not out.is_response:
        err.__cause__ = _original(out)
    return err


def _backoff_s(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """``2^i * (base + U*jitter)`` ms, promptfoo's network backoff (spec 20.4)."""
    return float(2**attempt) * (policy.backoff_base_ms + rng.random() * policy.jitter_ms) / 1000.0


__all__ = [
    "Decision",
    "Outcome",
    "RetryPolicy",
    "decide",
    "exhausted_error",
    "never_retried",
    "retry_hint_s",
    "short_reason",
]
