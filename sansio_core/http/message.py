"""HTTP message rules shared by every request builder (structured, raw, pre-steps, the
WebSocket handshake): methods, header names and values, identity headers, framing.

One place for each rule, so a header that is illegal in a structured request is
illegal in a raw one and in a handshake too, with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .._version import __version__
from ..errors import ConfigError, TemplateError
from ..js.jsvalue import js_json
from .urls import Url, utf8


class _Unchanged:
    """The prompt was not transformed (no ``transformRequest``, or it returned it as is)."""

    _instance: _Unchanged | None = None

    def __new__(cls) -> _Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()

USER_AGENT = f"promptwire/{__version__}"
# What promptwire sends unless the config sets the header itself: its own
# identity instead of promptfoo's x-promptfoo-version / user-agent: node, and
# the encodings the response path can decode.
IDENTITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("accept", "*/*"),
    ("user-agent", USER_AGENT),
    ("accept-encoding", "gzip, deflate"),
)
# Methods fetch normalises to upper case (Fetch Standard, "normalize a method");
# every other method is sent exactly as rendered (``patch`` stays ``patch``).
_NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
BODYLESS_METHODS = frozenset({"GET", "HEAD"})
# Node sends ``content-length: 0`` for these when there is no body.
_PAYLOAD_METHODS = frozenset({"POST", "PUT", "PATCH"})
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
HTTP_WS = " \t\r\n"
# RFC 9110 5.5 field-value: VCHAR, obs-text, SP and HTAB only (h11 enforces it).
ILLEGAL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
MANAGED_HEADERS = frozenset({"content-length", "transfer-encoding"})

GET_WITH_BODY = (
    "a {method} request cannot have a body: remove `body`, or set `method` to POST (or another method "
    "that takes a body)"
)
OBJECT_BODY_NOT_JSON = (
    "Content-Type is not application/json, but body is an object or array. The body must be a string "
    "if the Content-Type is not application/json."
)


# -- small helpers used by both request modes --------------------------------------------


def header_bytes(value: str) -> bytes:
    """The bytes of a header value on the wire.

    Latin-1 when every character fits (so values behave as Node sends them,
    byte for byte), else UTF-8: a non-Latin-1 character has no Latin-1 byte,
    and UTF-8 is what servers that accept such values expect (RFC 9110 5.5
    calls non-ASCII octets "obs-text" and leaves their meaning to the peer).
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return utf8(value)


def normalize_method(method: str) -> str:
    """Fetch's method normalisation: only the six standard tokens are upper-cased."""
    upper = method.upper()
    return upper if upper in _NORMALIZED_METHODS else method


def check_header_name(name: str, where: str) -> str:
    if not TOKEN.match(name):
        raise ConfigError(f"{name!r} is not a valid HTTP header name", where)
    return name.lower()


def check_header_value(name: str, value: str) -> str:
    """The characters HTTP forbids in a field value (RFC 9110 5.5), as our error, never h11's."""
    if ILLEGAL_IN_VALUE.search(value):
        raise TemplateError(
            f"header {name!r} contains a line break or another control character after rendering; "
            "header values must be a single line of text"
        )
    return value


def clean_header_value(name: str, value: str) -> str:
    """Fetch's header value normalisation (surrounding whitespace trimmed), then the HTTP rule."""
    return check_header_value(name, value.strip(HTTP_WS))


def json_escaped_vars(vars: Mapping[str, Any]) -> dict[str, Any]:
    """Each top-level string var as its JSON string literal without the quotes (spec 6.3, 9.2)."""
    return {k: (js_json(v)[1:-1] if isinstance(v, str) else v) for k, v in vars.items()}


def encode_body(text: str) -> bytes:
    return utf8(text)


def finish_headers(headers: dict[str, str], method: str, body: bytes | None) -> tuple[tuple[str, str], ...]:
    """Identity defaults unless configured, then the content-length Node would compute."""
    for name, value in IDENTITY_HEADERS:
        if name not in headers:
            headers[name] = value
    headers.pop("content-length", None)
    if body is not None:
        headers["content-length"] = str(len(body))
    elif method in _PAYLOAD_METHODS:
        headers["content-length"] = "0"
    return tuple(headers.items())


def url_for_messages(url: Url) -> str:
    """The URL without credentials or fragment (never put secrets in errors)."""
    return f"{url.scheme}://{url.host_header}{url.target}"


def content_type_is_json(headers: Mapping[str, str]) -> bool:
    """promptfoo's rule: any ``content-type*`` header whose value contains ``application/json``."""
    return any(name.startswith("content-type") and "application/json" in value for name, value in headers.items())
