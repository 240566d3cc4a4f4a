"""An in-memory HTTP/1.1 server for tests: ``h11.Connection(SERVER)`` answering from a handler.

``run_against(call, handler)`` drives a call to its end through the virtual-clock
driver; the handler sees each request as h11 parsed it (a real peer, not a mock
of our code) and returns a ``ServerReply`` (or raw bytes, for server quirks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from .. import actions as A
from .. import events as E
from ..call import Call
from ..timebase import Instant
from .driver import Recording, VirtualClock, drive


@dataclass
class ServerReply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reason: bytes = b""
    # Bytes to send instead of a well-formed response (server quirks).
    raw: bytes | None = None
    close: bool = False


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


Handler = Callable[[SeenRequest], ServerReply]


@dataclass
class HttpRecording(Recording):
    """A recording plus every request the server saw, as h11 parsed it."""

    requests: list[SeenRequest] = field(default_factory=list)


class _Conn:
    def __init__(self) -> None:
        self.h = h11.Connection(h11.SERVER)
        self.outbox = bytearray()
        self.closed = False
        # The request being received: its head and body may arrive over several writes.
        self.request: h11.Request | None = None
        self.body = bytearray()


class H11Peer:
    """Every connection the call opens reaches this server; ``requests`` is what it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[SeenRequest] = []
        self._conns: dict[int, _Conn] = {}

    def open(self, action: A.Open, clock: VirtualClock) -> E.Event:
        self._conns[action.conn] = _Conn()
        return E.Opened(action.conn)

    def write(self, action: A.Write, clock: VirtualClock) -> E.Event:
        c = self._conns[action.conn]
        c.h.receive_data(action.data)
        self._serve(c)
        return E.Written(action.conn)

    def read(self, action: A.Read, clock: VirtualClock) -> E.Event:
        c = self._conns[action.conn]
        if c.outbox:
            data = bytes(c.outbox[: action.max_bytes])
            del c.outbox[: action.max_bytes]
            return E.Received(action.conn, data)
        if c.closed:
            return E.Received(action.conn, b"")
        if action.deadline is not None:
            clock.advance_to(action.deadline)
        return E.TimedOut(action.conn)

    def close(self, conn: int) -> None:
        pass

    def _serve(self, c: _Conn) -> None:
        while True:
            ev = c.h.next_event()
            if isinstance(ev, h11.Request):
                c.request = ev
            elif isinstance(ev, h11.Data):
                c.body += ev.data
            elif isinstance(ev, h11.EndOfMessage) or ev is h11.NEED_DATA or ev is h11.PAUSED:
                break
        if c.request is None or not isinstance(ev, h11.EndOfMessage):
            return
        req, body = c.request, c.body
        c.request, c.body = None, bytearray()
        seen = SeenRequest(req.method.decode(), req.target.decode(),
                           [(k.decode(), v.decode("latin-1")) for k, v in req.headers], bytes(body))
        self.requests.append(seen)
        reply = self.handler(seen)
        if reply.raw is not None:
            c.outbox += reply.raw
            c.closed = reply.close
            return
        headers = list(reply.headers)
        if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
            headers.append(("content-length", str(len(reply.body))))
        if reply.close:
            headers.append(("connection", "close"))
        c.outbox += c.h.send(h11.Response(status_code=reply.status, headers=headers, reason=reply.reason)) or b""
        c.outbox += c.h.send(h11.Data(data=reply.body)) or b""
        c.outbox += c.h.send(h11.EndOfMessage()) or b""
        if reply.close:
            c.closed = True


def run_against(call: Call, handler: Handler, *, start: Instant | None = None,
                step_s: float = 0.001) -> tuple[A.Action, HttpRecording]:
    """Drive ``call`` to its end against ``handler``; returns (terminal action, recording).

    The virtual clock advances ``step_s`` per event; ``Sleep`` jumps to its
    deadline; a ``Read`` with nothing to deliver times out at its deadline.
    """
    peer = H11Peer(handler)
    run = drive(call, peer, VirtualClock(start or call.context.now, step_s))
    return run.terminal, HttpRecording(run.recording.steps, peer.requests)


__all__ = ["H11Peer", "HttpRecording", "SeenRequest", "ServerReply", "run_against"]
