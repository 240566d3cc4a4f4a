"""Incremental framer for streams of JSON values: NDJSON, JSON Lines, JSON text
sequences (RFC 7464, RS-separated) and plain concatenated JSON (``{...}{...}``).

Values are found by a small scanner that tracks string and bracket state, so
a value is emitted as soon as its closing bracket arrives, whatever the
newlines; each value's text is then parsed by ``json``. Complete lines that
are one object each (the usual NDJSON) take a fast path straight to
``json.loads``. Top-level numbers and literals end at whitespace or at the
next value, or at the end of the stream.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from ..errors import LimitExceeded, PromptwireError, RemoteProtocolError
from ..js.jsvalue import check_json_depth
from ..limits import MAX_JSON_DEPTH, MAX_NDJSON_LINE

# Separators between values: JSON whitespace plus RS (RFC 7464).
_SPACE = " \t\r\n\x1e"
_SKIP_SPACE = re.compile(r"[ \t\r\n\x1e]*")
_IN_STRING = re.compile(r'["\\]')
_IN_CONTAINER = re.compile(r'[{}\[\]"]')
_SCALAR_END = re.compile(r'[ \t\r\n\x1e{\["]')


class JsonStreamDecoder:
    """Feed bytes; get every JSON value completed so far, in order.

    Invalid JSON raises ``RemoteProtocolError`` and an over-long value
    ``LimitExceeded``, in both cases after the values before it were returned.
    """

    __slots__ = ("_bom", "_buf", "_decoder", "_depth", "_error", "_esc", "_max", "_max_depth", "_pos", "_start",
                 "_string")

    def __init__(self, max_value: int = MAX_NDJSON_LINE, max_depth: int = MAX_JSON_DEPTH) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._max = max_value
        self._max_depth = max_depth
        self._buf = ""
        self._pos = 0  # how far the buffer was scanned
        self._start = -1  # where the value being scanned begins, -1 between values
        self._depth = 0
        self._string = False
        self._esc = False  # the string's last character was an unfinished backslash
        self._error: PromptwireError | None = None
        self._bom = True

    def feed(self, data: bytes) -> list[Any]:
        """Decode ``data``; return the values it completed.

        Raises:
            RemoteProtocolError: a value is not valid JSON.
            LimitExceeded: a value is longer than ``max_value`` characters or
                nested deeper than ``max_depth`` levels.
        """
        if self._error is not None:
            raise self._error
        text = self._decoder.decode(data)
        if self._bom and text:
            self._bom = False
            if text[0] == "\ufeff":
                text = text[1:]
        out: list[Any] = []
        if text:
            self._buf += text
            self._scan(out, final=False)
        return self._deliver(out)

    def end(self) -> list[Any]:
        """The stream ended: a trailing number or literal completes; anything
        else unfinished is an error."""
        if self._error is not None:
            raise self._error
        text = self._decoder.decode(b"", final=True)
        if self._bom and text.startswith("\ufeff"):
            text = text[1:]
        self._buf += text
        out: list[Any] = []
        self._scan(out, final=True)
        if self._error is None and self._start >= 0:
            self._error = RemoteProtocolError(
                f"JSON stream ended inside a value: {_preview(self._buf[self._start :])}"
            )
        if self._error is not None:
            raise self._error
        return out

    def _deliver(self, out: list[Any]) -> list[Any]:
        if self._error is not None and not out:
            raise self._error
        return out

    def _scan(self, out: list[Any], *, final: bool) -> None:
        buf, pos, n = self._buf, self._pos, len(self._buf)
        try:
            while self._error is None:
                if self._start < 0:
                    pos = _SKIP_SPACE.match(buf, pos).end()  # type: ignore[union-attr]
                    if pos >= n:
                        break
                    pos = self._fast_lines(buf, pos, out)
                    if pos >= n or self._error is not None:
                        break
                    self._start = pos
                    ch = buf[pos]
                    if ch in "{[":
                        self._depth, pos = 1, pos + 1
                    elif ch == '"':
                        self._string, pos = True, pos + 1
                    else:
                        self._depth = 0
                if self._string:
                    pos = self._scan_string(buf, pos, n)
                    if self._string:
                        break
                    if self._depth == 0:
                        pos = self._emit(buf, pos, out)
                        continue
                if self._depth > 0:
                    pos = self._scan_container(buf, pos, n)
                    if self._depth > 0 or self._string:
                        if self._string:
                            continue
                        break
                    pos = self._emit(buf, pos, out)
                    continue
                # A top-level number or literal: it ends at a separator.
                m = _SCALAR_END.search(buf, pos)
                if m is None:
                    pos = n
                    if final:
                        pos = self._emit(buf, n, out)
                    break
                pos = self._emit(buf, m.start(), out)
        finally:
            self._compact(pos)
        if self._error is None and self._start >= 0 and self._pos - self._start > self._max:
            self._error = LimitExceeded(f"JSON value in stream longer than {self._max} characters")

    def _fast_lines(self, buf: str, pos: int, out: list[Any]) -> int:
        """Whole lines holding one object each go straight to ``json.loads``."""
        while pos < len(buf) and buf[pos] in "{[":
            nl = buf.find("\n", pos)
            if nl < 0 or nl - pos > self._max:
                return pos
            line = buf[pos:nl].rstrip(" \t\r")
            if line[-1:] not in ("}", "]"):
                return pos
            try:
                check_json_depth(line, self._max_depth, "JSON value in stream")
                out.append(json.loads(line))
            except ValueError:
                return pos  # two values on a line, or one spanning lines: scan it
            except LimitExceeded as exc:
                self._error = exc
                return pos
            pos = _SKIP_SPACE.match(buf, nl + 1).end()  # type: ignore[union-attr]
        return pos

    def _scan_string(self, buf: str, pos: int, n: int) -> int:
        if self._esc:
            if pos >= n:
                return pos
            self._esc, pos = False, pos + 1
        while True:
            m = _IN_STRING.search(buf, pos)
            if m is None:
                return n
            if m.group() == '"':
                self._string = False
                return m.end()
            if m.end() >= n:
                self._esc = True
                return n
            pos = m.end() + 1

    def _scan_container(self, buf: str, pos: int, n: int) -> int:
        while True:
            m = _IN_CONTAINER.search(buf, pos)
            if m is None:
                return n
            ch, pos = m.group(), m.end()
            if ch == '"':
                self._string = True
                pos = self._scan_string(buf, pos, n)
                if self._string:
                    return pos
            elif ch in "{[":
                self._depth += 1
                if self._depth > self._max_depth:
                    self._error = LimitExceeded(
                        f"JSON value in stream nested deeper than {self._max_depth} levels (limits.MAX_JSON_DEPTH)")
                    return pos
            else:
                self._depth -= 1
                if self._depth == 0:
                    return pos

    def _emit(self, buf: str, end: int, out: list[Any]) -> int:
        text = buf[self._start : end]
        if end - self._start > self._max:
            self._error = LimitExceeded(f"JSON value in stream longer than {self._max} characters")
            return end
        try:
            check_json_depth(text, self._max_depth, "JSON value in stream")
            out.append(json.loads(text))
        except ValueError as exc:
            self._error = RemoteProtocolError(f"invalid JSON in stream ({exc}): {_preview(text)}")
        except LimitExceeded as exc:
            self._error = exc
        self._start = -1
        return end

    def _compact(self, pos: int) -> None:
        """Drop what was consumed so the buffer holds at most one value."""
        keep = self._start if self._start >= 0 else pos
        if keep > 0:
            self._buf = self._buf[keep:]
            pos -= keep
            if self._start >= 0:
                self._start = 0
        self._pos = pos


def _preview(text: str, limit: int = 80) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


__all__ = ["JsonStreamDecoder"]
