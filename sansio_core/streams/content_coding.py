"""Incremental Content-Encoding decoding with a cap on what comes out.

Bodies arrive in chunks and may be streamed to the caller, so decoding is
incremental. Every decompression step is bounded with zlib's ``max_length``:
a small gzip bomb can never expand past ``max_decoded`` bytes in memory before
we notice; it raises ``LimitExceeded`` instead (RFC 9110 section 8.4.1 lists the
codings; we decode the two that servers actually use for JSON and SSE).
"""

from __future__ import annotations

import zlib
from typing import Protocol

from ..errors import LimitExceeded, RemoteProtocolError

_GZIP_MAGIC = b"\x1f\x8b"


class Decoder(Protocol):
    """Feed encoded bytes, get decoded bytes; ``finish()`` at the end of the body."""

    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class IdentityDecoder:
    """No coding: counts bytes so the cap still applies."""

    __slots__ = ("_max", "_total")

    def __init__(self, max_decoded: int) -> None:
        self._max = max_decoded
        self._total = 0

    def feed(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._max:
            raise LimitExceeded(f"response body larger than {self._max} bytes")
        return bytes(data)

    def finish(self) -> bytes:
        return b""


class ZlibDecoder:
    """gzip (multi-member) or deflate (zlib-wrapped, or raw as some servers send it).

    Trailing bytes after the last gzip member that do not start another member
    are ignored, as browsers do.
    """

    __slots__ = ("_coding", "_done", "_head", "_junk", "_max", "_seen", "_total", "_z")

    def __init__(self, coding: str, max_decoded: int) -> None:
        self._coding = coding
        self._max = max_decoded
        self._total = 0
        self._z: zlib._Decompress | None = None
        self._head = b""  # deflate: bytes held back until the wrapper is known
        self._done = False  # a gzip member or deflate stream ended
        self._seen = False  # any input at all
        self._junk = False  # trailing bytes after the end: everything else is ignored

    def feed(self, data: bytes) -> bytes:
        if not data or self._junk:
            return b""
        self._seen = True
        out: list[bytes] = []
        while data:
            if self._done:
                if self._coding != "gzip":
                    self._junk = True  # trailing bytes after a deflate stream
                    return b"".join(out)
                # Another gzip member may follow: need its magic to tell.
                self._head += data
                data = b""
                if len(self._head) < 2:
                    break
                if not self._head.startswith(_GZIP_MAGIC):
                    self._head, self._junk = b"", True
                    return b"".join(out)
                data, self._head = self._head, b""
                self._z, self._done = None, False
            if self._z is None:
                if self._coding == "gzip":
                    self._z = zlib.decompressobj(31)
                else:
                    self._head += data
                    if len(self._head) < 2:
                        return b"".join(out)
                    data, self._head = self._head, b""
                    self._z = zlib.decompressobj(15 if _is_zlib_header(data) else -15)
            data = self._run(data, out)
        return b"".join(out)

    def _run(self, data: bytes, out: list[bytes]) -> bytes:
        """Decompress ``data``; return input left over after the stream's end."""
        z = self._z
        assert z is not None
        while True:
            room = self._max - self._total + 1
            try:
                chunk = z.decompress(data, room)
            except zlib.error as exc:
                raise RemoteProtocolError(f"invalid {self._coding} body: {exc}") from None
            self._total += len(chunk)
            if self._total > self._max:
                raise LimitExceeded(f"decoded {self._coding} body larger than {self._max} bytes")
            if chunk:
                out.append(chunk)
            if z.eof:
                self._done = True
                return z.unused_data
            data = z.unconsumed_tail
            if not data:
                return b""

    def finish(self) -> bytes:
        if not self._seen or self._done:
            return b""
        if self._z is None:
            # Fewer than two bytes of deflate: not a stream at all.
            raise RemoteProtocolError(f"truncated {self._coding} body")
        out: list[bytes] = []
        try:
            tail = self._z.flush()
        except zlib.error as exc:
            raise RemoteProtocolError(f"invalid {self._coding} body: {exc}") from None
        self._total += len(tail)
        if self._total > self._max:
            raise LimitExceeded(f"decoded {self._coding} body larger than {self._max} bytes")
        out.append(tail)
        if not self._z.eof:
            raise RemoteProtocolError(f"truncated {self._coding} body")
        return b"".join(out)


def _is_zlib_header(data: bytes) -> bool:
    """RFC 1950: CM=8 in the low nibble and the 16-bit header a multiple of 31."""
    return (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0


class ChainDecoder:
    """Stacked codings: ``Content-Encoding: gzip, deflate`` was applied left to
    right, so it is undone right to left.

    Each stage has the same cap. When a broken body would fail in two stages,
    which error is raised first can depend on the chunking; whether it fails
    does not (the same holds for a single stage whose body is both corrupt
    and over the cap: zlib finds the corruption earlier or later depending
    on how much input it is given at once).
    """

    __slots__ = ("_stages",)

    def __init__(self, stages: list[Decoder]) -> None:
        self._stages = stages

    def feed(self, data: bytes) -> bytes:
        for stage in self._stages:
            data = stage.feed(data)
        return data

    def finish(self) -> bytes:
        data = b""
        for stage in self._stages:
            data = stage.feed(data) + stage.finish() if data else stage.finish()
        return data


_ALIASES = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


def decoder_for(content_encoding: str | None, max_decoded: int) -> Decoder:
    """A decoder for a ``Content-Encoding`` header value.

    ``identity`` and an absent or empty header decode nothing. Codings we do
    not advertise in ``Accept-Encoding`` (``br``, ``zstd``, ``compress``) are
    refused rather than passed through, so a transform never sees compressed
    bytes as text.

    Raises:
        RemoteProtocolError: the coding is not one we can decode.
    """
    names = [n.strip().lower() for n in (content_encoding or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    if not names:
        return IdentityDecoder(max_decoded)
    stages: list[Decoder] = []
    for name in reversed(names):
        coding = _ALIASES.get(name)
        if coding is None:
            raise RemoteProtocolError(
                f"unsupported Content-Encoding {name!r} (promptwire decodes gzip and deflate)"
            )
        stages.append(ZlibDecoder(coding, max_decoded))
    return stages[0] if len(stages) == 1 else ChainDecoder(stages)


def decode_all(content_encoding: str | None, body: bytes, max_decoded: int) -> bytes:
    """Decode a whole body at once (buffered responses)."""
    dec = decoder_for(content_encoding, max_decoded)
    return dec.feed(body) + dec.finish()


__all__ = ["ChainDecoder", "Decoder", "IdentityDecoder", "ZlibDecoder", "decode_all", "decoder_for"]
