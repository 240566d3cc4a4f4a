"""Reads and writes of one WebSocket connection as sub-flows, and the errors they end in.

Every action carries the call's total deadline; reads after the handshake
also carry the idle deadline (``idleTimeoutMs``: the longest wait for the
next frame), whichever comes first. A close frame or a dropped connection
before the response is complete becomes ``WebSocketClosed`` with its code.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .. import actions as A
from .. import events as E
from ..call import CallContext, expect
from ..errors import DeadlineExceeded, PromptwireError, WebSocketClosed
from ..limits import WS_CLOSE_GRACE
from ..transport import failure_detail, transport_error
from .wire import ABNORMAL, Closed, Failed, Feed, WsMessage, WsWire

IoFlow = Generator[A.Action, "E.Event | None", Any]


class WsIo:
    """Reads and writes of one WebSocket connection, under the call's deadlines."""

    __slots__ = ("conn", "ctx", "deadline", "idle_ms", "read_chunk", "total_ms", "wire")

    def __init__(self, ctx: CallContext, conn: int, wire: WsWire, deadline: float, total_ms: float,
                 read_chunk: int, idle_ms: float | None = None) -> None:
        self.ctx = ctx
        self.conn = conn
        self.read_chunk = read_chunk
        self.wire = wire
        self.deadline = deadline
        self.total_ms = total_ms
        self.idle_ms = idle_ms

    def _timeout(self, phase: str) -> DeadlineExceeded:
        return DeadlineExceeded(f"WebSocket request timed out after {ms_text(self.total_ms)}ms ({phase})")

    def write(self, data: bytes, *, handshake: bool = False) -> Generator[A.Action, E.Event | None, None]:
        if not data:
            return
        event = yield A.Write(self.conn, data, self.deadline)
        event = expect(event, E.Written, E.WriteFailed, E.TimedOut)
        if isinstance(event, E.TimedOut):
            raise self._timeout("while sending")
        if isinstance(event, E.WriteFailed):
            raise dropped_error(event, handshake)

    def read(self, *, handshake: bool) -> Generator[A.Action, E.Event | None, Feed]:
        deadline, idle = self.deadline, False
        if not handshake and self.idle_ms is not None:
            idle_at = self.ctx.now.mono + self.idle_ms / 1000.0
            if idle_at < deadline:
                deadline, idle = idle_at, True
        event = yield A.Read(self.conn, self.read_chunk, deadline)
        event = expect(event, E.Received, E.ReadFailed, E.TimedOut)
        if isinstance(event, E.TimedOut):
            if idle:
                raise DeadlineExceeded(f"WebSocket idle timeout: no frame from the server for "
                                       f"{ms_text(self.idle_ms or 0)}ms (idleTimeoutMs)")
            raise self._timeout("waiting for the handshake" if handshake else "waiting for a message")
        if isinstance(event, E.ReadFailed):
            raise dropped_error(event, handshake)
        return self.wire.receive(event.data)

    def reply(self, feed: Feed) -> Generator[A.Action, E.Event | None, None]:
        """Pongs and close echoes the wire owes the server; failures end nothing by themselves."""
        if not feed.reply:
            return
        event = yield A.Write(self.conn, feed.reply, self.deadline)
        expect(event, E.Written, E.WriteFailed, E.TimedOut)


def next_message(io: WsIo, pending: list[Any]) -> Generator[A.Action, E.Event | None, WsMessage]:
    """The next complete message; a close or drop before it fails the call at once."""
    while True:
        while pending:
            outcome = pending.pop(0)
            if isinstance(outcome, WsMessage):
                return outcome
            if isinstance(outcome, Closed):
                raise closed_error(outcome)
            if isinstance(outcome, Failed):
                raise outcome.error
        feed = yield from io.read(handshake=False)
        yield from io.reply(feed)
        pending.extend(feed.outcomes)


def goodbye(ctx: CallContext, conn: int, wire: WsWire) -> Generator[A.Action, E.Event | None, None]:
    """Our close frame (no status: the server sees 1005, as with promptfoo), then the socket."""
    data = wire.close()
    if data:
        event = yield A.Write(conn, data, ctx.now.after(WS_CLOSE_GRACE))
        expect(event, E.Written, E.WriteFailed, E.TimedOut)
    yield A.Close(conn)


def closed_error(closed: Closed) -> WebSocketClosed:
    if not closed.clean:
        return WebSocketClosed(
            f"WebSocket connection dropped by the server before the response was complete "
            f"(code {ABNORMAL}: {closed.reason})",
            ABNORMAL,
            closed.reason,
        )
    reason = f", reason {closed.reason!r}" if closed.reason else ""
    return WebSocketClosed(
        f"WebSocket closed by the server before the response was complete (code {closed.code}{reason})",
        closed.code,
        closed.reason,
    )


def dropped_error(event: E.WriteFailed | E.ReadFailed, handshake: bool) -> PromptwireError:
    if handshake:
        return transport_error("WebSocket connection failed during the handshake", event)
    what = failure_detail(event.kind, event.detail)
    return WebSocketClosed(
        f"WebSocket connection dropped by the server before the response was complete (code {ABNORMAL}: {what})",
        ABNORMAL,
        what,
    )


def ms_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = ["WsIo", "closed_error", "dropped_error", "goodbye", "ms_text", "next_message"]
