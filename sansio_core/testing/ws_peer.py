"""A public test kit for WebSocket calls: an in-memory wsproto server and a virtual clock.

``run_ws_call`` drives a ``Call`` to its end against ``ScriptedWsServer``, a
real ``wsproto.WSConnection(SERVER)`` peer that follows a script: accept or
refuse the upgrade, then after the handshake (``on_open``) and after the
client's first message (``on_message``) send text, bytes, fragments, pings,
close frames, raw bytes, or drop the connection, with virtual delays. No
sockets and no real time: a silent server makes the clock jump to the
call's deadline. What the server saw (handshake, messages, close code) and
what the call did (actions, deltas, elapsed time) come back in a
``WsRun``, so tests check the bytes a target sent and the response it built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError as WsRemoteProtocolError

from .. import actions as A
from .. import events as E
from ..call import Call
from ..errors import FailureKind, PromptwireError
from ..response import ProviderResponse
from ..timebase import Instant
from .driver import VirtualClock, drive

# The wall clock the script runs at (an arbitrary fixed date, so runs repeat).
_WALL_EPOCH = 1_700_000_000.0

# Script steps. Each is a small tuple so scripts read like the spec's cases:
#   ("text", "hi")              a text message
#   ("bytes", b"...")           a binary message
#   ("fragments", [("text"|"bytes", part), ...])  one message in several frames
#   ("ping", b"payload")        a ping (the client must answer with a pong)
#   ("close", 1011, "reason")   a close frame
#   ("drop",)                   TCP ends without a close frame (EOF)
#   ("reset",)                  the connection is reset (ReadFailed)
#   ("raw", b"...")             bytes written as is (fuzzing, broken servers)
#   ("sleep", 0.05)             later steps happen this many seconds later
#   ("hang",)                   nothing more, ever
Step = tuple[Any, ...]


@dataclass
class ScriptedWsServer:
    """What the server does; filled in with what it saw while the call ran."""

    on_open: Sequence[Step] = ()
    on_message: Sequence[Step] = ()
    reject_status: int | None = None
    reject_body: bytes = b""
    subprotocol: str | None = None
    extra_accept_headers: Sequence[tuple[bytes, bytes]] = ()
    # Raw response to the upgrade request instead of wsproto's (broken servers).
    raw_handshake_response: bytes | None = None
    refuse_connect: FailureKind | None = None
    # Each connection is a new peer (retries reconnect): the first
    # ``len(reject_first)`` handshakes are refused with these statuses (and
    # ``reject_headers``, e.g. Retry-After), the first ``refuse_first`` opens fail.
    reject_first: Sequence[int] = ()
    reject_headers: Sequence[tuple[bytes, bytes]] = ()
    refuse_first: int = 0
    # -- observations --
    request: Request | None = None
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    client_messages: list[str | bytes] = field(default_factory=list)
    client_close_code: int | None = None
    client_close_reason: str | None = None
    pongs: list[bytes] = field(default_factory=list)
    protocol_error: str | None = None
    opens: int = 0
    handshakes: list[float] = field(default_factory=list)  # when each upgrade request arrived


@dataclass
class WsRun:
    """The outcome of ``run_ws_call``."""

    terminal: A.Action
    server: ScriptedWsServer
    actions: list[A.Action]
    deltas: list[str]
    elapsed: float
    closed_by_client: bool

    @property
    def response(self) -> ProviderResponse:
        assert isinstance(self.terminal, A.Complete), f"call failed: {self.terminal}"
        return self.terminal.response

    @property
    def error(self) -> PromptwireError:
        assert isinstance(self.terminal, A.Fail), f"call succeeded: {self.terminal}"
        return self.terminal.error


class _Peer:
    def __init__(self, script: ScriptedWsServer, now: float) -> None:
        self.script = script
        self.ws = WSConnection(ConnectionType.SERVER)
        self.queue: list[tuple[float, Any]] = []  # (due time, bytes | "drop" | "reset" | "hang")
        self.now = now
        self.message_seen = False
        self.dead = False

    def _schedule(self, steps: Sequence[Step]) -> None:
        due = max([self.now] + [t for t, _ in self.queue])
        for step in steps:
            kind = step[0]
            if kind == "sleep":
                due += float(step[1])
                continue
            if kind == "hang":
                self.queue.append((float("inf"), "hang"))
                continue
            if kind in ("drop", "reset"):
                self.queue.append((due, kind))
                continue
            self.queue.append((due, self._bytes_for(step)))

    def _bytes_for(self, step: Step) -> bytes:
        kind = step[0]
        if kind == "text":
            return self.ws.send(TextMessage(data=str(step[1])))
        if kind == "bytes":
            return self.ws.send(BytesMessage(data=bytes(step[1])))
        if kind == "fragments":
            parts = list(step[1])
            out = b""
            for i, (ptype, part) in enumerate(parts):
                last = i == len(parts) - 1
                if ptype == "text":
                    out += self.ws.send(TextMessage(data=str(part), message_finished=last))
                else:
                    out += self.ws.send(BytesMessage(data=bytes(part), message_finished=last))
            return out
        if kind == "ping":
            return self.ws.send(Ping(payload=bytes(step[1])))
        if kind == "close":
            reason = step[2] if len(step) > 2 else None
            return self.ws.send(CloseConnection(code=int(step[1]), reason=reason))
        if kind == "raw":
            return bytes(step[1])
        raise ValueError(f"unknown script step {step!r}")

    def receive(self, data: bytes) -> None:
        if self.dead:
            return
        try:
            self.ws.receive_data(data)
            events = list(self.ws.events())
        except WsRemoteProtocolError as exc:
            self.script.protocol_error = str(exc)
            return
        for event in events:
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, (TextMessage, BytesMessage)):
                self._message(event)
            elif isinstance(event, CloseConnection):
                if self.script.client_close_code is None:
                    self.script.client_close_code = int(event.code)
                    self.script.client_close_reason = event.reason
                if self.ws.state.name == "REMOTE_CLOSING":
                    self.queue.append((self.now, self.ws.send(event.response())))
            elif isinstance(event, Pong):
                self.script.pongs.append(bytes(event.payload))

    def _handshake(self, event: Request) -> None:
        s = self.script
        refused = len(s.handshakes)
        s.handshakes.append(self.now)
        s.request = event
        s.request_headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.extra_headers
        ]
        if s.raw_handshake_response is not None:
            self.queue.append((self.now, s.raw_handshake_response))
            return
        status = s.reject_first[refused] if refused < len(s.reject_first) else s.reject_status
        if status is not None:
            out = self.ws.send(
                RejectConnection(status_code=status, has_body=True,
                                 headers=[(b"content-type", b"text/plain"), *s.reject_headers])
            )
            out += self.ws.send(RejectData(data=s.reject_body, body_finished=True))
            self.queue.append((self.now, out))
            return
        self.queue.append((self.now, self.ws.send(
            AcceptConnection(subprotocol=s.subprotocol, extra_headers=list(s.extra_accept_headers))
        )))
        self._schedule(s.on_open)

    def _message(self, event: TextMessage | BytesMessage) -> None:
        if not hasattr(self, "_partial"):
            self._partial: list[Any] = []
        self._partial.append(event.data)
        if not event.message_finished:
            return
        if isinstance(event, TextMessage):
            whole: str | bytes = "".join(self._partial)
        else:
            whole = b"".join(bytes(p) for p in self._partial)
        self._partial = []
        self.script.client_messages.append(whole)
        if not self.message_seen:
            self.message_seen = True
            self._schedule(self.script.on_message)


class WsPeer:
    """The driver's view of a ``ScriptedWsServer``: one connection, scripted bytes."""

    def __init__(self, server: ScriptedWsServer, start: float, read_size: int | None) -> None:
        self.server = server
        self.peer = _Peer(server, start)
        self.peers: dict[int, _Peer] = {}
        self.read_size = read_size
        self.closed_by_client = False

    def open(self, action: A.Open, clock: VirtualClock) -> E.Event:
        self.server.opens += 1
        if self.server.refuse_connect is not None:
            return E.OpenFailed(action.conn, self.server.refuse_connect, "scripted")
        if self.server.opens <= self.server.refuse_first:
            return E.OpenFailed(action.conn, FailureKind.REFUSED, "scripted")
        if self.peers:  # a later connection talks to a fresh server-side peer
            self.peer = _Peer(self.server, clock.now.mono)
        self.peers[action.conn] = self.peer
        return E.Opened(action.conn)

    def write(self, action: A.Write, clock: VirtualClock) -> E.Event:
        peer = self.peers.get(action.conn, self.peer)
        peer.now = clock.now.mono
        peer.receive(action.data)
        return E.Written(action.conn)

    def read(self, action: A.Read, clock: VirtualClock) -> E.Event:
        peer = self.peers.get(action.conn, self.peer)
        peer.now = max(peer.now, clock.now.mono)
        event = _read(peer, action, self.read_size)
        clock.advance_to(peer.now)
        return event

    def close(self, conn: int) -> None:
        self.closed_by_client = True


def run_ws_call(
    call: Call, server: ScriptedWsServer, *, read_size: int | None = None, max_steps: int = 1_000_000
) -> WsRun:
    """Drive ``call`` against ``server`` with a virtual clock starting at the call's ``now``.

    ``read_size`` caps each ``Received`` (1 feeds the client byte by byte).
    """
    t0 = call.context.now.mono
    peer = WsPeer(server, t0, read_size)
    run = drive(call, peer, VirtualClock(Instant(mono=t0, wall=_WALL_EPOCH + t0)), max_steps=max_steps)
    return WsRun(run.terminal, server, run.actions, run.deltas, run.elapsed, peer.closed_by_client)


def _read(peer: _Peer, action: A.Read, read_size: int | None) -> E.Event:
    peer.queue.sort(key=lambda item: item[0])
    if not peer.queue or (isinstance(peer.queue[0][1], str) and peer.queue[0][1] == "hang"):
        if action.deadline is None:
            raise AssertionError("the call reads forever from a silent server without a deadline")
        peer.now = max(peer.now, action.deadline)
        return E.TimedOut(action.conn)
    due, item = peer.queue[0]
    if action.deadline is not None and due > action.deadline:
        peer.now = max(peer.now, action.deadline)
        return E.TimedOut(action.conn)
    peer.now = max(peer.now, due)
    if isinstance(item, str) and item == "drop":
        peer.dead = True
        return E.Received(action.conn, b"")
    if isinstance(item, str) and item == "reset":
        peer.dead = True
        return E.ReadFailed(action.conn, FailureKind.RESET, "connection reset by peer")
    data: bytes = item
    size = min(action.max_bytes, read_size or action.max_bytes)
    chunk, rest = data[:size], data[size:]
    if rest:
        peer.queue[0] = (due, rest)
    else:
        peer.queue.pop(0)
    return E.Received(action.conn, chunk)


__all__ = ["ScriptedWsServer", "Step", "WsPeer", "WsRun", "run_ws_call"]
