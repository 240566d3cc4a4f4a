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
from enum import Enum
from typing import Any

from . import actions as A
from . import events as E
from .errors import Cancelled, LocalProtocolError, PromptwireError
from .http.codec import HttpCodec
from .proxy import ProxySettings
from .response import ProviderResponse
from .timebase import Instant

Flow = Generator[A.Action, "E.Event | None", ProviderResponse]


class CallContext:
    """Everything a flow may read from the world, handed in by the binding.

    ``now`` is refreshed by ``Call.feed`` before the flow sees an event.
    ``rng`` is seeded from the call's seed (created on first use: most calls
    never draw a random number), so jitter and boundaries replay.
    """

    __slots__ = ("_next_conn", "_rng", "_seed", "env", "http_codec", "now", "on_resume", "proxy", "start")

    def __init__(self, now: Instant, rng: random.Random | None = None, env: Mapping[str, str] | None = None,
                 start: Instant | None = None, *, seed: int = 0, http_codec: HttpCodec | None = None) -> None:
        self.now = now
        # The HTTP/1.1 codec (None: ``http.codecs.DEFAULT``), chosen by the binding.
        self.http_codec = http_codec
        self._rng = rng
        self._seed = seed
        self.env: Mapping[str, str] = env if env is not None else {}
        self.start = start if start is not None else now
        self._next_conn = 0
        # Told ``now`` before each step of the flow: a target points it at its
        # JavaScript engine's clock so ``Date.now()`` is the call's (recorded) time.
        self.on_resume: Callable[[Instant], None] | None = None
        # The target's proxy settings (``proxy.ProxySettings``), None: never a proxy.
        self.proxy: ProxySettings | None = None

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def new_conn(self) -> int:
        """A connection id unique within this call."""
        self._next_conn += 1
        return self._next_conn


class CallState(Enum):
    """Where a ``Call`` is. The rules of what may happen in each state are the table below."""

    IDLE = "idle"  # made, no action asked for yet
    RUNNING = "running"  # the flow runs between actions
    AWAITING = "awaiting"  # an action that needs one event back is outstanding
    CLEANUP = "cleanup"  # handing out Close actions before the terminal Fail
    DONE = "done"  # Complete or Fail was handed out; asking again repeats it
    ERROR = "error"  # the flow raised something unexpected: the call is unusable


# What ``feed`` accepts in each state ("reply": the event for the outstanding
# action; "cancel": ``events.Cancelled``). Anything not listed raises
# ``LocalProtocolError``; in ERROR everything raises.
FEED_ALLOWED: dict[CallState, frozenset[str]] = {
    CallState.IDLE: frozenset({"cancel"}),
    CallState.RUNNING: frozenset({"cancel"}),
    CallState.AWAITING: frozenset({"reply", "cancel"}),
    CallState.CLEANUP: frozenset({"cancel"}),
    CallState.DONE: frozenset({"cancel"}),  # too late to matter: ignored
    CallState.ERROR: frozenset(),
}


# What handing out an action does to the call, by action type (``_kind``).
_OTHER, _OPEN, _REPLY, _GONE, _END = range(5)
_KINDS: dict[type, int] = {A.Open: _OPEN, A.Write: _REPLY, A.Read: _REPLY, A.Sleep: _REPLY,
                           A.Release: _GONE, A.Close: _GONE, A.Complete: _END, A.Fail: _END}


def _kind(action: A.Action) -> int:
    kind = _KINDS.get(type(action))
    if kind is not None:
        return kind
    if isinstance(action, A.Open):
        return _OPEN
    if isinstance(action, (A.Release, A.Close)):
        return _GONE
    if isinstance(action, A.TERMINAL):
        return _END
    return _REPLY if isinstance(action, A.NEEDS_REPLY) else _OTHER


class Call:
    """Drive with: ``a = call.next_action()``; perform it; ``call.feed(event, now)``.

    At most one action is outstanding. Actions that need no reply
    (``Release``, ``Close``, ``Emit``) are simply followed by another
    ``next_action()``. ``Complete`` and ``Fail`` are terminal and repeat if
    asked again. If the flow raises anything but a ``PromptwireError`` (a bug),
    the open connections are closed and the call fails once with a
    ``LocalProtocolError`` naming the cause; after that the call is in
    ``ERROR`` and every ``next_action()`` or ``feed()`` raises. Not
    thread-safe: one owner drives one call.
    """

    __slots__ = ("_cleanup", "_ctx", "_flow", "_open", "_pending", "_poison", "_reply", "_scrub", "state")

    def __init__(self, flow: Callable[[CallContext], Flow], ctx: CallContext, *,
                 scrub: Callable[[PromptwireError], PromptwireError] | None = None) -> None:
        """``scrub`` (the target's ``Secrets.scrub_error``) is applied to the error of
        every ``Fail``, so no message leaves a call with a configured secret in it."""
        self._ctx = ctx
        self._scrub = scrub
        self._flow = flow(ctx)
        self._pending: A.Action | None = None
        self._reply: E.Event | None = None
        self._open: set[int] = set()
        self._cleanup: list[A.Action] = []
        self._poison: LocalProtocolError | None = None
        self.state = CallState.IDLE

    @property
    def context(self) -> CallContext:
        return self._ctx

    @property
    def done(self) -> bool:
        return self.state is CallState.DONE

    def next_action(self) -> A.Action:
        """The action the binding must perform next."""
        state = self.state
        if state is CallState.AWAITING or state is CallState.DONE:
            assert self._pending is not None
            return self._pending
        if state is CallState.ERROR:
            raise self._unusable()
        if self._cleanup:
            return self._hand_out(self._cleanup.pop(0))
        if self._ctx.on_resume is not None:
            self._ctx.on_resume(self._ctx.now)
        try:
            if state is CallState.IDLE:
                self.state = CallState.RUNNING
                action = next(self._flow)
            else:
                reply, self._reply = self._reply, None
                action = self._flow.send(reply)
        except StopIteration as stop:
            action = A.Complete(stop.value)
        except PromptwireError as err:
            action = self._fail(err)
        except Exception as exc:
            action = self._fail(self._internal_error(exc))
        return self._hand_out(action)

    def feed(self, event: E.Event, now: Instant) -> None:
        """Report the outcome of the outstanding action (exactly one event)."""
        cancel = isinstance(event, E.Cancelled)
        if cancel or self.state is not CallState.AWAITING:  # AWAITING takes a reply: the common case
            kind = "cancel" if cancel else "reply"
            if kind not in FEED_ALLOWED[self.state]:
                if self.state is CallState.ERROR:
                    raise self._unusable()
                raise LocalProtocolError(
                    f"feed({type(event).__name__}) with no outstanding action "
                    f"(call state {self.state.value}, last action: {type(self._pending).__name__})"
                )
        self._ctx.now = now
        if cancel:
            if self.state is not CallState.DONE:
                self._cancel()
            return
        self.state = CallState.RUNNING
        self._reply = event
        if isinstance(event, (E.OpenFailed, E.TimedOut)) and isinstance(self._pending, A.Open):
            self._open.discard(self._pending.conn)  # nothing was opened

    # -- internals -----------------------------------------------------------------

    def _hand_out(self, action: A.Action) -> A.Action:
        kind = _kind(action)
        if kind == _OPEN:
            self._open.add(action.conn)  # type: ignore[union-attr]
        elif kind == _GONE:
            self._open.discard(action.conn)  # type: ignore[union-attr]
        self._pending = action
        if kind == _END:
            if self._poison is not None:
                # The one time the internal error reaches the binding; from
                # now on the call refuses every use.
                self.state = CallState.ERROR
            else:
                self.state = CallState.DONE
        elif kind in (_OPEN, _REPLY):
            self.state = CallState.AWAITING
        elif self._cleanup:
            self.state = CallState.CLEANUP
        else:
            self.state = CallState.RUNNING
        return action

    def _internal_error(self, exc: Exception) -> LocalProtocolError:
        err = LocalProtocolError(f"internal error in promptwire's call flow: {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        if self._scrub is not None:
            self._scrub(err)
        self._poison = err
        return err

    def _unusable(self) -> LocalProtocolError:
        cause = self._poison.message if self._poison is not None else "unknown"
        return LocalProtocolError(f"this call already failed ({cause}); start a new call")

    def _fail(self, err: PromptwireError) -> A.Action:
        """Close every connection the flow left open, then fail."""
        self._flow.close()
        if self._scrub is not None:
            err = self._scrub(err)
        self._cleanup = [*(A.Close(c) for c in sorted(self._open)), A.Fail(err)]
        self._open.clear()
        return self._cleanup.pop(0)

    def _cancel(self) -> None:
        self._reply = None
        if self._cleanup:
            # Already cleaning up after a failure: that failure stands.
            self.state = CallState.CLEANUP
            return
        self._cleanup = [self._fail(Cancelled("the call was cancelled")), *self._cleanup]
        self._pending = None
        self.state = CallState.CLEANUP


def expect(event: E.Event | None, *types: type[Any]) -> Any:
    """Narrow a reply inside a flow; anything else is a bug in the binding."""
    if not isinstance(event, types):
        names = " or ".join(t.__name__ for t in types)
        raise LocalProtocolError(f"binding replied {type(event).__name__}, expected {names}")
    return event


__all__ = ["FEED_ALLOWED", "Call", "CallContext", "CallState", "Flow", "expect"]
