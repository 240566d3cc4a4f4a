"""The fast HTTP/1.1 response parser: ``httptools`` (llhttp, the parser of Node and aiohttp).

llhttp runs strict, except that OWS after a chunk size is accepted as h11 accepts
it; the head rules of ``codec`` have already run. ``AVAILABLE`` is False when
httptools is not installed (it is a regular dependency, so only on odd installs).
"""

from __future__ import annotations

from typing import Any

from .codec import END, ParseError, ParserEvent, ResponseStart

try:
    import httptools

    AVAILABLE = True
except ImportError:  # pragma: no cover - httptools is a dependency
    httptools = None  # type: ignore[assignment]
    AVAILABLE = False

_BODYLESS = (204, 304)


class HttptoolsParser:
    __slots__ = ("_complete", "_extra", "_framed", "_head_request", "_headers", "_out", "_p", "_reason",
                 "_started")

    def __init__(self, head_request: bool, max_head: int) -> None:
        self._p: Any = httptools.HttpResponseParser(self)
        self._p.set_dangerous_leniencies(lenient_spaces_after_chunk_size=True)
        self._head_request = head_request
        self._out: list[ParserEvent] = []
        self._headers: list[tuple[str, str]] = []
        self._reason = b""
        self._started = self._complete = self._framed = False
        self._extra = b""

    # -- llhttp callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            self._extra = b"x"  # a second message: not CR/LF, so not reusable

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._started:
            return  # trailers (and anything after the message)
        lname = name.decode("ascii").lower()
        if lname == "content-length" or lname == "transfer-encoding":
            self._framed = True
        self._headers.append((lname, value.decode("latin-1").strip(" \t")))

    def on_headers_complete(self) -> None:
        if self._started:
            return
        self._started = True
        p = self._p
        status = p.get_status_code()
        if self._head_request or status in _BODYLESS:
            self._framed = True
        self._out.append(ResponseStart(status, self._reason.decode("latin-1"), tuple(self._headers),
                                       p.get_http_version()))

    def on_body(self, body: bytes) -> None:
        if not self._complete:
            self._out.append(bytes(body))

    def on_message_complete(self) -> None:
        if not self._complete:
            self._complete = True
            self._out.append(END)

    # -- BodyParser ---------------------------------------------------------------------

    def feed(self, data: bytes) -> list[ParserEvent]:
        if self._complete:
            self._extra += data
            return []
        out: list[ParserEvent] = []
        self._out = out
        try:
            self._p.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self._complete:
                raise ParseError(str(exc) or type(exc).__name__) from None
            self._extra = b"x"  # garbage after the message
        if self._complete:
            # llhttp holds our bound callbacks: a reference cycle that only the
            # cyclic GC would free. The message is over; nothing calls it again.
            self._p = None
        return out

    def feed_eof(self) -> list[ParserEvent]:
        if self._complete:
            return []
        if self._started and not self._framed:
            self._complete = True
            return [END]  # a close-delimited body ends here
        raise ParseError("peer closed connection without sending complete message body")

    def leftover(self) -> bytes:
        return self._extra


class HttptoolsCodec:
    name = "httptools"

    def new_parser(self, head_request: bool, max_head: int) -> HttptoolsParser:
        return HttptoolsParser(head_request, max_head)


__all__ = ["AVAILABLE", "HttptoolsCodec", "HttptoolsParser"]
