"""The interfaces a backend implements; the driver is written against these only.

Two families with the same shape: ``AsyncBackend``/``AsyncStream`` (asyncio,
trio) and ``SyncBackend``/``SyncStream`` (blocking sockets). The sync driver is
generated from the async one (``bindings/_unasync.py``), so the two must keep
the same method names.

Deadlines are absolute, on the backend's own monotonic clock (``now().mono``);
an operation that passes its deadline raises ``TimeoutError`` (the builtin).
"""

from __future__ import annotations

import ssl
from typing import Protocol

from sansio_core.timebase import Instant


class AsyncStream(Protocol):
    async def send_all(self, data: bytes, deadline: float | None) -> None: ...
    async def receive_some(self, max_bytes: int, deadline: float | None) -> bytes: ...
    async def aclose(self) -> None: ...
    def force_close(self) -> None:
        """Close at once without awaiting (cleanup after errors and cancellation)."""
        ...
    def is_readable(self) -> bool:
        """True when the peer has closed or sent unsolicited bytes: an idle
        pooled connection in that state must not be reused."""
        ...


class AsyncBackend(Protocol):
    name: str

    def now(self) -> Instant: ...
    async def connect(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                      server_name: str | None, deadline: float | None) -> AsyncStream: ...
    async def sleep_until(self, until: float) -> None: ...


class SyncStream(Protocol):
    def send_all(self, data: bytes, deadline: float | None) -> None: ...
    def receive_some(self, max_bytes: int, deadline: float | None) -> bytes: ...
    def close(self) -> None: ...
    def force_close(self) -> None: ...
    def is_readable(self) -> bool: ...


class SyncBackend(Protocol):
    name: str

    def now(self) -> Instant: ...
    def connect(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                server_name: str | None, deadline: float | None) -> SyncStream: ...
    def sleep_until(self, until: float) -> None: ...
