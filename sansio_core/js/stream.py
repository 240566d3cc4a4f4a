"""``JsStream``: one WebSocket ``streamResponse`` call whose state stays inside QuickJS.

A JavaScript stream handler is called once per frame with the accumulator it
returned last time. Sending that accumulator (and the context) across the
boundary as JSON every frame, and decoding the whole result back, cost about
ten times the handler itself. Here the call opens a session in the owner's
context (the prelude's ``__pw_stream_open``): the context crosses once, the
accumulator stays a live JavaScript value between frames (a ``Date``, a
``Map`` or a function in it keeps working), each frame brings only its payload
text, and only what the flow needs comes back: nothing, a text delta, or, at
completion, the accumulator as JSON data, read as the per-frame JSON round
trip read it before (so results, deltas and error texts are unchanged).

Rules:

* each frame is one call into QuickJS, under the engine's time limit; a
  promise a handler returns is settled like any hook's;
* a session belongs to the owner (thread) that opened it and to the context
  it opened in: if that context is later replaced (another call hit a limit,
  or it was evicted), the session finishes in its own context;
* ``close`` frees the state (the flow calls it in ``finally``: on success, on
  error and on cancellation). Closed from another thread (a generator
  finalised elsewhere), it is queued and freed at the owner's next ``open``,
  since a QuickJS context is never entered from two threads.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final

import quickjs

from ..errors import JsError
from .engine import _MARK, JsEngine, JsFunction

# Frame kinds (bit flags) for ``JsStream.step``.
FRAME_BINARY: Final = 1  # the frame was binary (``isBinary``)
FRAME_JSON: Final = 2  # the payload is JSON text of ``data`` (a Buffer shape, or text with NUL)
_END: Final = -1


@dataclass(frozen=True, slots=True)
class StreamStep:
    """A frame that ended the stream.

    ``complete``: the handler said so; ``pair`` is then the returned array's
    first item as a one-item list (``[]`` when the array was empty), as JSON
    data. ``bad``: the handler returned no array; what it returned, named as
    ``[result, complete], got ...`` names it.
    """

    complete: bool = False
    pair: list[Any] | None = None
    bad: str | None = None


class JsStream:
    """One call's session; see the module docstring. Raises ``JsError`` like ``JsEngine.call``."""

    __slots__ = ("_ctx", "_engine", "_key", "_step", "_token")

    def __init__(self, engine: JsEngine, fn: JsFunction, context_json: str, initial_json: str) -> None:
        ctx, open_fn, step = engine.stream_functions()
        for old_step, old_token in engine.take_orphans():
            _end(old_step, old_token)
        self._engine = engine
        self._key: Hashable = engine.owner_key()
        self._ctx = ctx
        self._step = step
        try:
            self._token: int | None = int(open_fn(fn.index, context_json, initial_json))
        except quickjs.JSException as exc:
            raise engine._fail(exc, ctx) from None

    def step(self, kind: int, payload: str) -> str | StreamStep | None:
        """Run the handler on one frame (``kind``: ``FRAME_*`` bits, ``payload``: the text).

        Returns ``None`` (nothing to emit), the delta text, or a ``StreamStep``
        when the handler said complete or returned no array.
        """
        engine, ctx, token, key = self._engine, self._ctx, self._token, self._key
        if token is None:
            raise JsError("this streamResponse session is closed")
        if engine.owner_key() != key:
            raise JsError("a streamResponse call must stay on the thread that started it")
        engine.push_clock(ctx, key)
        try:
            raw = self._step(token, kind, payload)
            if raw is None or not raw.startswith(_MARK):
                return raw  # type: ignore[no-any-return]
            holder = engine._load(raw)
            if holder["k"] == "p":
                raw = engine.settled(ctx)
                if raw is None or not raw.startswith(_MARK):
                    return raw  # type: ignore[no-any-return]
                holder = engine._load(raw)
        except quickjs.JSException as exc:
            raise engine._fail(exc, ctx) from None
        what = holder["k"]
        if what == "c":
            return StreamStep(complete=True, pair=holder["v"])
        if what == "x":
            return StreamStep(bad=holder["t"])
        return holder["v"]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Free the session's state (idempotent; safe from any thread)."""
        token, self._token = self._token, None
        if token is None:
            return
        if self._engine.owner_key() != self._key:
            self._engine.orphan(self._key, self._step, token)
            return
        _end(self._step, token)


def _end(step: Any, token: int) -> None:
    try:
        step(token, _END, "")
    except quickjs.JSException:  # pragma: no cover - deleting a Map entry does not throw
        pass


__all__ = ["FRAME_BINARY", "FRAME_JSON", "JsStream", "StreamStep"]
