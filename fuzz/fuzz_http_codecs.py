"""Fuzz the two HTTP/1.1 codecs against each other: the same bytes give the same events or an error from both.

Input layout: byte 0 bit 0 = response to HEAD, byte 1 = where to cut, the rest is what the server sent.
Each codec also sees the bytes whole and byte by byte, with the same events.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from sansio_core.http.codecs import H11, HTTPTOOLS
    from sansio_core.testing.codec_twin import disagreement, outcome


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    head_request = bool(data[0] & 1)
    payload = data[2:]
    cut = min(data[1], len(payload))
    for chunks in ([payload], [payload[:cut], payload[cut:]]):
        diff = disagreement(chunks, head_request=head_request)
        if diff is not None:
            raise AssertionError(f"codecs disagree on {payload!r} (cut {cut}):\n{diff}")
    for codec in (H11, HTTPTOOLS):
        if codec is None:
            continue
        whole = outcome(codec, [payload], head_request=head_request)
        bytewise = outcome(codec, [payload[i:i + 1] for i in range(len(payload))], head_request=head_request)
        # Reuse depends on what arrived with the end of the message, so only the events must match.
        if whole[:2] != bytewise[:2]:
            raise AssertionError(f"{codec.name}: chunking changed the result on {payload!r}:\n"
                                 f" whole={whole!r}\n bytes={bytewise!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
