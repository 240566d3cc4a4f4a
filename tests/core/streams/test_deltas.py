"""Built-in delta extraction: the text a user gets from a stream with no
transform, for each API shape, fed through the real SSE / NDJSON decoders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansio_core.errors import LimitExceeded
from sansio_core.streams.deltas import (
    DeltaExtractor,
    StreamKind,
    detect_kind,
    extractor_for,
    stream_framing,
)
from sansio_core.streams.ndjson import JsonStreamDecoder
from sansio_core.streams.sse import SseDecoder, SseEvent


def sse(*payloads: Any, done: bool = False, blank_lines: bool = True) -> bytes:
    sep = b"\n\n" if blank_lines else b"\n"
    body = b"".join(b"data: " + json.dumps(p).encode() + sep for p in payloads)
    return body + (b"data: [DONE]" + sep if done else b"")


def sse_text(body: bytes, chunk: int = 7) -> tuple[list[str], DeltaExtractor]:
    dec, ex = SseDecoder(), DeltaExtractor()
    deltas: list[str] = []
    for i in range(0, len(body), chunk):
        for event in dec.feed(body[i : i + chunk]):
            deltas += ex.feed(event)
    for event in dec.end():
        deltas += ex.feed(event)
    return deltas, ex


def chat(content: str | None, role: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}


def test_openai_chat_completion_chunks() -> None:
    body = sse(chat(None, "assistant"), chat("Hel"), chat("lo"), chat(None), done=True)
    deltas, ex = sse_text(body)
    assert deltas == ["Hel", "lo"]
    assert (ex.text, ex.done, ex.kind, ex.error) == ("Hello", True, StreamKind.OPENAI_CHAT, None)


def test_events_after_done_are_ignored() -> None:
    body = sse(chat("a"), done=True) + sse(chat("late"))
    assert sse_text(body)[0] == ["a"]


def test_openai_chat_second_choice_and_usage_chunk_ignored() -> None:
    second = {"choices": [{"index": 1, "delta": {"content": "other"}}]}
    usage = {"choices": [], "usage": {"total_tokens": 5}}
    assert sse_text(sse(chat("one"), second, usage, done=True))[0] == ["one"]


def test_legacy_completions_text() -> None:
    assert sse_text(sse({"choices": [{"text": "ab", "index": 0}]}, done=True))[0] == ["ab"]


def test_openai_responses_events_docs_example() -> None:
    # The docs' own example: data lines with no blank line between them.
    events = [
        {"type": "response.created", "response": {"id": "resp_abc123"}},
        {"type": "response.output_text.delta", "delta": "The"},
        {"type": "response.output_text.delta", "delta": " quick"},
        {"type": "response.output_text.delta", "delta": " brown"},
        {"type": "response.output_text.delta", "delta": " fox"},
        {"type": "response.completed", "response_id": "resp_abc123"},
    ]
    for blank_lines in (True, False):
        _, ex = sse_text(sse(*events, blank_lines=blank_lines))
        assert ex.text == "The quick brown fox" and ex.done and ex.kind is StreamKind.OPENAI_RESPONSES


def test_openai_responses_failed() -> None:
    events = [
        {"type": "response.output_text.delta", "delta": "par"},
        {"type": "response.failed", "response": {"error": {"message": "server overloaded"}}},
    ]
    _, ex = sse_text(sse(*events))
    assert (ex.text, ex.done, ex.error) == ("par", True, "server overloaded")


def test_anthropic_message_stream() -> None:
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        b'event: ping\ndata: {"type": "ping"}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    deltas, ex = sse_text(body, chunk=1)
    assert deltas == ["Hi", " there"] and ex.done and ex.kind is StreamKind.ANTHROPIC


def test_anthropic_error_event() -> None:
    body = sse(
        {"type": "message_start", "message": {}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert sse_text(body)[1].error == "Overloaded"


def test_openai_error_payload_before_detection() -> None:
    _, ex = sse_text(sse({"error": {"message": "bad key", "type": "invalid_request_error"}}))
    assert (ex.error, ex.kind) == ("bad key", StreamKind.AUTO)


def test_ollama_ndjson_through_the_framer() -> None:
    chunks = [
        b'{"response":"one ","done":false}\n{"resp',
        b'onse":"two ","done":false}\n',
        b'{"response":"three","done":true}\n',
    ]
    dec, ex = JsonStreamDecoder(), DeltaExtractor()
    deltas: list[str] = []
    for c in chunks:
        deltas += ex.feed_all(dec.feed(c))
    deltas += ex.feed_all(dec.end())
    assert deltas == ["one ", "two ", "three"] and ex.done and ex.kind is StreamKind.OLLAMA


def test_ollama_chat_shape() -> None:
    ex = DeltaExtractor()
    got = ex.feed_all(
        [
            {"message": {"role": "assistant", "content": "a"}, "done": False},
            {"message": {"content": "b"}, "done": True},
        ]
    )
    assert got == ["a", "b"] and ex.done


def test_gemini_candidates_skip_thoughts() -> None:
    ex = DeltaExtractor()
    payload = {
        "candidates": [
            {"content": {"parts": [{"text": "x", "thought": True}, {"text": "Hi"}, {"text": "!"}]}}
        ]
    }
    assert ex.feed(payload) == ["Hi!"] and ex.kind is StreamKind.GEMINI


def test_non_json_and_unknown_payloads_give_nothing() -> None:
    ex = DeltaExtractor()
    assert ex.feed(SseEvent("message", "hello")) == []
    assert ex.feed(SseEvent("message", "{broken")) == []
    assert ex.feed({"something": "else"}) == []
    assert ex.feed(42) == []
    assert ex.kind is StreamKind.AUTO and not ex.done


def test_the_conformance_stream_text_with_no_transform() -> None:
    chunks = (
        b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"lo, "}}]}\n\ndata: {"choices":[{"delta":{"content":"wor"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"ld!"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert sse_text(chunks)[1].text == "Hello, world!"


@pytest.mark.parametrize(
    ("content_type", "framing"),
    [
        ("text/event-stream", "sse"),
        ("text/event-stream; charset=utf-8", "sse"),
        ("application/x-ndjson", "ndjson"),
        ("Application/JSONL", "ndjson"),
        ("application/json", None),
        (None, None),
    ],
)
def test_stream_framing(content_type: str | None, framing: str | None) -> None:
    assert stream_framing(content_type) == framing


def test_extractor_for() -> None:
    first = SseEvent("message", json.dumps(chat("x")))
    ex = extractor_for("text/event-stream", first)
    assert ex is not None and ex.kind is StreamKind.OPENAI_CHAT
    auto = extractor_for("text/event-stream", SseEvent("message", "hi"))
    assert auto is not None and auto.kind is StreamKind.AUTO
    assert extractor_for("application/json", {"plain": 1}) is None
    by_shape = extractor_for("application/json", {"type": "message_start"})
    assert by_shape is not None and by_shape.kind is StreamKind.ANTHROPIC


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"type": "response.created"}, StreamKind.OPENAI_RESPONSES),
        ({"type": "content_block_delta"}, StreamKind.ANTHROPIC),
        ({"choices": []}, StreamKind.OPENAI_CHAT),
        ({"candidates": []}, StreamKind.GEMINI),
        ({"response": "", "done": False}, StreamKind.OLLAMA),
        ({"type": "other"}, None),
        ([1], None),
    ],
)
def test_detect_kind(payload: Any, kind: StreamKind | None) -> None:
    assert detect_kind(payload) is kind


def test_fixed_kind_skips_detection() -> None:
    ex = DeltaExtractor(StreamKind.ANTHROPIC)
    assert ex.feed({"choices": [{"delta": {"content": "x"}}]}) == []


def fed(*items: Any, kind: StreamKind = StreamKind.AUTO) -> tuple[list[str], DeltaExtractor]:
    ex = DeltaExtractor(kind)
    out: list[str] = []
    for item in items:
        out += ex.feed(item)
    return out, ex


def event(data: str) -> SseEvent:
    return SseEvent(event="message", data=data, id=None)


def test_several_data_lines_in_one_event_stop_at_done() -> None:
    lines = "\n".join([json.dumps({"choices": [{"delta": {"content": "a"}}]}), "not json",
                       json.dumps({"choices": [{"delta": {"content": "b"}}]}), "[DONE]",
                       json.dumps({"choices": [{"delta": {"content": "late"}}]})])
    out, ex = fed(event(lines), event(json.dumps({"choices": [{"delta": {"content": "after"}}]})))
    assert out == ["a", "b"] and ex.done and ex.text == "ab"


def test_text_that_is_not_json_is_ignored() -> None:
    assert fed(event("keep-alive"), event(": comment"), event("[1, 2"))[0] == []


def test_an_error_before_the_format_is_known_is_kept() -> None:
    out, ex = fed({"error": {"message": "overloaded"}}, {"error": "second"})
    assert out == [] and ex.error == "overloaded" and ex.kind is StreamKind.AUTO


@pytest.mark.parametrize(
    ("payloads", "kind", "text", "error"),
    [
        ([{"choices": [{"delta": {"content": "a"}}]}, {"error": {"code": 1}}], StreamKind.OPENAI_CHAT, "a",
         '{"code": 1}'),
        ([{"choices": [{"delta": {"content": "a"}, "index": 0}, {"delta": {"content": "b"}, "index": 1}]},
          {"choices": [{"index": 1, "delta": {"content": "x"}}, "junk"]},
          {"choices": "junk"}, {"choices": [{"text": "legacy"}]}, {"choices": [{"text": 5}]},
          {"choices": [{"delta": {"content": None}}]}], StreamKind.OPENAI_CHAT, "alegacy", None),
        ([{"type": "response.output_text.delta", "delta": "x"}, {"type": "response.output_text.delta", "delta": 1},
          {"type": "error", "message": "bad"}], StreamKind.OPENAI_RESPONSES, "x", "bad"),
        ([{"type": "response.output_text.delta", "delta": "x"},
          {"type": "response.failed", "response": {"error": {"message": "quota"}}}],
         StreamKind.OPENAI_RESPONSES, "x", "quota"),
        ([{"type": "response.output_text.delta", "delta": "x"}, {"type": "response.failed"}],
         StreamKind.OPENAI_RESPONSES, "x", "response.failed"),
        ([{"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}},
          {"type": "content_block_delta", "delta": {"type": "thinking_delta", "thinking": "hmm"}},
          {"type": "error", "error": {"message": "overloaded_error"}}], StreamKind.ANTHROPIC, "hi",
         "overloaded_error"),
        ([{"type": "content_block_delta", "delta": {"type": "text_delta", "text": "a"}},
          {"type": "message_stop"}, {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "b"}}],
         StreamKind.ANTHROPIC, "a", None),
        ([{"message": {"content": "chat"}, "done": False}, {"response": "gen", "done": False},
          {"error": "model not found", "done": True}], StreamKind.OLLAMA, "chatgen", "model not found"),
        ([{"candidates": [{"content": {"parts": [{"text": "a"}, {"text": "th", "thought": True}, {"text": "b"}]}}]},
          {"candidates": []}, {"candidates": [{"content": {"parts": "x"}}]}, {"candidates": ["x"]},
          {"error": {"message": "blocked"}}], StreamKind.GEMINI, "ab", "blocked"),
    ],
)
def test_each_api_shape(payloads: list[Any], kind: StreamKind, text: str, error: str | None) -> None:
    out, ex = fed(*payloads)
    assert ex.kind is kind
    assert "".join(out) == text == ex.text
    assert ex.error == error


def test_a_known_kind_skips_detection_and_ignores_non_objects() -> None:
    out, ex = fed([1, 2], {"response": "x", "done": True}, {"response": "y"}, kind=StreamKind.OLLAMA)
    assert out == ["x"] and ex.done


def test_long_errors_are_cut() -> None:
    _, ex = fed({"choices": [{"delta": {"content": "a"}}]}, {"error": "e" * 2000})
    assert ex.error == "e" * 500
def test_deeply_nested_sse_json_is_a_limit_error() -> None:
    body = b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"
    with pytest.raises(LimitExceeded, match="nested deeper than"):
        sse_text(body, chunk=65536)
