"""Bounded file reads shared by every backend (key files, CA bundles, uploads are small)."""

from __future__ import annotations


def read_bounded(path: str, max_bytes: int) -> bytes:
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(f"{path} is larger than {max_bytes} bytes")
    return data
