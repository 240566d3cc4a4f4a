"""Shared pieces of the fuzz harnesses (not a harness itself).

Each harness checks one invariant (h11 ``fuzz/README.rst`` style): only
``PromptwireError`` subclasses escape a decoder, and feeding the same bytes
whole, in two pieces or byte by byte gives the same result. Input layout:
byte 0 picks the decoder's size limit, byte 1 where to cut, the rest is the
stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Outcome = tuple[list[Any], str | None]


def split_input(data: bytes) -> tuple[int, int, bytes]:
    if len(data) < 2:
        return 1 << 20, 0, data
    limit = 1 << 20 if data[0] == 255 else 8 + data[0] * 4
    return limit, data[1], data[2:]


def check_chunking(run: Callable[[list[bytes]], Outcome], payload: bytes, cut: int) -> None:
    whole = run([payload])
    cut = min(cut, len(payload))
    halves = run([payload[:cut], payload[cut:]])
    bytewise = run([payload[i : i + 1] for i in range(len(payload))])
    if not (whole == halves == bytewise):
        raise AssertionError(
            f"chunking changed the result:\n whole={whole!r}\n halves={halves!r}\n bytes={bytewise!r}"
        )
