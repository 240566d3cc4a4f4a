"""WebSocket URLs: which socket to open and which request-target to send.

promptfoo hands the rendered URL to Node's ``ws`` library, which parses it
with the WHATWG URL parser, accepts ``ws:``/``wss:`` plus ``http:``/``https:``
(upgraded as ws/wss), and refuses a fragment. This module reproduces the
parts of WHATWG parsing that change bytes on the wire for those schemes:
percent-encoding of the path and query, dot-segment removal, backslashes as
slashes, lower-cased and IDNA-encoded hosts, default ports and userinfo.
Errors never quote the URL: a templated URL may carry tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..auth.static import basic_credentials
from ..errors import ConfigError, UrlError
from ..http.urls import parse_url

# scheme -> (socket scheme for ``Open``, the special scheme WHATWG parses it as).
_SCHEMES = {"ws": ("ws", "http"), "wss": ("wss", "https"), "http": ("ws", "http"), "https": ("wss", "https")}
_SCHEME_RE = re.compile(r"^[\x00-\x20]*([A-Za-z][A-Za-z0-9+.\-]*):")


@dataclass(frozen=True, slots=True)
class WsUrl:
    """A parsed WebSocket URL, ready for ``Open`` and the handshake."""

    scheme: str  # "ws" or "wss"
    host: str  # for connecting and SNI; IPv6 without brackets
    port: int
    target: str  # path + optional "?query"
    host_header: str  # host[:port] as sent in Host (port only when not the default)
    username: str = ""
    password: str = ""

    @property
    def tls(self) -> bool:
        return self.scheme == "wss"

    def basic_auth(self) -> str | None:
        """``Authorization`` value for userinfo in the URL, as ``ws`` sends it."""
        if not self.username and not self.password:
            return None
        return basic_credentials(self.username, self.password)


def _fail(reason: str) -> ConfigError:
    return ConfigError(f"Failed to create WebSocket connection: {reason}", "url")


def parse_ws_url(url: str) -> WsUrl:
    """Parse a rendered URL the way ``ws`` would; ``ConfigError`` (path ``url``) otherwise.

    ws and wss are WHATWG "special" schemes with the same rules (and default
    ports) as http and https, so the http parser does the work.
    """
    match = _SCHEME_RE.match(url)
    if not match:
        raise _fail("not an absolute URL")
    scheme = match.group(1).lower()
    if scheme not in _SCHEMES:
        raise _fail(f'the URL\'s protocol must be one of "ws:", "wss:", "http:" or "https:", not "{scheme}:"')
    sock_scheme, as_scheme = _SCHEMES[scheme]
    try:
        parsed = parse_url(as_scheme + ":" + url[match.end():])
    except UrlError as exc:
        raise _fail(str(exc)) from None
    if parsed.fragment is not None:
        raise _fail("the URL contains a fragment identifier")
    return WsUrl(
        scheme=sock_scheme,
        host=parsed.connect_host,
        port=parsed.effective_port,
        target=parsed.target,
        host_header=parsed.host_header,
        username=unquote(parsed.username),
        password=unquote(parsed.password),
    )


_SECRET_NAME = re.compile(r"(token|key|secret|password|passwd|pwd|auth|signature|sig|credential|session)", re.I)


def redact_url(url: str) -> str:
    """The URL with secret-looking query values and userinfo replaced, for ids and messages."""
    head, qmark, query = url.partition("?")
    head = re.sub(r"(//)[^/@]*@", r"\1[REDACTED]@", head)
    if not qmark:
        return head
    query, hashmark, frag = query.partition("#")
    parts = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        parts.append(f"{name}=%5BREDACTED%5D" if eq and _SECRET_NAME.search(unquote(name)) else item)
    return head + "?" + "&".join(parts) + (hashmark + frag if hashmark else "")


__all__ = ["WsUrl", "parse_ws_url", "redact_url"]
