"""Feed the same response bytes to both HTTP/1.1 codecs and compare (fuzz harness, Hypothesis test).

``outcome`` runs one codec over chunks and returns its events (body bytes
merged) and keep-alive decision, or ``("error",)``. ``disagreement`` returns
None when h11 and httptools agree, else a description. Two divergences are
known and tolerated (decision 0010): chunk extensions (h11 takes ``;`` and
anything after it, llhttp checks tokens) and chunk sizes of more than 20 hex
digits (h11 refuses, llhttp takes leading zeros), and bare LF line ends in a
chunked body's trailer section (h11 takes them, llhttp refuses); each is an error
on one side only, none changes where a message ends when both accept.
"""

from __future__ import annotations

import re
from typing import Any

from ..http.codec import END, HttpCodec, ParseError, ResponseReader
from ..http.codecs import H11, HTTPTOOLS

Outcome = tuple[Any, ...]
_KNOWN = re.compile(rb"(?:^|\n)[0-9A-Fa-f]*[ \t]*;|[0-9A-Fa-f]{21}|[^\r]\n")


def outcome(codec: HttpCodec, chunks: list[bytes], *, head_request: bool = False, max_head: int = 4096,
            eof: bool = True) -> Outcome:
    reader = ResponseReader(codec, head_request=head_request, max_head=max_head)
    events: list[Any] = []

    def add(got: list[Any]) -> bool:
        for ev in got:
            if type(ev) is bytes:
                if events and type(events[-1]) is bytes:
                    events[-1] += ev
                else:
                    events.append(ev)
            else:
                events.append(ev)
            if ev is END:
                return True
        return False

    try:
        for chunk in chunks:
            if chunk and add(reader.feed(chunk)):
                return ("ok", events, reader.reusable)
        if eof:
            add(reader.feed_eof() if reader.in_body else [])
    except ParseError:
        return ("error",)
    return ("ok", events, reader.reusable if events and events[-1] is END else None)


def disagreement(chunks: list[bytes], *, head_request: bool = False, max_head: int = 4096,
                 eof: bool = True) -> str | None:
    if HTTPTOOLS is None:
        return None
    a = outcome(H11, chunks, head_request=head_request, max_head=max_head, eof=eof)
    b = outcome(HTTPTOOLS, chunks, head_request=head_request, max_head=max_head, eof=eof)
    if a == b:
        return None
    if (a[0] == "error" or b[0] == "error") and _KNOWN.search(b"".join(chunks)):
        return None
    return f"h11={a!r}\nhttptools={b!r}"


__all__ = ["disagreement", "outcome"]
