"""The one virtual-clock driver: run a ``Call`` against an in-memory peer, record it, replay it.

Tests (ours and users') drive the core exactly as a binding does, but with a
peer object instead of sockets and a virtual clock instead of time: a
``Sleep`` jumps the clock, a ``Read`` from a silent peer jumps it to the
read's deadline and times out. Every step is recorded as (action, event,
instant), and ``replay`` feeds such a recording to a fresh call with no peer
at all, which is how recorded exchanges replay deterministically.

Peers: ``h11_peer.H11Peer`` (an ``h11.Connection(SERVER)`` answering from a
handler) and ``ws_peer.WsPeer`` (a ``wsproto`` server following a script).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .. import actions as A
from .. import events as E
from ..call import Call
from ..timebase import Instant


class VirtualClock:
    """Monotonic and wall time that only move when the driver moves them."""

    __slots__ = ("now", "step_s")

    def __init__(self, start: Instant, step_s: float = 0.0) -> None:
        self.now = start
        self.step_s = step_s

    def advance_to(self, mono: float) -> None:
        """Jump forward to ``mono`` (never backward); wall time moves by the same amount."""
        if mono > self.now.mono:
            self.now = Instant(mono, self.now.wall + (mono - self.now.mono))

    def tick(self) -> None:
        """The small fixed cost of one event (0 by default)."""
        if self.step_s:
            self.now = Instant(self.now.mono + self.step_s, self.now.wall + self.step_s)


class Peer(Protocol):
    """What a test server does for each action that reaches the network."""

    def open(self, action: A.Open, clock: VirtualClock) -> E.Event: ...
    def write(self, action: A.Write, clock: VirtualClock) -> E.Event: ...
    def read(self, action: A.Read, clock: VirtualClock) -> E.Event: ...
    def close(self, conn: int) -> None: ...


@dataclass
class Recording:
    """Every action the call took, the event it was fed (``None`` for actions that need
    no reply) and the instant it was fed at, in order."""

    steps: list[tuple[A.Action, E.Event | None, Instant]] = field(default_factory=list)


@dataclass
class Run:
    """What ``drive`` saw: the terminal action, every action, the streamed deltas."""

    terminal: A.Action
    actions: list[A.Action]
    deltas: list[str]
    recording: Recording
    started: Instant
    ended: Instant

    @property
    def elapsed(self) -> float:
        return self.ended.mono - self.started.mono


def drive(call: Call, peer: Peer, clock: VirtualClock, *, max_steps: int = 1_000_000) -> Run:
    """Drive ``call`` to its end against ``peer``; ``AssertionError`` if it never ends."""
    started = clock.now
    actions: list[A.Action] = []
    deltas: list[str] = []
    recording = Recording()
    for _ in range(max_steps):
        action = call.next_action()
        actions.append(action)
        if isinstance(action, A.TERMINAL):
            return Run(action, actions, deltas, recording, started, clock.now)
        event: E.Event | None = None
        if isinstance(action, A.Open):
            event = peer.open(action, clock)
        elif isinstance(action, A.Write):
            event = peer.write(action, clock)
        elif isinstance(action, A.Read):
            event = peer.read(action, clock)
        elif isinstance(action, A.Sleep):
            clock.advance_to(action.until)
            event = E.Woke()
        elif isinstance(action, A.Close):
            peer.close(action.conn)
        elif isinstance(action, A.Emit):
            deltas.append(action.delta)
        clock.tick()
        recording.steps.append((action, event, clock.now))
        if event is not None:
            call.feed(event, clock.now)
        else:
            call.context.now = clock.now
    raise AssertionError("the call did not finish")


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


__all__ = ["Peer", "Recording", "Run", "VirtualClock", "drive", "replay"]
