"""Fuzz gzip/deflate decoding: only our errors escape, chunking is invisible,
and no piece of output is larger than the cap."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.errors import PromptwireError
    from sansio_core.streams.content_coding import decoder_for

from _common import Outcome, check_chunking, split_input

CODINGS = ["gzip", "deflate", "gzip, deflate", "identity"]


def run(chunks: list[bytes], coding: str, limit: int) -> Outcome:
    dec = decoder_for(coding, limit)
    out = b""
    try:
        for chunk in chunks:
            piece = dec.feed(chunk)
            if len(piece) > limit:
                raise AssertionError(f"{len(piece)} bytes out, cap {limit}")
            out += piece
        out += dec.finish()
    except PromptwireError:
        # zlib reports a corrupt stream at a point that depends on how much
        # input it was given, so a body that is both corrupt and over the cap
        # may fail with either error (and stacked codings with either stage's
        # error); whether the body fails never depends on the chunking.
        return [], "error"
    if len(out) > limit:
        raise AssertionError(f"{len(out)} bytes decoded, cap {limit}")
    return [out], None


def test_one_input(data: bytes) -> None:
    limit, cut, payload = split_input(data)
    coding = CODINGS[cut % len(CODINGS)]
    check_chunking(lambda chunks: run(chunks, coding, limit), payload, cut)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
