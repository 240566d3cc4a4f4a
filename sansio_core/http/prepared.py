"""``PreparedRequest``: a fully rendered HTTP request, ready for the wire.

Request building (structured or raw) ends here; the exchange starts here.
Header names are lower-cased str, values str, in the order they will be sent;
``host`` is included. The body is the exact bytes to send, or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    method: str
    scheme: str  # "http" or "https"
    host: str  # as used to connect and for SNI (no brackets for IPv6)
    port: int
    target: str  # origin-form request-target: path + "?" + query
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    url: str  # the full URL, for messages and metadata
    # For multipart bodies, the parts as built (``context.debug`` reports them
    # as ``metadata.multipart`` instead of the body text).
    multipart_parts: tuple[Any, ...] | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def header(self, name: str) -> str | None:
        """The last value of a header (names are compared lower-cased)."""
        name = name.lower()
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


__all__ = ["PreparedRequest"]
