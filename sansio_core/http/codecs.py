"""Which HTTP/1.1 codec a target uses: ``h11``, ``httptools`` or ``auto`` (httptools when installed).

The binding reads ``PROMPTWIRE_HTTP_PARSER`` and passes the name in; the core reads no environment.
"""

from __future__ import annotations

from ..errors import ConfigError
from . import codec_httptools
from .codec import HttpCodec
from .codec_h11 import H11Codec
from .codec_httptools import HttptoolsCodec

H11: HttpCodec = H11Codec()
HTTPTOOLS: HttpCodec | None = HttptoolsCodec() if codec_httptools.AVAILABLE else None
NAMES = ("auto", "h11", "httptools")


def get_codec(name: str | None = None) -> HttpCodec:
    """The codec called ``name`` (``None``, ``""`` and ``auto``: the fastest installed)."""
    choice = (name or "auto").strip().lower()
    if choice == "auto":
        return HTTPTOOLS or H11
    if choice == "h11":
        return H11
    if choice == "httptools":
        if HTTPTOOLS is None:
            raise ConfigError("PROMPTWIRE_HTTP_PARSER=httptools, but httptools is not installed "
                              "(pip install httptools)", "PROMPTWIRE_HTTP_PARSER")
        return HTTPTOOLS
    raise ConfigError(f"PROMPTWIRE_HTTP_PARSER must be one of {', '.join(NAMES)}, not {name!r}",
                      "PROMPTWIRE_HTTP_PARSER")


DEFAULT: HttpCodec = get_codec("auto")

__all__ = ["DEFAULT", "H11", "HTTPTOOLS", "NAMES", "get_codec"]
