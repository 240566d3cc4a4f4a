"""Connections per origin: a limit on open ones (FIFO waiters) and the idle keep-alive ones.

The pool only counts, queues and stores; it never performs I/O, so the same
class serves the sync, asyncio and trio drivers. A lock makes it safe to share
between threads in the sync binding (the async bindings never contend).

A *slot* is one connection a call holds open to an origin (pool key). A call
that finds every slot taken gets a ``Waiter`` (made by its backend) and waits
in line, first come first served, under its own connect deadline; a released
slot goes straight to the first waiter. Idle connections keep no slot, and at
most ``limit`` of them are kept per origin.

A WebSocket conversation (``Open.keep_tag``) is a key of its own with a limit
of one: its calls take turns on one socket, in arrival order. Its idle socket
may carry an expiry (``Release.idle_s``) and farewell bytes to send before it
is closed (``expired``, ``drain_entries``).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from sansio_core.errors import ConfigError

S = TypeVar("S")
K = tuple[Any, ...]

ENV_LIMIT = "PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN"
# Like httpx/aiohttp's 100: far below any ulimit, enough to keep one server busy.
DEFAULT_LIMIT = 100


class Waiter(Protocol):
    def wake(self) -> None:
        """Hand this waiter its slot (called under the pool's lock; must not block)."""
        ...


W = TypeVar("W", bound=Waiter)


def limit_from(env: Mapping[str, str] | None = None, configured: int | None = None) -> int:
    """The per-origin limit: the target's option, else ``$PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN``, else 100."""
    if configured is not None:
        value: object = configured
        where = "max_connections_per_origin"
    else:
        value = (os.environ if env is None else env).get(ENV_LIMIT, "")
        where = ENV_LIMIT
        if str(value).strip() == "":
            return DEFAULT_LIMIT
    try:
        n = int(str(value))
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"expected a whole number of connections >= 1, got {value!r}", where)
    return n


class Pool(Generic[S]):
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._idle: defaultdict[K, list[S]] = defaultdict(list)
        # Per idle stream (by id) that must not stay idle for ever: (key, expiry, farewell).
        self._expiry: dict[int, tuple[K, float | None, bytes]] = {}
        self._active: defaultdict[K, int] = defaultdict(int)
        self._waiters: defaultdict[K, deque[Waiter]] = defaultdict(deque)
        self._granted: set[int] = set()  # ids of waiters woken with a slot
        self._lock = threading.Lock()
        self.limit = limit

    # -- slots -----------------------------------------------------------------------------

    def acquire(self, key: K, make_waiter: Callable[[], W], limit: int | None = None) -> W | None:
        """``None``: the slot is yours. Otherwise wait on the returned waiter; if you stop
        waiting without being woken, call ``abandon``. ``limit`` overrides the pool's."""
        with self._lock:
            if self._active[key] < (limit or self.limit) and not self._waiters[key]:
                self._active[key] += 1
                return None
            waiter = make_waiter()
            self._waiters[key].append(waiter)
            return waiter

    def abandon(self, key: K, waiter: Waiter) -> None:
        """A waiter gave up (deadline, cancellation): leave the line, or pass on a slot
        that reached it meanwhile."""
        with self._lock:
            if id(waiter) in self._granted:
                self._granted.discard(id(waiter))
                self._release_locked(key)
                return
            try:
                self._waiters[key].remove(waiter)
            except ValueError:
                pass

    def claimed(self, waiter: Waiter) -> None:
        """The woken waiter took its slot."""
        with self._lock:
            self._granted.discard(id(waiter))

    def release(self, key: K) -> None:
        """A connection holding a slot was closed or went idle."""
        with self._lock:
            self._release_locked(key)

    def _release_locked(self, key: K) -> None:
        waiters = self._waiters.get(key)
        if waiters:
            waiter = waiters.popleft()
            self._granted.add(id(waiter))
            waiter.wake()  # the slot passes on: the count stays
            return
        self._active[key] -= 1
        if self._active[key] <= 0:
            del self._active[key]
            self._waiters.pop(key, None)

    def active(self, key: K) -> int:
        with self._lock:
            return self._active.get(key, 0)

    # -- idle connections ------------------------------------------------------------------

    def take(self, key: K) -> S | None:
        with self._lock:
            idle = self._idle.get(key)
            if not idle:
                return None
            stream = idle.pop()
            self._expiry.pop(id(stream), None)
            return stream

    def put(self, key: K, stream: S, *, expires: float | None = None, farewell: bytes = b"") -> bool:
        """Store an idle stream; False when the origin is full (caller closes it).

        ``expires`` (monotonic seconds): ``expired`` hands it back for closing
        after that; ``farewell``: bytes to send before closing it.
        """
        with self._lock:
            idle = self._idle[key]
            if len(idle) >= self.limit:
                return False
            idle.append(stream)
            if expires is not None or farewell:
                self._expiry[id(stream)] = (key, expires, farewell)
            return True

    def expired(self, now: float) -> list[tuple[S, bytes]]:
        """Remove and return the idle streams past their expiry, with their farewell bytes."""
        if not self._expiry:
            return []
        with self._lock:
            out: list[tuple[S, bytes]] = []
            for sid, (key, expires, farewell) in list(self._expiry.items()):
                if expires is None or expires > now:
                    continue
                idle = self._idle.get(key, [])
                for i, stream in enumerate(idle):
                    if id(stream) == sid:
                        del idle[i]
                        out.append((stream, farewell))
                        break
                del self._expiry[sid]
            return out

    def drain_entries(self) -> list[tuple[S, bytes]]:
        """Remove and return every idle stream with its farewell bytes (for closing at shutdown)."""
        with self._lock:
            out = [(s, self._expiry.get(id(s), ((), None, b""))[2])
                   for streams in self._idle.values() for s in streams]
            self._idle.clear()
            self._expiry.clear()
            return out

    def drain(self) -> list[S]:
        """Remove and return every idle stream (for closing at shutdown)."""
        return [stream for stream, _ in self.drain_entries()]
