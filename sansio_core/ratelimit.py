"""Per-target request-rate limits: ``maxRequestsPerSecond`` / ``maxRequestsPerMinute``.

A promptwire extension (user-asks H.19): promptfoo's HTTP and WebSocket
providers have no rate cap. Each limit is a token bucket; its decisions are
pure (the time is an argument, never read here). The buckets live on the
target, so every concurrent call of that target shares them, in whatever
binding drives the calls: before each HTTP attempt (retries included) and
before each WebSocket connection, the flow reserves a token and yields
``Sleep`` until the reserved time (``wait_for_token``).

Reservations queue: a call that finds no token takes the next one that will
exist and sleeps until then, so calls proceed in the order they asked and
no call polls. The buckets hold one token (``burst = 1``): requests are spaced
evenly, ``1/rate`` apart, and any window of ``w`` seconds sees at most
``w * rate + 1`` requests, so a target's own limiter is not tripped by a
burst at the start. Waiting for a token is not part of the request's
timeout: an attempt's deadlines start when it has its token.

A target shared by threads (the sync ``Target``) must guard the buckets: the
binding hands in a lock with ``RateLimiter.use_lock``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from . import actions as A
from . import events as E
from .call import CallContext, expect

# Floating-point slack: a bucket refilled to 0.9999999999 tokens holds one.
_EPSILON = 1e-9


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` tokens per second.

    ``tokens`` may go below zero: each reservation takes a token that will
    only exist later (``available_at`` says when the next one does).
    """

    __slots__ = ("_stamp", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: float = 1.0) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._stamp: float | None = None  # when ``_tokens`` was exact; None: full, never used

    def level(self, at: float) -> float:
        """Tokens in the bucket at time ``at`` (not before the last reservation)."""
        if self._stamp is None:
            return self.capacity
        return min(self.capacity, self._tokens + max(0.0, at - self._stamp) * self.rate)

    def available_at(self, now: float) -> float:
        """The earliest time, not before ``now``, at which a token can be taken."""
        start = now if self._stamp is None else max(now, self._stamp)
        level = self.level(start)
        if level >= 1 - _EPSILON:
            return start
        return start + (1 - level) / self.rate

    def take(self, at: float) -> None:
        """Take one token at ``at`` (which must be ``available_at`` or later)."""
        self._tokens = self.level(at) - 1
        self._stamp = at if self._stamp is None else max(self._stamp, at)


class RateLimiter:
    """The buckets of one target; ``reserve(now)`` returns when the caller may send."""

    __slots__ = ("_buckets", "_lock", "per_minute", "per_second")

    def __init__(self, per_second: float | None = None, per_minute: float | None = None) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self._buckets: list[TokenBucket] = []
        if per_second is not None:
            self._buckets.append(TokenBucket(per_second))
        if per_minute is not None:
            self._buckets.append(TokenBucket(per_minute / 60.0))
        self._lock: AbstractContextManager[Any] = nullcontext()

    @classmethod
    def from_config(cls, config: Any) -> RateLimiter | None:
        """The limiter a config asks for (``maxRequestsPerSecond`` / ``...PerMinute``), or None."""
        if isinstance(config, Mapping):
            per_second, per_minute = config.get("maxRequestsPerSecond"), config.get("maxRequestsPerMinute")
        else:
            per_second = getattr(config, "maxRequestsPerSecond", None)
            per_minute = getattr(config, "maxRequestsPerMinute", None)
        if per_second is None and per_minute is None:
            return None
        return cls(None if per_second is None else float(per_second),
                   None if per_minute is None else float(per_minute))

    def split(self, parts: int) -> None:
        """Keep ``1/parts`` of each rate: the share of one of ``parts`` processes
        (``eval --workers`` / ``bench --workers``) that together honour the limit."""
        parts = max(1, parts)
        self._buckets = [TokenBucket(b.rate / parts, b.capacity) for b in self._buckets]

    def use_lock(self, lock: AbstractContextManager[Any]) -> None:
        """Guard reservations with ``lock`` (a binding whose calls run on many threads)."""
        self._lock = lock

    def reserve(self, now: float) -> float:
        """Take a token from every bucket at the earliest time all have one; returns that time.

        The result is ``now`` when the call may go at once. Both buckets are
        charged at the same instant, so neither limit is ever exceeded.
        """
        with self._lock:
            at = max((b.available_at(now) for b in self._buckets), default=now)
            for bucket in self._buckets:
                bucket.take(at)
            return at

    def describe(self) -> str:
        parts = []
        if self.per_second is not None:
            parts.append(f"{self.per_second:g}/s")
        if self.per_minute is not None:
            parts.append(f"{self.per_minute:g}/min")
        return ", ".join(parts)


def wait_for_token(limiter: RateLimiter | None, ctx: CallContext) -> Generator[A.Action, E.Event | None, None]:
    """Sub-flow: reserve a token and ``Sleep`` until it is ours (nothing without a limiter)."""
    if limiter is None:
        return
    at = limiter.reserve(ctx.now.mono)
    if at > ctx.now.mono:
        expect((yield A.Sleep(at)), E.Woke)


__all__ = ["RateLimiter", "TokenBucket", "wait_for_token"]
