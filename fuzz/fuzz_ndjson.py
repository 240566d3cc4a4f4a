"""Fuzz the NDJSON / concatenated-JSON framer: only our errors escape, chunking is invisible."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.errors import PromptwireError
    from sansio_core.streams.ndjson import JsonStreamDecoder

from _common import Outcome, check_chunking, split_input


def run(chunks: list[bytes], limit: int) -> Outcome:
    dec = JsonStreamDecoder(limit)
    out: list[object] = []
    try:
        for chunk in chunks:
            out += dec.feed(chunk)
        out += dec.end()
    except PromptwireError as exc:
        return out, type(exc).__name__
    # NaN never equals itself; compare its text instead.
    return [repr(v) for v in out], None


def test_one_input(data: bytes) -> None:
    limit, cut, payload = split_input(data)
    check_chunking(lambda chunks: run(chunks, limit), payload, cut)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
