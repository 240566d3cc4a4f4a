"""Content-Encoding decoding: gzip and deflate as servers send them, stacked
codings, bombs, truncation and garbage, fed whole and byte by byte."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_core.errors import LimitExceeded, PromptwireError, RemoteProtocolError
from sansio_core.streams.content_coding import decode_all, decoder_for

BODY = ('{"message": "decompressed ✓", "pad": "' + "abc" * 2000 + '"}').encode()
MAX = 1 << 20


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def run(coding: str | None, chunks: list[bytes], max_decoded: int = MAX) -> bytes:
    d = decoder_for(coding, max_decoded)
    return b"".join(d.feed(c) for c in chunks) + d.finish()


def outcome(coding: str | None, chunks: list[bytes], max_decoded: int = MAX) -> tuple[bytes, str | None]:
    d = decoder_for(coding, max_decoded)
    out = b""
    try:
        for c in chunks:
            out += d.feed(c)
        out += d.finish()
    except PromptwireError:
        # A body both corrupt and over the cap may fail with either error,
        # depending on how much input zlib saw at once (docs/streaming.md).
        return b"", "error"
    return out, None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


ENCODED = {
    "gzip": gzip.compress(BODY),
    "x-gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),
    "DEFLATE": raw_deflate(BODY),  # raw deflate, as some servers send it
    "gzip, deflate": zlib.compress(gzip.compress(BODY)),
    "deflate,gzip": gzip.compress(zlib.compress(BODY)),
    "identity": BODY,
    "gzip, identity": gzip.compress(BODY),
}


@pytest.mark.parametrize("coding", list(ENCODED))
def test_three_way(coding: str) -> None:
    data = ENCODED[coding]
    assert run(coding, [data]) == BODY
    assert run(coding, bytewise(data)) == BODY
    assert run(coding, [data[:7], data[7:100], data[100:]]) == BODY


@pytest.mark.parametrize("coding", [None, "", " ", "identity"])
def test_no_coding(coding: str | None) -> None:
    assert run(coding, [b"a", b"bc"]) == b"abc"


def test_gzip_multi_member_and_trailing_garbage() -> None:
    data = gzip.compress(b"hello ") + gzip.compress(b"world") + b"\x00\x00junk"
    assert run("gzip", [data]) == b"hello world"
    assert run("gzip", bytewise(data)) == b"hello world"


def test_trailing_garbage_after_deflate_is_ignored() -> None:
    data = zlib.compress(b"hi") + b"garbage"
    assert run("deflate", [data]) == b"hi" == run("deflate", bytewise(data))


def test_empty_body_with_a_coding_is_empty() -> None:
    assert run("gzip", []) == b"" == run("deflate", [b""])


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_truncated_body(coding: str) -> None:
    data = ENCODED[coding][:-10]
    with pytest.raises(RemoteProtocolError, match=f"truncated {coding} body"):
        run(coding, [data])


def test_one_byte_of_deflate_is_truncated() -> None:
    with pytest.raises(RemoteProtocolError, match="truncated deflate body"):
        run("deflate", [b"x"])


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match="invalid gzip body"):
        run("gzip", [b"this is not gzip at all"])


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br"])
def test_unsupported_coding_is_refused(coding: str) -> None:
    with pytest.raises(RemoteProtocolError, match="unsupported Content-Encoding"):
        decoder_for(coding, MAX)


def test_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip.compress(b"\x00" * (64 << 20), 9)  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 100_000
    d = decoder_for("gzip", 1 << 20)
    seen = 0
    with pytest.raises(LimitExceeded, match="decoded gzip body larger than 1048576 bytes"):
        for i in range(0, len(bomb), 4096):
            chunk = d.feed(bomb[i : i + 4096])
            assert len(chunk) <= (1 << 20) + 1  # never more than the cap in one piece
            seen += len(chunk)
    assert seen <= 1 << 20


def test_nested_bomb_stops_in_the_inner_layer() -> None:
    inner = gzip.compress(b"\x00" * (8 << 20), 9)
    with pytest.raises(LimitExceeded):
        run("gzip, gzip", [gzip.compress(inner)], max_decoded=1 << 20)


def test_identity_body_over_the_cap() -> None:
    with pytest.raises(LimitExceeded, match="larger than 4 bytes"):
        run(None, [b"abc", b"de"], max_decoded=4)


def test_exactly_at_the_cap_is_fine() -> None:
    assert run("gzip", [gzip.compress(b"x" * 100)], max_decoded=100) == b"x" * 100
    with pytest.raises(LimitExceeded):
        run("gzip", [gzip.compress(b"x" * 101)], max_decoded=100)


def test_decode_all() -> None:
    assert decode_all("gzip", ENCODED["gzip"], MAX) == BODY


@given(st.binary(max_size=300), st.sampled_from(["gzip", "deflate", "gzip, deflate", "identity"]))
@settings(max_examples=300, deadline=None)
def test_only_our_errors_and_chunking_never_matters(data: bytes, coding: str) -> None:
    whole = outcome(coding, [data], max_decoded=256)
    assert outcome(coding, bytewise(data), max_decoded=256) == whole


@given(st.binary(max_size=2000), st.integers(1, 50))
@settings(max_examples=100, deadline=None)
def test_round_trip(payload: bytes, step: int) -> None:
    data = gzip.compress(payload)
    assert run("gzip", [data[i : i + step] for i in range(0, len(data), step)]) == payload
