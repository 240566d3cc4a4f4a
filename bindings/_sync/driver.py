# GENERATED from bindings/_async/driver.py by bindings/_unasync.py. Do not edit.
"""The sync driver loop: ask the core for an action, perform it, feed back the event.

This file is the only hand-written driver. ``bindings/_sync/driver.py`` is
generated from it by ``bindings/_unasync.py`` (CI checks they agree), and the
asyncio and trio bindings differ only in the backend they pass in. HTTP and
WebSocket calls run through the same loop: the core decides the protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call
from sansio_core.errors import FailureKind
from sansio_core.http.message import USER_AGENT
from sansio_core.proxy import authority, connect_request, parse_connect_reply
from sansio_core.response import ProviderResponse

from ..backends.base import SyncBackend, SyncStream
from ..errors import TRANSPORT_ERRORS, failure_kind
from ..pool import Pool
from ..tls import context_for

log = logging.getLogger("promptwire")


def _pool_key(action: A.Open) -> tuple[Any, ...]:
    # Through a proxy, the connection belongs to origin *and* proxy (credentials included).
    # A WebSocket conversation's socket is also keyed by its tag (one key per conversation).
    return (action.scheme, action.host, action.port, action.tls.pool_key() if action.tls else None,
            action.proxy, action.keep_tag)


def say_goodbye(stream: SyncStream, farewell: bytes, backend: SyncBackend) -> None:
    """Close a pooled stream, first sending its farewell bytes (best effort, within a second)."""
    if farewell:
        try:
            stream.send_all(farewell, backend.now().mono + 1.0)
        except Exception:  # the peer may be gone; closing is all that is left
            pass
    stream.close()


class ProxyRefused(Exception):
    """The proxy would not open the tunnel; the message names the proxy, never its credentials."""


def _connect(action: A.Open, backend: SyncBackend, ssl_context: Any, server_name: str | None) -> SyncStream:
    """Connect to the origin, or through ``action.proxy`` (decision 0009): to the proxy,
    then for a tunnel ``CONNECT`` and TLS to the origin over the same stream."""
    route = action.proxy
    if route is None:
        return backend.connect(action.host, action.port, ssl_context, server_name, action.deadline)
    proxy = route.server
    stream = backend.connect(proxy.host, proxy.port, None, None, action.deadline)
    if not route.tunnel:
        return stream  # forwarding: the core writes the absolute-form request
    try:
        stream.send_all(connect_request(action.host, action.port, proxy, USER_AGENT), action.deadline)
        buffer = b""
        while True:
            try:
                reply = parse_connect_reply(buffer)
            except ValueError as exc:
                raise ProxyRefused(f"proxy {proxy.label}: {exc}") from None
            if reply is not None:
                break
            data = stream.receive_some(4096, action.deadline)
            if not data:
                raise ProxyRefused(f"proxy {proxy.label} closed the connection before answering CONNECT")
            buffer += data
        if not 200 <= reply.status < 300:
            hint = " (check the proxy's user name and password)" if reply.status == 407 else ""
            raise ProxyRefused(f"proxy {proxy.label} answered {reply.status} {reply.reason} to CONNECT "
                               f"{authority(action.host, action.port)}{hint}".replace("  ", " "))
        if reply.rest:
            raise ProxyRefused(f"proxy {proxy.label} sent bytes after its reply to CONNECT")
        if ssl_context is not None:
            stream = backend.start_tls(stream, ssl_context, server_name, action.deadline)
    except BaseException:
        stream.force_close()
        raise
    return stream


def _open(action: A.Open, backend: SyncBackend, pool: Pool[SyncStream],
                streams: dict[int, SyncStream], keys: dict[int, tuple[Any, ...]]) -> E.Event:
    for stale, farewell in pool.expired(backend.now().mono):
        say_goodbye(stale, farewell, backend)
    key = _pool_key(action)
    kept = action.keep_tag is not None
    # A slot under the per-origin limit first, in line behind earlier callers
    # (a conversation's one socket: one call at a time, in arrival order),
    # unless the call hands over the slot of a connection it is replacing.
    replaced = keys.pop(action.replaces, None) if action.replaces is not None else None
    if replaced is not None:
        dead = streams.pop(action.replaces, None)  # type: ignore[arg-type]
        if dead is not None:
            dead.force_close()
        if replaced != key:
            pool.release(replaced)
    waiter = None if replaced == key else pool.acquire(key, backend.new_waiter, 1 if kept else None)
    if waiter is not None:
        try:
            got = waiter.wait(action.deadline)
        except BaseException:
            pool.abandon(key, waiter)
            raise
        if not got:
            pool.abandon(key, waiter)
            return E.TimedOut(action.conn)
        pool.claimed(waiter)
    keys[action.conn] = key  # holds the slot until Release/Close
    if action.reuse_ok:
        while (idle := pool.take(key)) is not None:
            if kept:  # the core reads what arrived while it was idle (frames, a close, EOF)
                streams[action.conn] = idle
                return E.Opened(action.conn, reused=True, readable=idle.is_readable())
            if idle.is_readable():  # closed by the server while idle
                idle.force_close()
                continue
            streams[action.conn] = idle
            return E.Opened(action.conn, reused=True)
    ssl_context = context_for(action.tls) if action.tls is not None else None
    server_name = action.tls.server_name if action.tls is not None else None
    try:
        stream = _connect(action, backend, ssl_context, server_name)
    except BaseException as exc:
        keys.pop(action.conn)
        pool.release(key)
        if isinstance(exc, TimeoutError):
            return E.TimedOut(action.conn)
        if isinstance(exc, ProxyRefused):
            return E.OpenFailed(action.conn, FailureKind.PROXY, str(exc))
        if isinstance(exc, TRANSPORT_ERRORS):
            kind, detail = failure_kind(exc)
            if action.proxy is not None:
                detail = f"{detail} (through proxy {action.proxy.label})"
            return E.OpenFailed(action.conn, kind, detail)
        raise
    streams[action.conn] = stream
    return E.Opened(action.conn, reused=False)


def _perform(action: A.Action, backend: SyncBackend, pool: Pool[SyncStream],
                   streams: dict[int, SyncStream], keys: dict[int, tuple[Any, ...]]) -> E.Event | None:
    if isinstance(action, A.Read):
        try:
            data = streams[action.conn].receive_some(action.max_bytes, action.deadline)
        except TimeoutError:
            return E.TimedOut(action.conn)
        except TRANSPORT_ERRORS as exc:
            kind, detail = failure_kind(exc)
            return E.ReadFailed(action.conn, kind, detail)
        return E.Received(action.conn, data)
    if isinstance(action, A.Write):
        try:
            streams[action.conn].send_all(action.data, action.deadline)
        except TimeoutError:
            return E.TimedOut(action.conn)
        except TRANSPORT_ERRORS as exc:
            kind, detail = failure_kind(exc)
            return E.WriteFailed(action.conn, kind, detail)
        return E.Written(action.conn)
    if isinstance(action, A.Open):
        return _open(action, backend, pool, streams, keys)
    if isinstance(action, A.Release):
        stream = streams.pop(action.conn)
        key = keys.pop(action.conn)
        expires = None if action.idle_s is None else backend.now().mono + action.idle_s
        # Pooled before the slot passes on, so that the next caller finds it.
        pooled = action.reusable and pool.put(key, stream, expires=expires, farewell=action.farewell)
        pool.release(key)
        if not pooled:
            say_goodbye(stream, action.farewell, backend)
        return None
    if isinstance(action, A.Close):
        held = keys.pop(action.conn, None)
        if held is not None:
            pool.release(held)
        stream_or_none = streams.pop(action.conn, None)
        if stream_or_none is not None:
            stream_or_none.close()
        return None
    if isinstance(action, A.Sleep):
        if action.retry is not None:
            log.warning("%s", action.retry.message())
        backend.sleep_until(action.until)
        return E.Woke()
    raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover


def run_call(call: Call, backend: SyncBackend, pool: Pool[SyncStream]) -> Iterator[str | ProviderResponse]:
    """Drive ``call`` to its end: yields each streamed delta (str), then the response.

    A failed call raises its ``PromptwireError``. Connections still open when
    the loop ends abnormally (an exception, a cancellation, a consumer that
    stops iterating) are closed at once and never pooled.
    """
    streams: dict[int, SyncStream] = {}
    keys: dict[int, tuple[Any, ...]] = {}
    try:
        while True:
            action = call.next_action()
            if isinstance(action, A.Emit):
                yield action.delta
                continue
            if isinstance(action, A.Complete):
                yield action.response
                return
            if isinstance(action, A.Fail):
                raise action.error
            event = _perform(action, backend, pool, streams, keys)
            if event is not None:
                call.feed(event, backend.now())
    finally:
        for stream in streams.values():
            stream.force_close()
        for key in keys.values():
            pool.release(key)


def drive(call: Call, backend: SyncBackend, pool: Pool[SyncStream]) -> ProviderResponse:
    """Drive ``call`` to its end and return the response (deltas are dropped)."""
    result: Any = None
    for item in run_call(call, backend, pool):
        result = item
    assert isinstance(result, ProviderResponse)
    return result
