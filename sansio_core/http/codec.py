"""The HTTP/1.1 codec interface: request bytes out, response events in, one set of rules.

Two implementations parse responses (``codec_h11`` — the pure-Python
reference — and ``codec_httptools`` — llhttp, the parser of Node and aiohttp);
``codecs.get_codec`` picks one. Whatever a parser would accept, the rules where
request smuggling and response splitting live are enforced *here*, once, before
either parser sees a byte, so both agree (decision 0010):

* the head is framed here (``\\r\\n\\r\\n``), bounded by ``limits.max_response_head``;
  bare LF line ends, obs-fold continuation lines, a bad status line or header
  line are errors;
* more than one ``Content-Length`` (even equal ones), a non-digit one,
  ``Transfer-Encoding`` with ``Content-Length``, any ``Transfer-Encoding`` but
  exactly ``chunked``, or ``Transfer-Encoding`` in an HTTP/1.0 response are errors;
* 1xx heads are dropped here (the final response follows); 101 is an error
  (we never ask to switch protocols);
* HEAD responses and 204/304 have no body, whatever their headers say;
* the keep-alive decision: HTTP/1.1, no ``Connection: close`` either way, a
  framed body, nothing but CR/LF after the message.

A parser sees the final head and the body only; it turns them into
``ResponseStart`` (once), ``bytes`` (body data) and ``END``, or raises
``ParseError``.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

# What a parser hands back: a head, body bytes, and the end of the message.


class ResponseStart:
    """The final response head: lower-cased names, latin-1 values, in order."""

    __slots__ = ("headers", "http_version", "reason", "status")

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...],
                 http_version: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.http_version = http_version

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResponseStart) and (
            (self.status, self.reason, self.headers, self.http_version)
            == (other.status, other.reason, other.headers, other.http_version))

    def __repr__(self) -> str:
        return f"ResponseStart({self.status}, {self.reason!r}, {self.headers!r}, {self.http_version!r})"

    __hash__ = None  # type: ignore[assignment]


class _End:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END: Final = _End()
ParserEvent = ResponseStart | bytes | _End


class ParseError(Exception):
    """The response is not valid HTTP/1.1 (by the shared rules or the parser's own)."""


class BodyParser(Protocol):
    """One codec's parser for one response: the final head and what follows it."""

    def feed(self, data: bytes) -> list[ParserEvent]:
        """Events for ``data``; after ``END`` the rest is returned by ``leftover()``."""
        ...

    def feed_eof(self) -> list[ParserEvent]:
        """The peer closed: ``[END]`` for a close-delimited body, else ``ParseError``."""
        ...

    def leftover(self) -> bytes:
        """Bytes received after the end of the message (decides reuse)."""
        ...


class HttpCodec(Protocol):
    """A named parser implementation: ``new_parser(head_request, max_head)`` per response."""

    name: str

    def new_parser(self, head_request: bool, max_head: int) -> BodyParser: ...


# -- the shared head rules ----------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: ([\t \x21-\x7e\x80-\xff]*))?\Z")
_HEADER_LINE = re.compile(
    rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t]*(?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?[ \t]*\Z")
_DIGITS = re.compile(rb"[0-9]{1,18}\Z")
_CLOSE = re.compile(rb"(?:^|[ \t,])close(?:$|[ \t,])", re.IGNORECASE)
# Header lines that passed ``_HEADER_LINE`` (a server repeats most of its lines
# response after response): short ones only, bounded, cleared when full.
_GOOD_LINES: set[bytes] = set()
_MAX_GOOD_LINES = 1024
_MAX_REMEMBERED_LINE = 256


class HeadInfo:
    """What the shared rules read from a head: status, version and framing."""

    __slots__ = ("close", "framed", "status", "version")

    def __init__(self, status: int, version: int, close: bool, framed: bool) -> None:
        self.status = status
        self.version = version  # minor version: 0 or 1
        self.close = close  # the connection must not be reused
        self.framed = framed  # Content-Length or chunked (else: no body or close-delimited)


def check_head(head: bytes, head_request: bool) -> HeadInfo:
    """Apply the shared rules to one head (without its final blank line); ``ParseError`` if broken."""
    if b"\n" in head.replace(b"\r\n", b""):
        raise ParseError("bare LF or CR in the response head")
    lines = head.split(b"\r\n")
    m = _STATUS_LINE.match(lines[0])
    if m is None:
        raise ParseError(f"illegal status line: {lines[0][:80]!r}")
    version = int(m.group(1))
    status = int(m.group(2))
    cl = te = 0
    cl_value = te_value = b""
    close = version == 0
    for line in lines[1:]:
        if not line:
            raise ParseError("empty line inside the response head")
        if line[0] in b" \t":
            raise ParseError("obs-fold (a header continuation line) is not accepted")
        if line not in _GOOD_LINES:
            if _HEADER_LINE.match(line) is None:
                raise ParseError(f"illegal header line: {line[:80]!r}")
            if len(line) <= _MAX_REMEMBERED_LINE:
                if len(_GOOD_LINES) >= _MAX_GOOD_LINES:
                    _GOOD_LINES.clear()
                _GOOD_LINES.add(line)
        name, _, value = line.partition(b":")
        lname = name.lower()
        if lname == b"content-length":
            cl += 1
            cl_value = value.strip(b" \t")
        elif lname == b"transfer-encoding":
            te += 1
            te_value = value.strip(b" \t")
        elif lname == b"connection" and _CLOSE.search(value) is not None:
            close = True
    if status < 200:
        return HeadInfo(status, version, close, True)
    if cl > 1:
        raise ParseError("more than one Content-Length header")
    if cl and _DIGITS.match(cl_value) is None:
        raise ParseError(f"invalid Content-Length: {cl_value[:40]!r}")
    if te:
        if cl:
            raise ParseError("both Transfer-Encoding and Content-Length")
        if te > 1 or te_value.lower() != b"chunked":
            raise ParseError("unsupported Transfer-Encoding (only a single `chunked` is accepted)")
        if version == 0:
            raise ParseError("Transfer-Encoding in an HTTP/1.0 response")
    bodyless = head_request or status in (204, 304)
    framed = bodyless or bool(cl or te)
    return HeadInfo(status, version, close or not framed, framed)


class ResponseReader:
    """Frames heads and applies the shared rules; the codec's parser does the rest.

    ``feed`` returns events; ``ParseError`` for an invalid response. After
    ``END``, ``reusable`` says whether the connection may carry another exchange.
    """

    __slots__ = ("_buf", "_codec", "_done", "_head_request", "_info", "_max_head", "_parser",
                 "_request_close", "_rest")

    def __init__(self, codec: HttpCodec, *, head_request: bool, max_head: int,
                 request_close: bool = False) -> None:
        self._codec = codec
        self._head_request = head_request
        self._max_head = max_head
        self._request_close = request_close
        self._buf = b""
        self._parser: BodyParser | None = None
        self._info: HeadInfo | None = None
        self._done = False
        self._rest: bytes | None = None  # after a bodyless response

    @property
    def in_body(self) -> bool:
        """A final head has arrived (EOF from here on is the parser's to judge)."""
        return self._parser is not None

    @property
    def reusable(self) -> bool:
        info = self._info
        if not self._done or info is None or info.close or self._request_close or self._parser is None:
            return False
        rest = self._rest if self._rest is not None else self._parser.leftover()
        return not rest.strip(b"\r\n")

    def feed(self, data: bytes) -> list[ParserEvent]:
        if self._done:
            return []
        parser = self._parser
        if parser is not None:
            return self._forward(parser.feed(data))
        buf = self._buf + data if self._buf else data
        out: list[ParserEvent] = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max_head:
                    raise ParseError(f"response head exceeds {self._max_head} bytes")
                self._buf = buf
                return out
            if end + 4 > self._max_head:
                raise ParseError(f"response head exceeds {self._max_head} bytes")
            info = check_head(buf[:end], self._head_request)
            if info.status < 200:
                if info.status == 101:
                    raise ParseError("unexpected 101 Switching Protocols")
                buf = buf[end + 4:]  # informational: the final response follows
                continue
            self._info = info
            self._buf = b""
            parser = self._parser = self._codec.new_parser(self._head_request, self._max_head)
            if info.framed and (self._head_request or info.status in (204, 304)):
                got = parser.feed(buf[:end + 4])
                out.extend(e for e in got if e is not END)
                out.append(END)
                self._done = True
                self._rest = buf[end + 4:]
                return out
            out.extend(self._forward(parser.feed(buf)))
            return out

    def feed_eof(self) -> list[ParserEvent]:
        if self._done:
            return []
        if self._parser is None:
            raise ParseError("the connection closed inside the response head")
        return self._forward(self._parser.feed_eof())

    def _forward(self, events: list[ParserEvent]) -> list[ParserEvent]:
        if events and events[-1] is END:
            self._done = True
        return events


__all__ = ["END", "BodyParser", "HeadInfo", "HttpCodec", "ParseError", "ParserEvent", "ResponseReader",
           "ResponseStart", "check_head"]
