"""trio backend: ``trio.open_tcp_stream`` (+ ``trio.SSLStream``), deadlines as cancel scopes."""

from __future__ import annotations

import math
import ssl
import time

import trio

from sansio_core.timebase import Instant

from ..tls import check_negotiated


def _at(deadline: float | None) -> float:
    # The core's deadlines are on our monotonic clock; trio has its own.
    if deadline is None:
        return math.inf
    return trio.current_time() + (deadline - time.monotonic())


def _unwrap(exc: trio.BrokenResourceError | trio.ClosedResourceError) -> BaseException:
    """trio reports transport failures as BrokenResourceError; give the driver the OSError/SSLError."""
    cause = exc.__cause__
    if isinstance(cause, (OSError, ssl.SSLError)):
        return cause
    return ConnectionResetError(str(exc) or "connection broken")


class TrioStream:
    __slots__ = ("_sock", "_stream")

    def __init__(self, stream: trio.abc.Stream, sock: trio.socket.SocketType) -> None:
        self._stream = stream
        self._sock = sock

    async def send_all(self, data: bytes, deadline: float | None) -> None:
        with trio.move_on_at(_at(deadline)) as scope:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise _unwrap(exc) from None
        if scope.cancelled_caught:
            raise TimeoutError()

    async def receive_some(self, max_bytes: int, deadline: float | None) -> bytes:
        with trio.move_on_at(_at(deadline)) as scope:
            try:
                return bytes(await self._stream.receive_some(max_bytes))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise _unwrap(exc) from None
        assert scope.cancelled_caught
        raise TimeoutError()

    def is_readable(self) -> bool:
        return bool(self._sock.is_readable())

    async def aclose(self) -> None:
        self._sock.close()

    def force_close(self) -> None:
        self._sock.close()


class TrioWaiter:
    """Waits for a connection slot (see ``pool.Pool``)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, deadline: float | None) -> bool:
        with trio.move_on_at(_at(deadline)):
            await self._event.wait()
            return True
        return self._event.is_set()


class TrioBackend:
    name = "trio"

    def new_waiter(self) -> TrioWaiter:
        return TrioWaiter()

    def now(self) -> Instant:
        return Instant(time.monotonic(), time.time())

    async def connect(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                      server_name: str | None, deadline: float | None) -> TrioStream:
        with trio.move_on_at(_at(deadline)) as scope:
            tcp = await trio.open_tcp_stream(host, port)
            stream: trio.abc.Stream = tcp
            if ssl_context is not None:
                tls = trio.SSLStream(tcp, ssl_context, server_hostname=server_name,
                                     https_compatible=True)
                try:
                    await tls.do_handshake()
                    check_negotiated(ssl_context, tls.cipher())
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    tcp.socket.close()
                    raise _unwrap(exc) from None
                except BaseException:
                    tcp.socket.close()
                    raise
                stream = tls
            return TrioStream(stream, tcp.socket)
        assert scope.cancelled_caught
        raise TimeoutError()

    async def start_tls(self, stream: object, ssl_context: ssl.SSLContext, server_name: str | None,
                        deadline: float | None) -> TrioStream:
        assert isinstance(stream, TrioStream)  # a stream this backend made
        with trio.move_on_at(_at(deadline)) as scope:
            tls = trio.SSLStream(stream._stream, ssl_context, server_hostname=server_name,
                                 https_compatible=True)
            try:
                await tls.do_handshake()
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise _unwrap(exc) from None
            check_negotiated(ssl_context, tls.cipher())
            return TrioStream(tls, stream._sock)
        assert scope.cancelled_caught
        raise TimeoutError()

    async def sleep_until(self, until: float) -> None:
        await trio.sleep(max(0.0, until - time.monotonic()))

