"""The JSON stream framer: NDJSON, concatenated JSON, JSON text sequences, and
the three-way (whole / byte by byte / trailing data) invariant."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_core.errors import LimitExceeded, PromptwireError, RemoteProtocolError
from sansio_core.streams.ndjson import JsonStreamDecoder


def decode(chunks: list[bytes], **kw: Any) -> list[Any]:
    d = JsonStreamDecoder(**kw)
    out: list[Any] = []
    for c in chunks:
        out += d.feed(c)
    return out + d.end()


def outcome(chunks: list[bytes], **kw: Any) -> tuple[list[Any], str | None]:
    d = JsonStreamDecoder(**kw)
    out: list[Any] = []
    try:
        for c in chunks:
            out += d.feed(c)
        out += d.end()
    except PromptwireError as exc:
        return out, type(exc).__name__
    return out, None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_the_conformance_ndjson_stream() -> None:
    chunks = [
        b'{"response":"one ","done":false}\n{"resp',
        b'onse":"two ","done":false}\n',
        b'{"response":"three","done":true}\n',
    ]
    got = decode(chunks)
    assert [o["response"] for o in got] == ["one ", "two ", "three"]


def test_values_are_emitted_as_soon_as_they_close() -> None:
    d = JsonStreamDecoder()
    assert d.feed(b'{"a":1}{"b"') == [{"a": 1}]
    assert d.feed(b":2}\n[1,2") == [{"b": 2}]
    assert d.feed(b"]") == [[1, 2]]
    assert d.end() == []


def test_pretty_printed_values_and_json_seq() -> None:
    stream = b'{\n  "a": [\n    1\n  ]\n}\n\x1e{"b": 2}\n\x1e"s"\n'
    assert decode([stream]) == [{"a": [1]}, {"b": 2}, "s"]


def test_scalars_end_at_separators_or_at_the_end() -> None:
    d = JsonStreamDecoder()
    assert d.feed(b"1 2.5 true null") == [1, 2.5, True]
    assert d.end() == [None]
    assert decode([b'12{"a":1}"x"[3]']) == [12, {"a": 1}, "x", [3]]


def test_strings_with_brackets_quotes_and_escapes() -> None:
    stream = b'{"a":"}{][","b":"q\\"}","c":"\\\\"}\n"\\u00e9\\""'
    assert decode([stream]) == [{"a": "}{][", "b": 'q"}', "c": "\\"}, 'é"']
    assert decode(bytewise(stream)) == decode([stream])


def test_bom_crlf_and_blank_lines() -> None:
    assert decode([b'\xef\xbb\xbf{"a":1}\r\n\r\n\n{"a":2}\r\n']) == [{"a": 1}, {"a": 2}]


def test_utf8_split_across_chunks() -> None:
    raw = '{"t":"héllo ✓"}\n'.encode()
    assert decode(bytewise(raw)) == [{"t": "héllo ✓"}]


@pytest.mark.parametrize(
    "stream",
    [b'{"a":1}\n{"a":}\n{"a":3}\n', b'{"a":1}\nnot json\n', b'{"a":1}}\n', b'{"a":1}\n{"a":"x\ny"}\n'],
)
def test_invalid_json_after_the_good_values(stream: bytes) -> None:
    assert outcome([stream]) == ([{"a": 1}], "RemoteProtocolError")
    assert outcome(bytewise(stream)) == ([{"a": 1}], "RemoteProtocolError")


def test_error_names_the_bad_text() -> None:
    d = JsonStreamDecoder()
    with pytest.raises(RemoteProtocolError, match=r"invalid JSON in stream .*'nope'"):
        d.feed(b"nope\n")


def test_stream_ending_inside_a_value() -> None:
    d = JsonStreamDecoder()
    assert d.feed(b'{"a":1}\n{"b":') == [{"a": 1}]
    with pytest.raises(RemoteProtocolError, match="ended inside a value"):
        d.end()


def test_value_longer_than_the_limit() -> None:
    small = b'{"a":1}\n'
    big = b'{"b":"' + b"x" * 100 + b'"}\n'
    for chunks in ([small + big], bytewise(small + big)):
        assert outcome(chunks, max_value=64) == ([{"a": 1}], "LimitExceeded")


def test_unterminated_value_stops_at_the_limit() -> None:
    d = JsonStreamDecoder(max_value=1000)
    d.feed(b'{"a":"')
    with pytest.raises(LimitExceeded):
        for _ in range(50):
            d.feed(b"x" * 100)


def test_deep_nesting_is_a_limit_error_not_a_crash() -> None:
    stream = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    assert outcome([stream], max_value=1_000_000) == ([], "LimitExceeded")
    # One value per line, and one spread over lines (the scanning path).
    assert outcome([b'{"a":1}\n' + stream], max_value=1_000_000) == ([{"a": 1}], "LimitExceeded")
    assert outcome([b"[\n" + stream + b"]"], max_value=1_000_000) == ([], "LimitExceeded")
    assert outcome(bytewise(b"[" * 300), max_value=1_000_000) == ([], "LimitExceeded")


STREAMS = [
    b'{"response":"one ","done":false}\n{"response":"two ","done":false}\n{"response":"three","done":true}\n',
    b'{"a":1}{"b":[1,{"c":"}"}]}  12 "s\\\\" true\n{\n "p": 1\n}\n3',
    b'[1,2]\n{"x":"\\"\\\\\\""}\n\x1e{"y":null}\n',
]


@pytest.mark.parametrize("stream", STREAMS)
def test_three_way(stream: bytes) -> None:
    whole = decode([stream])
    assert decode(bytewise(stream)) == whole
    r = random.Random(len(stream))
    cuts = sorted(r.sample(range(1, len(stream)), 6))
    parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(parts) == whole
    d = JsonStreamDecoder()
    trailing = d.feed(stream + b'\n{"trailing":true}\n')
    assert trailing == [*whole, {"trailing": True}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(json_values, max_size=6), st.sampled_from(["\n", "", " ", "\r\n", "\x1e"]), st.booleans())
@settings(max_examples=200, deadline=None)
def test_round_trip_any_separator(values: list[Any], sep: str, indent: bool) -> None:
    parts = [json.dumps(v, indent=2 if indent else None) for v in values]
    if sep == "":
        # Scalars need a separator; containers and strings do not.
        sep = " " if any(not isinstance(v, (dict, list, str)) for v in values) else ""
    data = sep.join(parts).encode()
    assert decode(bytewise(data)) == values
    assert decode([data]) == values


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
@settings(max_examples=300, deadline=None)
def test_only_our_errors_and_chunking_never_matters(data: bytes, cuts: list[int]) -> None:
    whole = outcome([data], max_value=64)
    points = sorted({c for c in cuts if 0 < c < len(data)})
    parts = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert outcome(parts, max_value=64) == whole
    assert outcome(bytewise(data), max_value=64) == whole
