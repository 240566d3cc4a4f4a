"""Incremental ``text/event-stream`` decoder (WHATWG HTML, "Server-sent events", 9.2.6).

Follows the spec's parsing rules: UTF-8 with replacement, one leading BOM
dropped, lines ended by CRLF, LF or CR (a CR at the end of a chunk waits to see
whether an LF follows), ``:`` comments, ``field: value`` with one optional
space, multi-line ``data`` joined by LF, ``id`` without NUL persisting across
events, ``retry`` of ASCII digits only, and a blank line dispatching an event
whose data is not empty.

One deliberate extension: ``end()`` dispatches an event that the stream cut
off before its blank line (the spec discards it). LLM servers often end with
``data: [DONE]\\n`` and close; losing that last event would lose the end
marker. ``SseDecoder(strict=True)`` keeps the spec's behaviour.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from ..errors import LimitExceeded, PromptwireError
from ..limits import MAX_SSE_EVENT, MAX_SSE_RETRY_MS

_LINE_END = re.compile(r"\r\n|\r|\n")
# Longer digit strings are above MAX_SSE_RETRY_MS anyway (and int() of a
# megabyte of digits is slow and capped by CPython).
_RETRY_DIGITS = len(str(MAX_SSE_RETRY_MS))


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event.

    ``event`` defaults to ``"message"``; ``id`` is the last event id seen so
    far in the stream (``None`` until one is set); ``retry`` is a ``retry:``
    value given in this event's block, if any.
    """

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SseDecoder:
    """Feed bytes as they arrive; get the events completed so far.

    Errors (only ``LimitExceeded``) are raised after the events that preceded
    them have been returned, so the result never depends on chunk boundaries.
    """

    __slots__ = (
        "_bom",
        "_data",
        "_decoder",
        "_error",
        "_event",
        "_id",
        "_max",
        "_partial",
        "_retry",
        "_size",
        "_skip_lf",
        "_strict",
        "reconnection_ms",
    )

    def __init__(self, max_event: int = MAX_SSE_EVENT, *, strict: bool = False) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._max = max_event
        self._strict = strict
        self._bom = True  # the first character may still be a BOM
        self._skip_lf = False  # the last chunk ended in CR
        self._partial = ""  # an unterminated line
        self._data: list[str] = []
        self._size = 0  # characters in _data
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._error: PromptwireError | None = None
        self.reconnection_ms: int | None = None

    def feed(self, data: bytes) -> list[SseEvent]:
        """Decode ``data``; return the events it completed.

        Raises:
            LimitExceeded: a line or an event's data passed ``max_event``
                characters (after the preceding events were returned).
        """
        if self._error is not None:
            raise self._error
        text = self._decoder.decode(data)
        out: list[SseEvent] = []
        if text:
            self._text(text, out)
        return self._deliver(out)

    def end(self) -> list[SseEvent]:
        """The stream ended: flush what is left (see the module note on ``strict``)."""
        if self._error is not None:
            raise self._error
        out: list[SseEvent] = []
        text = self._decoder.decode(b"", final=True)
        if text:
            self._text(text, out)
        if self._error is None and not self._strict:
            if self._partial:
                line, self._partial = self._partial, ""
                self._line(line, out)
            if self._error is None:
                self._dispatch(out)
        self._partial = ""
        self._data, self._size = [], 0
        if self._error is not None:
            raise self._error
        return out

    def _deliver(self, out: list[SseEvent]) -> list[SseEvent]:
        if self._error is not None and not out:
            raise self._error
        return out

    def _text(self, text: str, out: list[SseEvent]) -> None:
        if self._bom:
            self._bom = False
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return
        if self._partial:
            text = self._partial + text
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            lines = _LINE_END.split(text)
        else:
            lines = text.split("\n")
        self._partial = lines.pop()
        limit = self._max
        for line in lines:
            # The two commonest lines inline (this loop is the hot path of
            # every stream); everything else goes through _line.
            if line.startswith("data: ") and len(line) <= limit and self._size + len(line) - 5 <= limit:
                self._data.append(line[6:])
                self._size += len(line) - 5
            elif not line:
                self._dispatch(out)
            else:
                self._line(line, out)
                if self._error is not None:
                    return
        if len(self._partial) > self._max:
            self._fail(f"server-sent event line longer than {self._max} characters")

    def _line(self, line: str, out: list[SseEvent]) -> None:
        if len(line) > self._max:
            # Checked here as well as on the partial line, so that the error
            # does not depend on where the chunks were cut.
            self._fail(f"server-sent event line longer than {self._max} characters")
            return
        # The common case first: "data: ..." (one optional space is dropped).
        if line.startswith("data:"):
            value = line[6:] if line.startswith(" ", 5) else line[5:]
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                self._fail(f"server-sent event larger than {self._max} characters")
            return
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":
            return  # a comment (keep-alive)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":  # "data" with no colon: an empty data line
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                self._fail(f"server-sent event larger than {self._max} characters")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) <= _RETRY_DIGITS:
            ms = int(value)
            if ms <= MAX_SSE_RETRY_MS:
                self._retry = ms
                self.reconnection_ms = ms
        # any other field name is ignored (WHATWG)

    def _dispatch(self, out: list[SseEvent]) -> None:
        if not self._data:
            self._event, self._retry = "", None
            return
        data = "\n".join(self._data)
        out.append(SseEvent(self._event or "message", data, self._id, self._retry))
        self._data, self._size = [], 0
        self._event, self._retry = "", None

    def _fail(self, message: str) -> None:
        self._error = LimitExceeded(message)


__all__ = ["SseDecoder", "SseEvent"]
