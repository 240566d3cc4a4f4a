"""Between h11's body chunks and the response text: decoding, framing, deltas.

Per exchange, ``StreamDecoder.on_head`` looks at the response head and picks
what the body needs: a Content-Encoding decoder (bounded), and for
``text/event-stream`` / NDJSON bodies a framer plus a delta extractor, so the
binding can hand text to the caller while the body streams. The whole body
text still reaches transformResponse afterwards, as in promptfoo.
"""

from __future__ import annotations

from typing import Any

from ..call import CallContext
from ..http.exchange import BodyListener, RawResponse, ResponseHead
from ..limits import Limits
from .content_coding import Decoder, decoder_for
from .deltas import DeltaExtractor
from .ndjson import JsonStreamDecoder
from .sse import SseDecoder

_BOM = b"\xef\xbb\xbf"
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl",
                 "application/x-jsonlines", "application/json-seq")


class StreamDecoder:
    __slots__ = (
        "_ctx",
        "_decoded",
        "_decoder",
        "_deltas",
        "_extractor",
        "_framer",
        "_limits",
        "_listening",
        "first_delta_at",
    )

    def __init__(self, limits: Limits, ctx: CallContext, *, deltas: bool = True) -> None:
        self._limits = limits
        self._ctx = ctx
        self._deltas = deltas
        self._decoder: Decoder | None = None
        self._framer: Any = None
        self._extractor: Any = None
        self._decoded = bytearray()
        self._listening = False
        # When the first text delta arrived (time to first token), monotonic.
        self.first_delta_at: float | None = None

    def on_head(self, head: ResponseHead) -> BodyListener | None:
        encoding = head.header("content-encoding")
        if encoding and encoding.strip().lower() != "identity":
            self._decoder = decoder_for(encoding, self._limits.max_decoded_body)
        if self._deltas:
            self._framer, self._extractor = _framing_for(head.header("content-type") or "", self._limits)
        if self._decoder is None and self._framer is None:
            return None
        self._listening = True
        return self._listen

    def _listen(self, chunk: bytes) -> list[str]:
        if self._decoder is not None:
            data = self._decoder.feed(chunk)
            self._decoded += data
        else:
            data = chunk  # the exchange keeps the body already: no second copy
        if self._framer is None or not data:
            return []
        deltas = [d for d in self._extractor.feed_all(self._framer.feed(data)) if d]
        if deltas and self.first_delta_at is None:
            self.first_delta_at = self._ctx.now.mono
        return deltas

    @property
    def decoded(self) -> bool:
        """True when a Content-Encoding was removed from the body."""
        return self._decoder is not None

    def finish_text(self, raw: RawResponse) -> str:
        """The decoded body as text (UTF-8 with replacement, a leading BOM dropped).

        Decoded once, in place: no copy of the bytes, and a BOM is skipped in
        the bytes rather than sliced off the text (a second copy of a big body).
        """
        if self._decoder is None:
            return body_text(raw.body)
        self._decoded += self._decoder.finish()
        decoded, self._decoded = self._decoded, bytearray()
        return body_text(decoded)

    def finish_deltas(self) -> list[str]:
        """Deltas held back until the end of the body (a last event with no blank line)."""
        if self._framer is None:
            return []
        deltas = [d for d in self._extractor.feed_all(self._framer.end()) if d]
        if deltas and self.first_delta_at is None:
            self.first_delta_at = self._ctx.now.mono
        return deltas


def body_text(body: bytes | bytearray) -> str:
    """``body`` as UTF-8 text with replacement, one leading BOM dropped, decoded in one pass."""
    if body.startswith(_BOM):
        with memoryview(body) as view:
            return str(view[len(_BOM):], "utf-8", "replace")
    return body.decode("utf-8", "replace")


def _framing_for(content_type: str, limits: Limits) -> tuple[Any, Any]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "text/event-stream":
        return SseDecoder(limits.max_sse_event), DeltaExtractor(keep_text=False)
    if ctype in _NDJSON_TYPES:
        return JsonStreamDecoder(limits.max_ndjson_line, limits.max_json_depth), DeltaExtractor(keep_text=False)
    return None, None
