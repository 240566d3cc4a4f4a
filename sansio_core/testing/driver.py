"""A public test kit: drive a ``Call`` against an in-memory h11 server, no sockets.

``run_against`` answers every action of a call from a handler function that
sees each request as h11 parsed it (a real peer, not a mock of our code), and
advances a virtual clock, so tests (and users' own tests) can check the bytes
a target sends and the response it builds, deterministically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from .. import actions as A
from .. import events as E
from ..call import Call
from ..timebase import Instant


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
class Recording:
    """Every action the call took and every event it was fed, in order."""

    steps: list[tuple[A.Action, E.Event | None, Instant]] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)


class _Conn:
    def __init__(self) -> None:
        self.h = h11.Connection(h11.SERVER)
        self.outbox = bytearray()
        self.closed = False


def run_against(call: Call, handler: Handler, *, start: Instant | None = None,
                step_s: float = 0.001) -> tuple[A.Action, Recording]:
    """Drive ``call`` to its end against ``handler``; returns (terminal action, recording).

    The virtual clock advances ``step_s`` per event; ``Sleep`` jumps to its
    deadline; a ``Read`` with nothing to deliver times out at its deadline.
    """
    now = start or call.context.now
    conns: dict[int, _Conn] = {}
    rec = Recording()
    while True:
        action = call.next_action()
        if isinstance(action, A.TERMINAL):
            return action, rec
        event: E.Event | None = None
        if isinstance(action, A.Open):
            conns[action.conn] = _Conn()
            event = E.Opened(action.conn)
        elif isinstance(action, A.Write):
            c = conns[action.conn]
            c.h.receive_data(action.data)
            _serve(c, handler, rec)
            event = E.Written(action.conn)
        elif isinstance(action, A.Read):
            c = conns[action.conn]
            if c.outbox:
                data = bytes(c.outbox[: action.max_bytes])
                del c.outbox[: action.max_bytes]
                event = E.Received(action.conn, data)
            elif c.closed:
                event = E.Received(action.conn, b"")
            else:
                if action.deadline is not None:
                    now = Instant(max(now.mono, action.deadline), now.wall + max(0.0, action.deadline - now.mono))
                event = E.TimedOut(action.conn)
        elif isinstance(action, A.Sleep):
            now = Instant(action.until, now.wall + max(0.0, action.until - now.mono))
            event = E.Woke()
        now = Instant(now.mono + step_s, now.wall + step_s)
        rec.steps.append((action, event, now))
        if event is not None:
            call.feed(event, now)
        else:
            call.context.now = now


def _serve(c: _Conn, handler: Handler, rec: Recording) -> None:
    req: h11.Request | None = None
    body = bytearray()
    while True:
        ev = c.h.next_event()
        if isinstance(ev, h11.Request):
            req = ev
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, h11.EndOfMessage) or ev is h11.NEED_DATA or ev is h11.PAUSED:
            break
    if req is None or not isinstance(ev, h11.EndOfMessage):
        return
    seen = SeenRequest(req.method.decode(), req.target.decode(),
                       [(k.decode(), v.decode("latin-1")) for k, v in req.headers], bytes(body))
    rec.requests.append(seen)
    reply = handler(seen)
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


def replay(call: Call, recording: Recording) -> A.Action:
    """Feed a recorded event list to a fresh call; returns its terminal action.

    Raises ``AssertionError`` if the call asks for a different action than
    was recorded (the replay diverged).
    """
    for action, event, now in recording.steps:
        mine = call.next_action()
        if mine != action:
            raise AssertionError(f"replay diverged: recorded {action!r}, call asked for {mine!r}")
        if event is not None:
            call.feed(event, now)
        else:
            call.context.now = now
    return call.next_action()


__all__ = ["Recording", "SeenRequest", "ServerReply", "replay", "run_against"]
