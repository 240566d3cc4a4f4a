"""Idle keep-alive connections, per origin and TLS settings.

The pool only stores and hands out streams; it never performs I/O, so the
same class serves the sync, asyncio and trio drivers. A lock makes it safe to
share between threads in the sync binding (the async bindings never contend).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Generic, TypeVar

S = TypeVar("S")

# Idle sockets kept per origin: enough for high concurrency against one
# endpoint, bounded so a burst does not pin file descriptors forever.
MAX_IDLE_PER_ORIGIN = 256


class Pool(Generic[S]):
    def __init__(self, max_idle_per_origin: int = MAX_IDLE_PER_ORIGIN) -> None:
        self._idle: defaultdict[tuple[Any, ...], list[S]] = defaultdict(list)
        self._lock = threading.Lock()
        self._max = max_idle_per_origin

    def take(self, key: tuple[Any, ...]) -> S | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def put(self, key: tuple[Any, ...], stream: S) -> bool:
        """Store an idle stream; False when the origin is full (caller closes it)."""
        with self._lock:
            idle = self._idle[key]
            if len(idle) >= self._max:
                return False
            idle.append(stream)
            return True

    def drain(self) -> list[S]:
        """Remove and return every idle stream (for closing at shutdown)."""
        with self._lock:
            out = [s for streams in self._idle.values() for s in streams]
            self._idle.clear()
            return out
