"""The reference HTTP/1.1 response parser: ``h11``, pure Python, always available.

A fresh ``h11.Connection`` per response, primed with a stand-in request of the
right method (h11 needs it to know whether a body may follow); the head rules
of ``codec`` have already run, so this only turns bytes into events.
"""

from __future__ import annotations

import h11

from .codec import END, ParseError, ParserEvent, ResponseStart

_HEAD_PRIMER = h11.Request(method=b"HEAD", target=b"/", headers=[(b"host", b"h")])
_GET_PRIMER = h11.Request(method=b"GET", target=b"/", headers=[(b"host", b"h")])
_EOM = h11.EndOfMessage()


class H11Parser:
    __slots__ = ("_h",)

    def __init__(self, head_request: bool, max_head: int) -> None:
        h = self._h = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)
        h.send(_HEAD_PRIMER if head_request else _GET_PRIMER)
        h.send(_EOM)

    def feed(self, data: bytes) -> list[ParserEvent]:
        self._h.receive_data(data)
        return self._drain()

    def feed_eof(self) -> list[ParserEvent]:
        self._h.receive_data(b"")
        return self._drain()

    def leftover(self) -> bytes:
        return bytes(self._h.trailing_data[0])

    def _drain(self) -> list[ParserEvent]:
        h = self._h
        out: list[ParserEvent] = []
        while True:
            try:
                ev = h.next_event()
            except h11.RemoteProtocolError as exc:
                raise ParseError(str(exc)) from None
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return out
            if type(ev) is h11.Data:
                out.append(bytes(ev.data))
            elif type(ev) is h11.Response:
                out.append(ResponseStart(
                    ev.status_code, ev.reason.decode("latin-1"),
                    tuple((k.decode("ascii"), v.decode("latin-1")) for k, v in ev.headers),
                    ev.http_version.decode("ascii")))
            elif type(ev) is h11.EndOfMessage:
                out.append(END)
                return out
            else:  # 1xx heads never get here (codec drops them); ConnectionClosed follows END
                raise ParseError(f"unexpected {type(ev).__name__}")


class H11Codec:
    name = "h11"

    def new_parser(self, head_request: bool, max_head: int) -> H11Parser:
        return H11Parser(head_request, max_head)


__all__ = ["H11Codec", "H11Parser"]
