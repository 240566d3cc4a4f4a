"""The text/event-stream decoder against the WHATWG examples, line-ending and
chunking corner cases, limits, and the three-way (whole / byte by byte /
trailing data) invariant."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_core.errors import LimitExceeded, PromptwireError
from sansio_core.streams.sse import SseDecoder, SseEvent


def decode(chunks: list[bytes], **kw: object) -> list[SseEvent]:
    d = SseDecoder(**kw)  # type: ignore[arg-type]
    out: list[SseEvent] = []
    for c in chunks:
        out += d.feed(c)
    return out + d.end()


def outcome(chunks: list[bytes], **kw: object) -> tuple[list[SseEvent], str | None]:
    """Events returned before any error, and the error's class name."""
    d = SseDecoder(**kw)  # type: ignore[arg-type]
    out: list[SseEvent] = []
    try:
        for c in chunks:
            out += d.feed(c)
        out += d.end()
    except PromptwireError as exc:
        return out, type(exc).__name__
    return out, None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def ev(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> SseEvent:
    return SseEvent(event, data, id, retry)


# -- the WHATWG examples (HTML, 9.2.5 / 9.2.6) ---------------------------------------


def test_multi_line_data_joined_with_lf() -> None:
    assert decode([b"data: YHOO\ndata: +2\ndata: 10\n\n"]) == [ev("YHOO\n+2\n10")]


def test_ids_persist_and_reset_to_empty() -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    assert decode([stream]) == [
        ev("first event", id="1"),
        ev("second event", id=""),
        ev(" third event", id=""),
    ]


def test_empty_data_lines() -> None:
    # "data" alone is a field with an empty value; the last block never ends.
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert decode([stream], strict=True) == [ev(""), ev("\n")]
    assert decode([stream]) == [ev(""), ev("\n"), ev("")]


def test_space_after_colon_is_optional() -> None:
    assert decode([b"data:test\n\ndata: test\n\n"]) == [ev("test"), ev("test")]


# -- fields ------------------------------------------------------------------------------


def test_event_type_and_retry() -> None:
    d = SseDecoder()
    got = d.feed(b"event: content_block_delta\nretry: 3000\ndata: {}\n\ndata: x\n\n")
    assert got == [ev("{}", "content_block_delta", retry=3000), ev("x")]
    assert d.reconnection_ms == 3000


@pytest.mark.parametrize("value", ["1.5", "-1", "  10", "1e3", "", "١٢", "99999999999999"])
def test_retry_must_be_ascii_digits_within_bounds(value: str) -> None:
    d = SseDecoder()
    assert d.feed(f"retry:{value}\ndata: x\n\n".encode()) == [ev("x")]
    assert d.reconnection_ms is None


def test_block_without_data_is_not_dispatched_and_resets_the_type() -> None:
    assert decode([b"event: ping\n\ndata: x\n\n"]) == [ev("x")]


def test_id_with_nul_is_ignored() -> None:
    assert decode([b"id: 7\n\nid: a\x00b\ndata: x\n\n"]) == [ev("x", id="7")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    assert decode([b": keep-alive\nfoo: bar\nData: no\ndata: yes\n\n"]) == [ev("yes")]


def test_field_values_keep_colons() -> None:
    assert decode([b'data: {"a": "b:c"}\n\n']) == [ev('{"a": "b:c"}')]


# -- line endings, BOM, encoding ---------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol: bytes) -> None:
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert decode([stream]) == [ev("a\nb"), ev("c")]
    assert decode(bytewise(stream)) == [ev("a\nb"), ev("c")]


def test_cr_at_chunk_end_then_lf() -> None:
    # The CR ends the line; the LF that follows in the next chunk is part of
    # the same CRLF, not a blank line.
    assert decode([b"data: a\r", b"\ndata: b\r", b"\r"]) == [ev("a\nb")]


def test_cr_at_chunk_end_then_cr_is_a_blank_line() -> None:
    d = SseDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\r") == [ev("a")]


def test_bom_only_once_at_the_start() -> None:
    assert decode([b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n"]) == [ev("a")]
    assert decode([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [ev("a")]


def test_utf8_split_across_chunks() -> None:
    raw = "data: héllo ✓\n\n".encode()
    assert decode(bytewise(raw)) == [ev("héllo ✓")]


def test_invalid_utf8_is_replaced() -> None:
    assert decode([b"data: a\xffb\n\n"]) == [ev("a\ufffdb")]


def test_unfinished_utf8_at_the_end() -> None:
    assert decode([b"data: a\xe2\x9c"]) == [ev("a\ufffd")]


def test_done_without_a_final_blank_line() -> None:
    stream = b'data: {"x":1}\n\ndata: [DONE]\n'
    assert decode([stream]) == [ev('{"x":1}'), ev("[DONE]")]
    assert decode([stream], strict=True) == [ev('{"x":1}')]


def test_the_conformance_stream() -> None:
    chunks = [
        b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"lo, "}}]}\n\ndata: {"choices":[{"delta":{"content":"wor"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"ld!"}}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    events = decode(chunks)
    assert len(events) == 6 and events[-1] == ev("[DONE]")


# -- limits --------------------------------------------------------------------------------


def test_event_larger_than_the_limit() -> None:
    d = SseDecoder(max_event=16)
    assert d.feed(b"data: ok\n\ndata: 0123456789\ndata: 0123456789\n") == [ev("ok")]
    with pytest.raises(LimitExceeded, match="larger than 16"):
        d.feed(b"\n")
    with pytest.raises(LimitExceeded):
        d.end()


@pytest.mark.parametrize("line", [b": " + b"c" * 40, b"data: " + b"x" * 40, b"x" * 40])
def test_line_longer_than_the_limit_same_for_every_chunking(line: bytes) -> None:
    stream = b"data: ok\n\n" + line + b"\n\ndata: after\n\n"
    whole = outcome([stream], max_event=32)
    assert whole == ([ev("ok")], "LimitExceeded")
    assert outcome(bytewise(stream), max_event=32) == whole


def test_unterminated_huge_line_stops_early() -> None:
    d = SseDecoder(max_event=1000)
    with pytest.raises(LimitExceeded, match="line longer than 1000"):
        for _ in range(100):
            d.feed(b"data: " + b"x" * 100)


# -- three-way invariant ---------------------------------------------------------------------

STREAMS = [
    b"data: YHOO\ndata: +2\ndata: 10\n\n",
    b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
    b"\xef\xbb\xbfevent: a\r\ndata: 1\r\n\r\nretry: 10\rdata: 2\r\rdata:3\n\n",
    "id: é\ndata: ✓✓\n\ndata: [DONE]\n\n".encode(),
]


@pytest.mark.parametrize("stream", STREAMS)
def test_three_way(stream: bytes) -> None:
    whole = decode([stream])
    assert decode(bytewise(stream)) == whole
    r = random.Random(len(stream))
    cuts = sorted(r.sample(range(1, len(stream)), min(5, len(stream) - 1)))
    parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(parts) == whole
    # Trailing data does not change what came before it.
    d = SseDecoder()
    with_trailer = d.feed(stream + b"data: trailing\n\n")
    assert with_trailer[: len(whole)] == whole and with_trailer[len(whole)] == ev("trailing", id=whole[-1].id)


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=8))
@settings(max_examples=300, deadline=None)
def test_only_our_errors_and_chunking_never_matters(data: bytes, cuts: list[int]) -> None:
    whole = outcome([data], max_event=64)
    points = sorted({c for c in cuts if 0 < c < len(data)})
    parts = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert outcome(parts, max_event=64) == whole
    assert outcome(bytewise(data), max_event=64) == whole


@given(
    st.lists(
        st.sampled_from(
            [b"data: x", b"data", b":c", b"id: 1", b"event: e", b"retry: 5", b"", b"\xef\xbb\xbf"]
        ),
        max_size=12,
    ),
    st.sampled_from([b"\n", b"\r", b"\r\n"]),
)
@settings(max_examples=200, deadline=None)
def test_structured_streams_chunk_invariant(lines: list[bytes], eol: bytes) -> None:
    data = eol.join(lines) + eol
    assert outcome(bytewise(data)) == outcome([data])
