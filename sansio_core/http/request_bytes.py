"""A prepared request as HTTP/1.1 bytes, byte for byte what h11 writes, without h11's per-call cost.

The header names and values were checked by ``message.py``'s rules when the
request was built; here they are re-checked cheaply (one compiled pattern per
value, names cached) and the head is joined in one go. Anything unusual (no
``Host``, ``Transfer-Encoding``, a ``Content-Length`` that is not the body's,
a value that fails the check) goes through h11 as before, so its errors and
its bytes stay the reference.
"""

from __future__ import annotations

import re
from dataclasses import replace

import h11

from ..errors import LocalProtocolError
from ..proxy import ProxyServer, absolute_target
from .message import header_bytes
from .prepared import PreparedRequest

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET = re.compile(r"[\x21-\x7e]+\Z")
# RFC 9110 field-value as h11 checks it: no CTLs, no surrounding whitespace.
_VALUE = re.compile(r"(?:[\x21-\x7e\x80-\U0010ffff](?:[ \t]*[\x21-\x7e\x80-\U0010ffff])*)?\Z")
_GOOD_NAMES: dict[str, bytes] = {}
_MAX_CACHED_NAMES = 4096


def _name(name: str) -> bytes | None:
    got = _GOOD_NAMES.get(name)
    if got is None:
        if not _TOKEN.match(name):
            return None
        got = name.encode("ascii")
        if len(_GOOD_NAMES) < _MAX_CACHED_NAMES:
            _GOOD_NAMES[name] = got
    return got


def encode_request(req: PreparedRequest) -> bytes:
    """The request head and body as bytes; ``LocalProtocolError`` if it cannot be sent."""
    fast = _fast(req)
    return fast if fast is not None else encode_with_h11(req)


def forwarded(req: PreparedRequest, proxy: ProxyServer) -> PreparedRequest:
    """``req`` as sent to a forwarding proxy (plain ``http://`` only): the
    absolute-form request-target and, with credentials, ``Proxy-Authorization``."""
    headers = req.headers
    auth = proxy.authorization()
    if auth is not None:
        headers = (*[(k, v) for k, v in headers if k != "proxy-authorization"], ("proxy-authorization", auth))
    return replace(req, target=absolute_target(req.scheme, req.host, req.port, req.target), headers=headers)


# The checked head of a request line and every header but a final
# ``content-length`` (which follows the body), keyed by those values: a target
# sends the same method, target and headers call after call. Bounded; cleared
# when full.
_HEADS: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[bytes, str | None] | None] = {}
_MAX_CACHED_HEADS = 256


def _fast(req: PreparedRequest) -> bytes | None:
    method, target, body, headers = req.method, req.target, req.body, req.headers
    last = headers[-1] if headers else None
    length: str | None
    if last is not None and last[0] == "content-length":
        key = (method, target, headers[:-1])
        try:
            head = _HEADS[key]
        except KeyError:
            head = _head(method, target, key[2])
            if len(_HEADS) >= _MAX_CACHED_HEADS:
                _HEADS.clear()
            _HEADS[key] = head
        if head is None or head[1] is not None:
            return None  # not for the fast path, or a second content-length
        length = last[1]
        if not _VALUE.match(length):
            return None
        lines = [head[0], b"content-length: %s\r\n\r\n" % header_bytes(length)]
    else:
        head = _head(method, target, headers)
        if head is None:
            return None
        length = head[1]
        lines = [head[0], b"\r\n"]
    if body:
        if length != str(len(body)):
            return None
        lines.append(body)
    elif length not in (None, "0"):
        return None
    return b"".join(lines)


def _head(method: str, target: str, headers: tuple[tuple[str, str], ...]) -> tuple[bytes, str | None] | None:
    """The request line and ``headers`` as bytes (``Host`` first) and the
    ``Content-Length`` among them; ``None`` when h11 must encode the request."""
    if not _TOKEN.match(method) or not _TARGET.match(target):
        return None
    host = b""
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), b""]
    length = None
    for name, value in headers:
        raw = _name(name)
        if raw is None or not _VALUE.match(value):
            return None
        low = name.lower()
        if low == "host":
            if host:
                return None
            host = b"%s: %s\r\n" % (raw, header_bytes(value))
            continue
        if low == "content-length":
            if length is not None:
                return None
            length = value
        elif low == "transfer-encoding":
            return None
        lines.append(b"%s: %s\r\n" % (raw, header_bytes(value)))
    if not host:
        return None
    lines[1] = host
    return b"".join(lines), length


def encode_with_h11(req: PreparedRequest) -> bytes:
    """The reference encoding: h11 validates and frames (our error on failure)."""
    conn = h11.Connection(h11.CLIENT)
    try:
        headers = [(k.encode("ascii"), header_bytes(v)) for k, v in req.headers]
        out = conn.send(h11.Request(method=req.method.encode("ascii"), target=req.target.encode("ascii"),
                                    headers=headers))
        if req.body:
            out += conn.send(h11.Data(data=req.body))
        out += conn.send(h11.EndOfMessage())
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        raise LocalProtocolError(f"cannot send this request: {exc}") from None
    return out or b""


__all__ = ["encode_request", "encode_with_h11", "forwarded"]
