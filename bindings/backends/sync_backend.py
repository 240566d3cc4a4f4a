"""Blocking-socket backend: one ``settimeout`` per operation from the absolute deadline."""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from sansio_core.timebase import Instant

from ..tls import check_negotiated


def _timeout(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError()
    return left


class SocketStream:
    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send_all(self, data: bytes, deadline: float | None) -> None:
        self._sock.settimeout(_timeout(deadline))
        self._sock.sendall(data)

    def receive_some(self, max_bytes: int, deadline: float | None) -> bytes:
        self._sock.settimeout(_timeout(deadline))
        return self._sock.recv(max_bytes)

    def is_readable(self) -> bool:
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True
        readable, _, _ = select.select([self._sock], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        self._sock.close()

    def force_close(self) -> None:
        self._sock.close()


class ThreadWaiter:
    """Waits for a connection slot (see ``pool.Pool``)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def wait(self, deadline: float | None) -> bool:
        return self._event.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))


class SyncBackend:
    name = "sync"

    def new_waiter(self) -> ThreadWaiter:
        return ThreadWaiter()

    def now(self) -> Instant:
        return Instant(time.monotonic(), time.time())

    def connect(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                server_name: str | None, deadline: float | None) -> SocketStream:
        sock = socket.create_connection((host, port), timeout=_timeout(deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ssl_context is not None:
                sock.settimeout(_timeout(deadline))
                sock = ssl_context.wrap_socket(sock, server_hostname=server_name)
                check_negotiated(ssl_context, sock.cipher())
        except BaseException:
            sock.close()
            raise
        return SocketStream(sock)

    def start_tls(self, stream: object, ssl_context: ssl.SSLContext, server_name: str | None,
                  deadline: float | None) -> SocketStream:
        assert isinstance(stream, SocketStream)  # a stream this backend made
        sock = stream._sock
        sock.settimeout(_timeout(deadline))
        tls = ssl_context.wrap_socket(sock, server_hostname=server_name)
        check_negotiated(ssl_context, tls.cipher())
        return SocketStream(tls)

    def sleep_until(self, until: float) -> None:
        time.sleep(max(0.0, until - time.monotonic()))

