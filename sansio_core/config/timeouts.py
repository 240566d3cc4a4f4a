"""Deadlines for one HTTP attempt: connect, first byte, idle and total.

promptfoo has one knob, ``REQUEST_TIMEOUT_MS`` (default 300000), applied to
each attempt as a whole; that is ``total`` here. The other three are
promptwire's (``PROMPTWIRE_CONNECT_TIMEOUT_MS``, ``PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS``,
``PROMPTWIRE_IDLE_TIMEOUT_MS``) and are off unless set, so a config written for
promptfoo times out exactly as it did there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..limits import DEFAULT_TIMEOUT_MS
from ..timebase import Instant, earliest


def _ms(value: object, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        ms = float(str(value))
    except ValueError:
        raise ConfigError(f"expected a number of milliseconds, got {value!r}", where) from None
    if ms <= 0:
        raise ConfigError(f"must be a positive number of milliseconds, got {value!r}", where)
    return ms


def request_timeout_ms(env: Mapping[str, str]) -> float:
    """``REQUEST_TIMEOUT_MS`` as promptfoo's ``getRequestTimeoutMs`` reads it, for HTTP and
    WebSocket alike: unset, empty, 0 or negative mean the default (300000); text that is
    not a number is a ``ConfigError`` naming the variable."""
    raw = env.get("REQUEST_TIMEOUT_MS", "")
    if raw is None or str(raw).strip() == "":
        return float(DEFAULT_TIMEOUT_MS)
    try:
        ms = float(str(raw))
    except ValueError:
        raise ConfigError(f"expected a number of milliseconds, got {raw!r}", "REQUEST_TIMEOUT_MS") from None
    if ms != ms:
        raise ConfigError(f"expected a number of milliseconds, got {raw!r}", "REQUEST_TIMEOUT_MS")
    return ms if ms > 0 else float(DEFAULT_TIMEOUT_MS)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Milliseconds; ``None`` disables a timeout."""

    total_ms: float | None = DEFAULT_TIMEOUT_MS
    connect_ms: float | None = None
    first_byte_ms: float | None = None
    idle_ms: float | None = None

    @classmethod
    def build(
        cls,
        env: Mapping[str, str],
        *,
        total_ms: object = None,
        connect_ms: object = None,
        first_byte_ms: object = None,
        idle_ms: object = None,
    ) -> Timeouts:
        """Config values win over ``REQUEST_TIMEOUT_MS``, which wins over the default."""
        total = _ms(total_ms, "timeoutMs")
        if total is None:
            total = request_timeout_ms(env)
        def pick(value: object, name: str) -> float | None:
            return _ms(value, name) if value is not None else _ms(env.get(name), name)

        return cls(
            total_ms=total,
            connect_ms=pick(connect_ms, "PROMPTWIRE_CONNECT_TIMEOUT_MS"),
            first_byte_ms=pick(first_byte_ms, "PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS"),
            idle_ms=pick(idle_ms, "PROMPTWIRE_IDLE_TIMEOUT_MS"),
        )

    def with_total(self, total_ms: float | None) -> Timeouts:
        return Timeouts(total_ms, self.connect_ms, self.first_byte_ms, self.idle_ms)


class AttemptClock:
    """Turns ``Timeouts`` into absolute deadlines for one attempt and names the one that fired."""

    __slots__ = ("_t", "connect", "first_byte", "total")

    def __init__(self, timeouts: Timeouts, start: Instant) -> None:
        self._t = timeouts
        self.total = None if timeouts.total_ms is None else start.after(timeouts.total_ms / 1000)
        self.connect = None if timeouts.connect_ms is None else start.after(timeouts.connect_ms / 1000)
        self.first_byte: float | None = None

    def open_deadline(self) -> float | None:
        return earliest(self.total, self.connect)

    def open_ms(self) -> float:
        """The configured ms of the connect deadline (the connect or the total timeout, the shorter)."""
        t = self._t
        return min(ms for ms in (t.connect_ms, t.total_ms, float("inf")) if ms is not None)

    def request_sent(self, now: Instant) -> None:
        if self._t.first_byte_ms is not None:
            self.first_byte = now.after(self._t.first_byte_ms / 1000)

    def read_deadline(self, now: Instant, started: bool) -> float | None:
        if not started:
            return earliest(self.total, self.first_byte)
        idle = None if self._t.idle_ms is None else now.after(self._t.idle_ms / 1000)
        return earliest(self.total, idle)

    def which(self, now: Instant, phase: str, started: bool) -> tuple[str, float]:
        """(name, configured ms) of the timeout that explains a ``TimedOut`` at ``now``."""
        t = self._t
        if self.total is not None and now.mono >= self.total - 1e-6:
            return "total", float(t.total_ms or 0)
        if phase == "connect" and t.connect_ms is not None:
            return "connect", t.connect_ms
        if phase == "read" and not started and t.first_byte_ms is not None:
            return "first_byte", t.first_byte_ms
        if phase == "read" and started and t.idle_ms is not None:
            return "idle", t.idle_ms
        return "total", float(t.total_ms or 0)


__all__ = ["AttemptClock", "Timeouts", "request_timeout_ms"]
