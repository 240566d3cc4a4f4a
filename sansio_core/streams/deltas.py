"""Built-in extraction of text deltas from the streaming formats of common LLM APIs.

promptfoo hands the whole stream to ``transformResponse`` and leaves the
parsing to the user (docs, Streaming Responses; user-asks C.6). promptwire
still does that for parity, and beyond it recognises the usual stream shapes
so a caller gets the text as it arrives with no transform at all:

* OpenAI Chat Completions chunks: ``choices[0].delta.content`` (and the legacy
  completions ``choices[0].text``), ending with ``data: [DONE]``;
* OpenAI Responses events: ``response.output_text.delta``, ending with
  ``response.completed`` / ``.incomplete`` / ``.failed``;
* Anthropic Messages events: ``content_block_delta`` with ``text_delta``,
  ending with ``message_stop``;
* Ollama NDJSON: ``response`` (generate) or ``message.content`` (chat), ending
  with ``"done": true``;
* Gemini ``candidates[0].content.parts[].text``.

The format is detected from the first payload that matches one of them and
then kept for the rest of the stream. Reasoning or "thinking" deltas are not
text and are skipped. An error reported inside the stream is kept in
``error`` (the caller decides whether it fails the call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from ..js.jsvalue import check_json_depth
from ..limits import MAX_JSON_DEPTH
from .sse import SseEvent

DONE_MARKER = "[DONE]"

SSE_TYPES = frozenset({"text/event-stream"})
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/json-seq",
        "application/stream+json",
        "application/x-json-stream",
    }
)


class StreamKind(StrEnum):
    """Which API's stream shape the payloads follow."""

    AUTO = "auto"
    OPENAI_CHAT = "openai-chat"
    OPENAI_RESPONSES = "openai-responses"
    ANTHROPIC = "anthropic"
    OLLAMA = "ollama"
    GEMINI = "gemini"


_RESPONSES_END = frozenset({"response.completed", "response.incomplete", "response.failed"})
_ANTHROPIC_TYPES = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    }
)


def stream_framing(content_type: str | None) -> Literal["sse", "ndjson"] | None:
    """How a response body with this ``Content-Type`` is framed, if it is a stream."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in SSE_TYPES:
        return "sse"
    if mime in NDJSON_TYPES:
        return "ndjson"
    return None


def detect_kind(payload: Any) -> StreamKind | None:
    """The stream shape one decoded JSON payload belongs to, or ``None``."""
    if not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if isinstance(kind, str):
        if kind.startswith("response."):
            return StreamKind.OPENAI_RESPONSES
        if kind in _ANTHROPIC_TYPES:
            return StreamKind.ANTHROPIC
    choices = payload.get("choices")
    if isinstance(choices, list):
        return StreamKind.OPENAI_CHAT
    if isinstance(payload.get("candidates"), list):
        return StreamKind.GEMINI
    if isinstance(payload.get("done"), bool) and ("response" in payload or "message" in payload):
        return StreamKind.OLLAMA
    return None


class DeltaExtractor:
    """Turns SSE events or decoded JSON values into text deltas.

    ``feed()`` accepts an ``SseEvent`` (its data is parsed as JSON, or is the
    ``[DONE]`` marker) or an already decoded JSON value (from
    ``JsonStreamDecoder``). After the end marker ``done`` is True and later
    input is ignored. ``keep_text=False`` keeps no copy of the deltas (``text``
    stays empty): the HTTP stream hands each delta on and has the whole body anyway.
    """

    __slots__ = ("_keep", "done", "error", "kind", "parts")

    def __init__(self, kind: StreamKind = StreamKind.AUTO, *, keep_text: bool = True) -> None:
        self.kind = kind
        self.done = False
        self.error: str | None = None
        self.parts: list[str] = []
        self._keep = keep_text

    @property
    def text(self) -> str:
        """All the text extracted so far."""
        return "".join(self.parts)

    def feed(self, item: SseEvent | Any) -> list[str]:
        """The text deltas in one event or value (often one, sometimes none)."""
        if self.done:
            return []
        if isinstance(item, SseEvent):
            return self._event(item)
        return self._payload(item)

    def feed_all(self, items: Iterable[SseEvent | Any]) -> list[str]:
        out: list[str] = []
        for item in items:
            out += self.feed(item)
        return out

    def _event(self, event: SseEvent) -> list[str]:
        data = event.data
        if data.strip() == DONE_MARKER:
            self.done = True
            return []
        payload = _json(data)
        if payload is not _INVALID:
            return self._payload(payload)
        if "\n" not in data:
            return []
        # Several "data:" lines with no blank line between them (the docs'
        # own example stream) make one event whose lines are each a payload.
        out: list[str] = []
        for line in data.split("\n"):
            if self.done:
                break
            if line.strip() == DONE_MARKER:
                self.done = True
                break
            payload = _json(line)
            if payload is not _INVALID:
                out += self._payload(payload)
        return out

    def _payload(self, payload: Any) -> list[str]:
        if self.done:
            return []
        kind = self.kind
        if kind is StreamKind.AUTO:
            found = detect_kind(payload)
            if found is None:
                self._generic_error(payload)
                return []
            self.kind = kind = found
        if not isinstance(payload, dict):
            return []
        text = _EXTRACT[kind](self, payload)
        if text:
            if self._keep:
                self.parts.append(text)
            return [text]
        return []

    def _generic_error(self, payload: Any) -> None:
        if isinstance(payload, dict) and "error" in payload and self.error is None:
            self.error = _error_text(payload["error"])

    # -- one method per stream shape --------------------------------------------------

    def _openai_chat(self, p: Mapping[str, Any]) -> str | None:
        if "error" in p:
            self.error = _error_text(p["error"])
            return None
        choices = p.get("choices")
        if not isinstance(choices, list):
            return None
        for choice in choices:
            # n > 1 interleaves several answers; the text is the first one's.
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                content = delta.get("content")
                return content if isinstance(content, str) else None
            text = choice.get("text")
            return text if isinstance(text, str) else None
        return None

    def _openai_responses(self, p: Mapping[str, Any]) -> str | None:
        kind = p.get("type")
        if kind == "response.output_text.delta":
            delta = p.get("delta")
            return delta if isinstance(delta, str) else None
        if kind in _RESPONSES_END:
            self.done = True
            if kind == "response.failed":
                response = p.get("response")
                err = response.get("error") if isinstance(response, dict) else None
                self.error = _error_text(err) if err else "response.failed"
        elif kind == "error":
            self.error = _error_text(p.get("message") or p)
        return None

    def _anthropic(self, p: Mapping[str, Any]) -> str | None:
        kind = p.get("type")
        if kind == "content_block_delta":
            delta = p.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                text = delta.get("text")
                return text if isinstance(text, str) else None
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            self.error = _error_text(p.get("error"))
        return None

    def _ollama(self, p: Mapping[str, Any]) -> str | None:
        if "error" in p:
            self.error = _error_text(p["error"])
        text = p.get("response")
        message = p.get("message")
        if not isinstance(text, str) and isinstance(message, dict):
            text = message.get("content")
        if p.get("done") is True:
            self.done = True
        return text if isinstance(text, str) else None

    def _gemini(self, p: Mapping[str, Any]) -> str | None:
        if "error" in p:
            self.error = _error_text(p["error"])
            return None
        candidates = p.get("candidates")
        if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
            return None
        content = candidates[0].get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            return None
        texts = [
            part["text"]
            for part in parts
            if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
        ]
        return "".join(texts) or None


_EXTRACT = {
    StreamKind.OPENAI_CHAT: DeltaExtractor._openai_chat,
    StreamKind.OPENAI_RESPONSES: DeltaExtractor._openai_responses,
    StreamKind.ANTHROPIC: DeltaExtractor._anthropic,
    StreamKind.OLLAMA: DeltaExtractor._ollama,
    StreamKind.GEMINI: DeltaExtractor._gemini,
}

_INVALID = object()


def _json(text: str) -> Any:
    text = text.strip()
    if not text or text[0] not in "{[":
        return _INVALID
    check_json_depth(text, MAX_JSON_DEPTH, "JSON in the stream")
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID


def _error_text(err: Any) -> str:
    if isinstance(err, dict):
        message = err.get("message")
        if isinstance(message, str):
            return message
        return json.dumps(err, ensure_ascii=False)[:500]
    return str(err)[:500]


def extractor_for(content_type: str | None, first_payload: SseEvent | Any = None) -> DeltaExtractor | None:
    """An extractor for a response, or ``None`` when it is not a stream we know.

    A streaming ``Content-Type`` always gets one (in ``AUTO`` mode until a
    payload is recognised); any other content type gets one only if
    ``first_payload`` already has a known shape.
    """
    payload = first_payload
    if isinstance(payload, SseEvent):
        payload = _json(payload.data)
    kind = detect_kind(payload)
    if kind is not None:
        return DeltaExtractor(kind)
    if stream_framing(content_type) is not None:
        return DeltaExtractor()
    return None


__all__ = [
    "DONE_MARKER",
    "DeltaExtractor",
    "StreamKind",
    "detect_kind",
    "extractor_for",
    "stream_framing",
]
