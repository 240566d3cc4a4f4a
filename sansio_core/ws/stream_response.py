"""``streamResponse``: every message of a WebSocket call through the handler until it says complete.

The handler is called as ``(accumulator, data, context)`` with ``data`` the
MessageEvent shape (``{type: 'message', data, isBinary}``) and returns
``[accumulator, complete]``; the first accumulator is promptfoo's
``{error: 'unknown error occurred'}`` (ws-provider-spec 7.3). Whenever the
accumulator's ``output`` is a string that extends what was emitted so far,
the extension is emitted as a delta; at completion the accumulator is the
response (``normalize_result``: provider-shaped objects as they are, anything
else as ``output``).

A JavaScript handler runs in a ``js.stream`` session: the accumulator stays a
live JavaScript value between frames and the context crosses once per call;
what the flow sees (deltas, the final accumulator, the error texts) is what
the per-frame JSON round trip that a Python handler gets shows. Python
handlers (callables, ``file://x.py``) are called with plain values per frame.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Final

from .. import actions as A
from .. import events as E
from ..errors import JsError, TransformError
from ..hooks import Hook, HookResult, HookStream
from ..js.engine import UNDEFINED
from ..js.jsvalue import is_undefined, normalize_result
from ..js.jsvalue import js_truthy as truthy
from ..js.stream import FRAME_BINARY, FRAME_JSON, StreamStep
from ..response import ProviderResponse
from .io import WsIo, next_message
from .wire import WsMessage

# promptfoo's initial accumulator (ws-provider-spec 7.3): handlers that never
# set ``output`` complete with this error.
_INITIAL_ACCUMULATOR: Final = {"error": "unknown error occurred"}
_INITIAL_JSON: Final = json.dumps(_INITIAL_ACCUMULATOR)
_STREAM_PREFIX: Final = "Error executing streamResponse function: "

StreamFlow = Generator[A.Action, "E.Event | None", ProviderResponse]


def buffer_json(payload: bytes) -> dict[str, Any]:
    """A non-UTF-8 binary payload as ``JSON.stringify(buffer)`` shows a Node Buffer."""
    return {"type": "Buffer", "data": list(payload)}


def message_event(msg: WsMessage) -> dict[str, Any]:
    """``data`` for ``streamResponse``: the MessageEvent shape (payload in ``.data``)."""
    payload: Any = msg.text if msg.text is not None else buffer_json(msg.payload)
    return {"type": "message", "data": payload, "isBinary": msg.binary}


def clean_response(response: dict[str, Any]) -> ProviderResponse:
    """Drop ``undefined`` members, as JSON serialisation of the JS object would."""
    return ProviderResponse({k: v for k, v in response.items() if not is_undefined(v)})


def stream_loop(hook: Hook, io: WsIo, pending: list[Any], call_context: dict[str, Any]) -> StreamFlow:
    """Read messages and run ``hook`` on each until it says complete; the response."""
    if hook.is_js:
        return (yield from session_loop(hook, io, pending, call_context))
    return (yield from call_loop(hook, io, pending, call_context))


def call_loop(hook: Hook, io: WsIo, pending: list[Any], call_context: dict[str, Any]) -> StreamFlow:
    """One ``Hook.call`` per frame with plain values: Python handlers. (It runs a
    JavaScript hook too, with a JSON round trip of the accumulator per frame, which is
    how JavaScript handlers ran before ``session_loop``; benchmarks compare the two.)"""
    accumulator: Any = dict(_INITIAL_ACCUMULATOR)
    emitted = ""
    while True:
        msg = yield from next_message(io, pending)
        try:
            result = hook.call(accumulator, message_event(msg), call_context)
        except TransformError as err:
            raise _stream_error(err) from None
        ret = result.value
        if result.is_error or not isinstance(ret, (list, tuple)):
            raise TransformError(f"{_STREAM_PREFIX}it must return [result, complete], got {_kind(ret)}")
        accumulator = ret[0] if len(ret) > 0 else UNDEFINED
        complete = truthy(ret[1]) if len(ret) > 1 else False
        delta = _delta(accumulator, emitted)
        if delta:
            yield A.Emit(delta)
            emitted += delta
        if complete:
            return _result(accumulator)


def session_loop(hook: Hook, io: WsIo, pending: list[Any], call_context: dict[str, Any]) -> StreamFlow:
    """A JavaScript handler in a ``js.stream`` session: a frame sends its payload and
    gets back nothing, a delta, or at the end the accumulator as the JSON data
    ``call_loop`` would have seen."""
    session: HookStream | None = None
    emitted: list[str] = []
    try:
        while True:
            if pending and type(pending[0]) is WsMessage:
                msg = pending.pop(0)
            else:
                msg = yield from next_message(io, pending)
            try:
                if session is None:  # opened at the first message, where the first call was
                    session = hook.open_stream(_context_json(call_context), _INITIAL_JSON)
                    assert session is not None
                text = msg.text
                if text is not None and not msg.binary and "\x00" not in text:
                    step = session.step(0, text)
                else:
                    step = session.step(*_frame(msg))
            except JsError as err:
                assert session is not None
                raise _stream_error(session.error(err)) from None
            except TransformError as err:
                raise _stream_error(err) from None
            if step is None:
                continue
            if type(step) is str:
                yield A.Emit(step)
                emitted.append(step)
                continue
            assert isinstance(step, StreamStep)
            if step.bad is not None:
                raise TransformError(f"{_STREAM_PREFIX}it must return [result, complete], got {step.bad}")
            assert step.pair is not None
            accumulator = step.pair[0] if step.pair else UNDEFINED
            delta = _delta(accumulator, "".join(emitted))
            if delta:
                yield A.Emit(delta)
            return _result(accumulator)
    finally:
        if session is not None:
            session.close()


def _stream_error(err: TransformError) -> TransformError:
    # promptfoo wraps every handler failure once more with this prefix.
    return TransformError(_STREAM_PREFIX + err.message.removeprefix(_STREAM_PREFIX))


def _delta(accumulator: Any, emitted: str) -> str:
    """What the accumulator's ``output`` adds to the text emitted so far ("" unless it extends it)."""
    output = accumulator.get("output") if isinstance(accumulator, dict) else None
    if isinstance(output, str) and output.startswith(emitted) and len(output) > len(emitted):
        return output[len(emitted):]
    return ""


def _result(accumulator: Any) -> ProviderResponse:
    if is_undefined(accumulator):
        return ProviderResponse()
    shaped = isinstance(accumulator, dict) and ("output" in accumulator or "error" in accumulator)
    return clean_response(normalize_result(HookResult(accumulator, provider_shaped=shaped)))


def _context_json(call_context: dict[str, Any]) -> str:
    # ASCII with escapes: a lone surrogate (vars may hold one) cannot cross into
    # QuickJS as a C string, and JSON.parse rebuilds the same text from \u escapes.
    return json.dumps(call_context, separators=(",", ":"))


def _frame(msg: WsMessage) -> tuple[int, str]:
    """A message as ``JsStream.step`` takes it; JavaScript builds the MessageEvent
    (``message_event``'s shape) from it. Text holding NUL goes as JSON (C strings)."""
    text = msg.text
    if text is None:
        return FRAME_BINARY | FRAME_JSON, json.dumps(buffer_json(msg.payload))
    kind = FRAME_BINARY if msg.binary else 0
    if "\x00" in text:
        return kind | FRAME_JSON, json.dumps(text, ensure_ascii=False)
    return kind, text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if is_undefined(value):
        return "undefined"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


__all__ = ["buffer_json", "call_loop", "clean_response", "message_event", "session_loop", "stream_loop"]
