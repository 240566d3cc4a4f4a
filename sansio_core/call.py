"""``Call``: one provider call as a Sans-IO object the binding drives.

The flow of a call (render, open, write, read, retry, transform) is written
as a plain generator that *yields actions and receives events*; ``Call`` wraps
such a generator in the ``next_action()`` / ``feed()`` contract. Writing the
flow as a generator keeps nested exchanges (an OAuth token fetch before the
real request, a retry after a ``Sleep``) as ordinary ``yield from`` calls
instead of a hand-maintained transition table, while staying pure: the
generator sees time only through ``CallContext.now`` and randomness only
through ``CallContext.rng``.

``Call`` also owns the bookkeeping every flow needs: it knows which
connections are open, so a failure or a cancellation always ends with
``Close`` actions for them before the terminal ``Fail``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

from . import actions as A
from . import events as E
from .errors import Cancelled, LocalProtocolError, PromptwireError
from .response import ProviderResponse
from .timebase import Instant

Flow = Generator[A.Action, "E.Event | None", ProviderResponse]


class CallContext:
    """Everything a flow may read from the world, handed in by the binding.

    ``now`` is refreshed by ``Call.feed`` before the flow sees an event.
    ``rng`` is seeded from the call's seed (created on first use: most calls
    never draw a random number), so jitter and boundaries replay.
    """

    __slots__ = ("_next_conn", "_rng", "_seed", "env", "now", "on_resume", "start")

    def __init__(self, now: Instant, rng: random.Random | None = None, env: Mapping[str, str] | None = None,
                 start: Instant | None = None, *, seed: int = 0) -> None:
        self.now = now
        self._rng = rng
        self._seed = seed
        self.env: Mapping[str, str] = env if env is not None else {}
        self.start = start if start is not None else now
        self._next_conn = 0
        # Told ``now`` before each step of the flow: a target points it at its
        # JavaScript engine's clock so ``Date.now()`` is the call's (recorded) time.
        self.on_resume: Callable[[Instant], None] | None = None

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def new_conn(self) -> int:
        """A connection id unique within this call."""
        self._next_conn += 1
        return self._next_conn


class Call:
    """Drive with: ``a = call.next_action()``; perform it; ``call.feed(event, now)``.

    At most one action is outstanding. Actions that need no reply
    (``Release``, ``Close``, ``Emit``) are simply followed by another
    ``next_action()``. ``Complete`` and ``Fail`` are terminal and repeat if
    asked again. Not thread-safe: one owner drives one call.
    """

    __slots__ = ("_awaiting", "_cleanup", "_ctx", "_flow", "_open", "_pending", "_reply", "_started")

    def __init__(self, flow: Callable[[CallContext], Flow], ctx: CallContext) -> None:
        self._ctx = ctx
        self._flow = flow(ctx)
        self._pending: A.Action | None = None
        self._awaiting = False
        self._reply: E.Event | None = None
        self._started = False
        self._open: set[int] = set()
        self._cleanup: list[A.Action] = []

    @property
    def context(self) -> CallContext:
        return self._ctx

    @property
    def done(self) -> bool:
        return isinstance(self._pending, A.TERMINAL)

    def next_action(self) -> A.Action:
        """The action the binding must perform next."""
        pending = self._pending
        if pending is not None and (self._awaiting or isinstance(pending, A.TERMINAL)):
            return pending
        if self._cleanup:
            action = self._cleanup.pop(0)
            self._pending = action
            return action
        if self._ctx.on_resume is not None:
            self._ctx.on_resume(self._ctx.now)
        try:
            if self._started:
                reply, self._reply = self._reply, None
                action = self._flow.send(reply)
            else:
                self._started = True
                action = next(self._flow)
        except StopIteration as stop:
            action = A.Complete(stop.value)
        except PromptwireError as err:
            action = self._fail(err)
        self._track(action)
        self._pending = action
        self._awaiting = isinstance(action, A.NEEDS_REPLY)
        return action

    def feed(self, event: E.Event, now: Instant) -> None:
        """Report the outcome of the outstanding action (exactly one event)."""
        self._ctx.now = now
        if isinstance(event, E.Cancelled):
            self._cancel()
            return
        if not self._awaiting:
            raise LocalProtocolError(
                f"feed({type(event).__name__}) with no outstanding action "
                f"(last action: {type(self._pending).__name__})"
            )
        self._awaiting = False
        self._reply = event
        if isinstance(event, (E.OpenFailed, E.TimedOut)) and isinstance(self._pending, A.Open):
            self._open.discard(self._pending.conn)  # nothing was opened

    # -- internals -----------------------------------------------------------------

    def _track(self, action: A.Action) -> None:
        if isinstance(action, A.Open):
            self._open.add(action.conn)
        elif isinstance(action, (A.Release, A.Close)):
            self._open.discard(action.conn)

    def _fail(self, err: PromptwireError) -> A.Action:
        """Close every connection the flow left open, then fail."""
        self._flow.close()
        self._cleanup = [*(A.Close(c) for c in sorted(self._open)), A.Fail(err)]
        self._open.clear()
        return self._cleanup.pop(0)

    def _cancel(self) -> None:
        self._awaiting = False
        self._reply = None
        # The first cleanup action is handed out by the next next_action().
        self._cleanup = [self._fail(Cancelled("the call was cancelled")), *self._cleanup]
        self._pending = None


def expect(event: E.Event | None, *types: type[Any]) -> Any:
    """Narrow a reply inside a flow; anything else is a bug in the binding."""
    if not isinstance(event, types):
        names = " or ".join(t.__name__ for t in types)
        raise LocalProtocolError(f"binding replied {type(event).__name__}, expected {names}")
    return event


__all__ = ["Call", "CallContext", "Flow", "expect"]
