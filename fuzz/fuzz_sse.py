"""Fuzz the text/event-stream decoder: only our errors escape, chunking is invisible."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.errors import PromptwireError
    from sansio_core.streams.sse import SseDecoder

from _common import Outcome, check_chunking, split_input


def run(chunks: list[bytes], limit: int, strict: bool) -> Outcome:
    dec = SseDecoder(limit, strict=strict)
    out: list[object] = []
    try:
        for chunk in chunks:
            out += dec.feed(chunk)
        out += dec.end()
    except PromptwireError as exc:
        return out, type(exc).__name__
    return out, None


def test_one_input(data: bytes) -> None:
    limit, cut, payload = split_input(data)
    strict = bool(cut & 1)
    check_chunking(lambda chunks: run(chunks, limit, strict), payload, cut)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
