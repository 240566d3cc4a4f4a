"""asyncio backend on a bare ``asyncio.Protocol``.

A protocol with one receive buffer costs far less per read than
``asyncio.StreamReader`` (no intermediate buffer limit logic, one future per
wait); the driver needs nothing more than "give me the next bytes before this
deadline".
"""

from __future__ import annotations

import asyncio
import ssl
import time

from sansio_core.timebase import Instant

from ..tls import check_negotiated

# Read flow control: past this many unread bytes the transport stops reading
# (the kernel's buffers and TCP push back on the server) until the driver has
# taken the buffer below a quarter of it. Without it a fast server fills this
# buffer with the whole body while the core is still parsing the start.
_READ_HIGH = 256 * 1024
_READ_LOW = _READ_HIGH // 4


class _StreamProtocol(asyncio.Protocol):
    __slots__ = ("_buffer", "_drain", "_eof", "_exc", "_read_paused", "_waiter", "_write_paused", "transport")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._drain: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _READ_HIGH and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self._eof = True
        self._exc = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)


class AsyncioStream:
    __slots__ = ("_loop", "_p")

    def __init__(self, proto: _StreamProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self._p = proto
        self._loop = loop

    async def send_all(self, data: bytes, deadline: float | None) -> None:
        p = self._p
        if p._eof or p.transport is None or p.transport.is_closing():
            raise ConnectionResetError("connection closed")
        p.transport.write(data)
        if p._write_paused:
            p._drain = self._loop.create_future()
            await self._wait(p._drain, deadline)

    async def receive_some(self, max_bytes: int, deadline: float | None) -> bytes:
        p = self._p
        if p._buffer:
            # Data already waiting (a flood): still honour the deadline and let
            # the loop run, or a server that never pauses holds the call (and
            # every other task) past its timeout.
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError()
            await asyncio.sleep(0)
        while not p._buffer:
            if p._eof:
                if p._exc is not None:
                    raise p._exc
                return b""
            p._waiter = self._loop.create_future()
            await self._wait(p._waiter, deadline)
        buf = p._buffer
        if len(buf) <= max_bytes:
            data = bytes(buf)
            buf.clear()
        else:
            with memoryview(buf) as view:  # one copy, not a slice and then bytes of it
                data = bytes(view[:max_bytes])
            del buf[:max_bytes]
        if p._read_paused and len(buf) <= _READ_LOW and p.transport is not None:
            p._read_paused = False
            p.transport.resume_reading()
        return data

    async def _wait(self, fut: asyncio.Future[None], deadline: float | None) -> None:
        if deadline is None:
            await fut
            return
        timer = self._loop.call_at(deadline, _expire, fut)
        try:
            await fut
        finally:
            timer.cancel()

    def is_readable(self) -> bool:
        return bool(self._p._buffer) or self._p._eof

    async def aclose(self) -> None:
        if self._p.transport is not None:
            self._p.transport.close()

    def force_close(self) -> None:
        # A transport whose loop has closed is already gone with it.
        if self._p.transport is not None and not self._loop.is_closed():
            self._p.transport.abort()


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class FutureWaiter:
    """Waits for a connection slot (see ``pool.Pool``)."""

    __slots__ = ("_fut",)

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(self) -> None:
        if not self._fut.done():
            self._fut.set_result(None)

    async def wait(self, deadline: float | None) -> bool:
        if self._fut.done():
            return True
        loop = asyncio.get_running_loop()
        timer = None if deadline is None else loop.call_at(deadline, _expire, self._fut)
        try:
            await self._fut
        except TimeoutError:
            return False
        finally:
            if timer is not None:
                timer.cancel()
        return True


class AsyncioBackend:
    name = "asyncio"

    def new_waiter(self) -> FutureWaiter:
        return FutureWaiter()

    def now(self) -> Instant:
        return Instant(time.monotonic(), time.time())

    async def connect(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                      server_name: str | None, deadline: float | None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        proto = _StreamProtocol()
        coro = loop.create_connection(lambda: proto, host, port, ssl=ssl_context,
                                      server_hostname=server_name if ssl_context else None)
        if deadline is None:
            await coro
        else:
            async with asyncio.timeout_at(deadline):
                await coro
        if ssl_context is not None and proto.transport is not None:
            try:
                check_negotiated(ssl_context, proto.transport.get_extra_info("cipher"))
            except ssl.SSLError:
                proto.transport.abort()
                raise
        return AsyncioStream(proto, loop)

    async def start_tls(self, stream: object, ssl_context: ssl.SSLContext, server_name: str | None,
                        deadline: float | None) -> AsyncioStream:
        assert isinstance(stream, AsyncioStream)  # a stream this backend made
        proto, loop = stream._p, stream._loop
        assert proto.transport is not None and not proto._buffer
        coro = loop.start_tls(proto.transport, proto, ssl_context, server_hostname=server_name)
        if deadline is None:
            transport = await coro
        else:
            async with asyncio.timeout_at(deadline):
                transport = await coro
        assert isinstance(transport, asyncio.Transport)
        proto.transport = transport
        try:
            check_negotiated(ssl_context, transport.get_extra_info("cipher"))
        except ssl.SSLError:
            transport.abort()
            raise
        return AsyncioStream(proto, loop)

    async def sleep_until(self, until: float) -> None:
        await asyncio.sleep(max(0.0, until - time.monotonic()))

