"""Deterministic payloads: the same request always gets the same bytes.

Tests compare outputs exactly, so nothing here reads a clock or a random
source: ids are derived from the input, ``created`` is a fixed instant.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
import zlib
from typing import Any

# A fixed "created" time (2023-11-14T22:13:20Z) so chat completions are byte-stable.
CREATED = 1_700_000_000
DEFAULT_MODEL = "mock-model"
ANTHROPIC_MODEL = "mock-claude"

# Keys a WebSocket or generic JSON message may carry its prompt under, in
# the order they are tried.
_PROMPT_KEYS = ("message", "prompt", "text", "input", "content", "query", "question")


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII kept, as most LLM servers send it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_bytes(value: Any) -> bytes:
    return dumps(value).encode("utf-8")


def parse_json(text: str) -> Any:
    """The parsed value, or None when the text is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def content_text(content: Any) -> str:
    """Text of an OpenAI message ``content``: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def last_user_text(messages: Any) -> str:
    """The last user message of an OpenAI/Anthropic ``messages`` list ('' if none)."""
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def prompt_of(text: str) -> str:
    """What a client "said" in a free-form JSON or text message.

    A JSON object gives its first known prompt key or its last user message;
    anything else is taken as the prompt itself.
    """
    value = parse_json(text)
    if isinstance(value, dict):
        for key in _PROMPT_KEYS:
            if isinstance(value.get(key), str):
                return str(value[key])
        if "messages" in value:
            return last_user_text(value["messages"])
    if isinstance(value, str):
        return value
    return text


def echo(prompt: str) -> str:
    return f"Echo: {prompt}"


def pieces(text: str) -> list[str]:
    """Split text into word-sized pieces that join back to exactly ``text``."""
    found = re.findall(r"\s*\S+\s*?(?=\s|$)|\s+$", text)
    if "".join(found) != text:  # pragma: no cover - the pattern covers all text
        return [text]
    return found or [text]


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


def short_id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- OpenAI chat


def chat_completion(request: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed OpenAI chat completion answering the last user message."""
    messages = request.get("messages")
    answer = echo(last_user_text(messages))
    prompt_tokens = sum(
        count_tokens(content_text(m.get("content"))) for m in messages if isinstance(m, dict)
    ) if isinstance(messages, list) else 0
    completion_tokens = count_tokens(answer)
    return {
        "id": short_id("chatcmpl-mock-", dumps(messages)),
        "object": "chat.completion",
        "created": CREATED,
        "model": str(request.get("model") or DEFAULT_MODEL),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chat_chunks(
    texts: list[str], *, chunk_id: str, model: str, usage: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """OpenAI ``chat.completion.chunk`` objects: role, one per piece, finish, usage."""

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    out = [chunk({"role": "assistant", "content": ""}, None)]
    out.extend(chunk({"content": text}, None) for text in texts)
    out.append(chunk({}, "stop"))
    if usage is not None:
        last = chunk({}, None)
        last["choices"] = []
        last["usage"] = usage
        out.append(last)
    return out


def sse_event(data: str, *, event: str | None = None, eol: str = "\n") -> bytes:
    """One server-sent event; multi-line data becomes several ``data:`` lines."""
    lines = [] if event is None else [f"event: {event}"]
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return (eol.join(lines) + eol + eol).encode("utf-8")


# ---------------------------------------------------------------- Anthropic


def anthropic_events(answer: str, input_tokens: int) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence of an Anthropic Messages stream with one text block."""
    msg_id = short_id("msg_mock_", answer)
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": ANTHROPIC_MODEL,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    for text in pieces(answer):
        events.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            )
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": count_tokens(answer)},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


# ---------------------------------------------------------------- compression


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a zero mtime, so the encoded bytes are stable across runs."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


@functools.lru_cache(maxsize=4)
def gzip_bomb(mib: int) -> bytes:
    """A gzip member that decodes to ``mib`` MiB of zeros, built in well under a second.

    Compressing a GiB for real takes seconds. A full flush resets the
    compressor's state, so every MiB of zeros encodes to the same block and
    the block can simply be repeated; only the CRC needs the real data.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    # RFC 1952 header: magic, deflate, no flags, mtime 0, max compression, unknown OS.
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return header + block * mib + tail + trailer
