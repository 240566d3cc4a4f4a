"""Listening: the asyncio server, its loopback-only guard, and a thread wrapper for sync code."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import threading
from collections.abc import Callable
from types import TracebackType

from ._connection import HttpConnection
from ._model import RecordedRequest, ServerState

_STARTUP_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 10.0


class NotLoopbackError(ValueError):
    """The mock server only listens on loopback: it must never be reachable from a network."""


def loopback_host(host: str) -> str:
    """The address to bind for ``host``; refuses anything that is not a loopback address."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise NotLoopbackError(
            f"the mock server binds to loopback only; {host!r} is not a loopback address "
            "(use 127.0.0.1, ::1 or localhost)"
        )
    if not address.is_loopback:
        raise NotLoopbackError(
            f"the mock server binds to loopback only; refusing {host!r} (use 127.0.0.1, ::1 or localhost)"
        )
    return str(address)


async def start_server(host: str, port: int, state: ServerState, *, tls: ssl.SSLContext | None = None,
                       tasks: set[asyncio.Task[None]] | None = None) -> asyncio.Server:
    """Listen on a loopback address; each connection gets an ``HttpConnection``."""
    bind = loopback_host(host)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if tasks is not None and task is not None:
            tasks.add(task)
        try:
            await HttpConnection(reader, writer, state).run()
        except asyncio.CancelledError:
            # Shutdown cancels open connections; asyncio's stream callback would
            # otherwise log the cancellation as an error.
            pass
        finally:
            if tasks is not None and task is not None:
                tasks.discard(task)

    return await asyncio.start_server(on_connect, bind, port, ssl=tls, reuse_address=True)


async def serve(host: str, port: int, *, ready: Callable[[int], None] | None = None,
                tls: ssl.SSLContext | None = None) -> None:
    """Run the mock server forever (``promptwire mock``); ``ready`` gets the bound port."""
    server = await start_server(host, port, ServerState(), tls=tls)
    async with server:
        if ready is not None:
            ready(server.sockets[0].getsockname()[1])
        await server.serve_forever()


class MockServer:
    """The mock server on its own thread and event loop, for sync tests, the demo and benchmarks.

    Use as a context manager, or call ``start()`` / ``stop()``. ``requests``
    lists what the server received, oldest first (read it from any thread).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> None:
        self._bind = loopback_host(host)
        self._requested_port = port
        self._tls = tls
        self._state = ServerState()
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> MockServer:
        """Bind and start serving; returns once the port is listening."""
        if self._thread is not None:
            raise RuntimeError("MockServer already started")
        self._thread = threading.Thread(target=self._run, name="promptwire-mock", daemon=True)
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT_S):
            raise RuntimeError("mock server did not start in time")
        if self._error is not None:
            self._thread.join(_SHUTDOWN_TIMEOUT_S)
            self._thread = None
            raise self._error
        return self

    def stop(self) -> None:
        """Stop listening, end every open connection and join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(_SHUTDOWN_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()
        server = await start_server(self._bind, self._requested_port, self._state, tls=self._tls, tasks=tasks)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.wait(list(tasks), timeout=_SHUTDOWN_TIMEOUT_S)
            await server.wait_closed()

    # ------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MockServer is not started")
        return self._port

    @property
    def host(self) -> str:
        return self._bind

    def _authority(self) -> str:
        host = f"[{self._bind}]" if ":" in self._bind else self._bind
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` when serving TLS)."""
        return f"{'https' if self._tls else 'http'}://{self._authority()}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>`` (``wss://`` when serving TLS); endpoints live under /ws/."""
        return f"{'wss' if self._tls else 'ws'}://{self._authority()}"

    # ------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """The live list of received requests and WebSocket handshakes (oldest first)."""
        return self._state.requests

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of ``requests`` taken under the lock."""
        return self._state.snapshot()

    def clear(self) -> None:
        """Forget the recorded requests (script counters are kept: use a fresh ``?id=``)."""
        self._state.clear()
