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

import base64
import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ConfigError

# scheme -> (socket scheme for ``Open``, default port, TLS?)
_SCHEMES = {
    "ws": ("ws", 80, False),
    "wss": ("wss", 443, True),
    "http": ("ws", 80, False),
    "https": ("wss", 443, True),
}

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# WHATWG "C0 control or space" is stripped from both ends; tab and newline anywhere.
_STRIP = "".join(chr(c) for c in range(0x21))
# Code points WHATWG forbids in a domain (after percent-decoding).
_FORBIDDEN_HOST = set("\x00\t\n\r #/:<>?@[\\]^|%")

# Percent-encode sets (WHATWG URL 1.3): the path set and the special-query set.
_C0 = {chr(c) for c in range(0x20)} | {"\x7f"}
_PATH_SET = _C0 | set(" \"#<>?`{}")
_QUERY_SET = _C0 | set(" \"#<>'")


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
        token = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")


def _fail(reason: str) -> ConfigError:
    return ConfigError(f"Failed to create WebSocket connection: {reason}", "url")


def _encode(text: str, keep: set[str]) -> str:
    out = []
    for ch in text:
        if ch in keep or ord(ch) > 0x7E:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def _normalise_path(path: str) -> str:
    """Remove ``.`` and ``..`` segments as WHATWG does (also their %2e forms)."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for i, seg in enumerate(segments):
        low = seg.lower()
        last = i == len(segments) - 1
        if low in ("..", ".%2e", "%2e.", "%2e%2e"):
            if out:
                out.pop()
            if last:
                out.append("")
        elif low in (".", "%2e"):
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _parse_host(raw: str) -> tuple[str, str]:
    """-> (host for connecting, host as written in the Host header)."""
    if raw.startswith("["):
        if not raw.endswith("]") or len(raw) < 3:
            raise _fail("invalid IPv6 address")
        inner = raw[1:-1].lower()
        if not re.fullmatch(r"[0-9a-f:.]+", inner) or inner.count(":") < 2:
            raise _fail("invalid IPv6 address")
        return inner, f"[{inner}]"
    host = unquote(raw)
    if not host:
        raise _fail("the URL has no host")
    if any(ch in _FORBIDDEN_HOST for ch in host):
        raise _fail("the host contains a forbidden character")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise _fail("the host is not a valid domain name") from None
    return ascii_host, ascii_host


def parse_ws_url(url: str) -> WsUrl:
    """Parse a rendered URL the way ``ws`` would; ``ConfigError`` (path ``url``) otherwise."""
    text = url.strip(_STRIP).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME_RE.match(text)
    if not match:
        raise _fail("not an absolute URL")
    scheme = match.group(1).lower()
    if scheme not in _SCHEMES:
        raise _fail(f'the URL\'s protocol must be one of "ws:", "wss:", "http:" or "https:", not "{scheme}:"')
    sock_scheme, default_port, _tls = _SCHEMES[scheme]
    rest = text[match.end():].lstrip("/\\")
    if "#" in rest:
        raise _fail("the URL contains a fragment identifier")
    end = len(rest)
    for sep in "/\\?":
        pos = rest.find(sep)
        if pos != -1:
            end = min(end, pos)
    authority, remainder = rest[:end], rest[end:]

    username = password = ""
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user, _, pw = userinfo.partition(":")
        username, password = unquote(user), unquote(pw)

    port_text = ""
    if authority.startswith("["):
        close = authority.find("]")
        host_part = authority[: close + 1] if close != -1 else authority
        after = authority[len(host_part):]
        if after:
            if not after.startswith(":"):
                raise _fail("invalid host")
            port_text = after[1:]
    else:
        host_part, _, port_text = authority.partition(":")
    host, host_header = _parse_host(host_part)
    port = default_port
    if port_text:
        if not port_text.isdigit() or not port_text.isascii():
            raise _fail("the port is not a number")
        port = int(port_text)
        if port > 65535:
            raise _fail("the port is out of range")
    if port != default_port:
        host_header = f"{host_header}:{port}"

    path, qmark, query = remainder.partition("?")
    path = _normalise_path(path.replace("\\", "/")) if path else "/"
    target = _encode(path, _PATH_SET)
    if qmark:
        target += "?" + _encode(query, _QUERY_SET)
    return WsUrl(
        scheme=sock_scheme,
        host=host,
        port=port,
        target=target,
        host_header=host_header,
        username=username,
        password=password,
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
