"""Bytes as cassette text, and just enough HTTP / WebSocket parsing to show and match them.

Bytes are stored as text when they are UTF-8: ``text`` for one line, ``lines``
for several (the text split at each ``\n``, so a ``\r`` before it stays
visible and a diff shows one line per change; a trailing ``""`` means the bytes
end with ``\n``); anything else as ``b64``. Client WebSocket frames are
stored unmasked, as messages (``frames``), since their masks are random.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
OPCODE_OF = {v: k for k, v in OPCODES.items()}


def encode_bytes(data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}
    if "\n" not in text:
        return {"text": text}
    return {"lines": text.split("\n")}


def decode_bytes(doc: dict[str, Any]) -> bytes:
    if "text" in doc:
        return str(doc["text"]).encode("utf-8")
    if "lines" in doc:
        return "\n".join(str(x) for x in doc["lines"]).encode("utf-8")
    if "b64" in doc:
        return base64.b64decode(str(doc["b64"]))
    return b""


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# -- HTTP -----------------------------------------------------------------------------


@dataclass
class RequestView:
    """One request as matching and ``cassette show`` see it (or a WebSocket message)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    def header(self, name: str) -> str | None:
        low = name.lower()
        values = [v for k, v in self.headers if k.lower() == low]
        return ", ".join(values) if values else None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return sorted(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    def summary(self) -> str:
        return f"{self.method} {self.url}"


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    return data[: end + 4], data[end + 4:]


def parse_request(data: bytes, origin: str) -> RequestView | None:
    """``origin`` is ``scheme://host[:port]`` of the connection the bytes went to."""
    parts = split_head(data)
    if parts is None:
        return None
    head, body = parts
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0].split(" ")
    if len(request_line) < 3:
        return None
    method, target = request_line[0], request_line[1]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    url = target if "://" in target else origin + target
    return RequestView(method, url, headers, as_text(body))


def origin_of(scheme: str, host: str, port: int) -> str:
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(scheme)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port == default else f"{scheme}://{shown}:{port}"


def response_status(data: bytes) -> str | None:
    first = data.split(b"\r\n", 1)[0]
    if first.startswith(b"HTTP/"):
        return first.decode("latin-1")
    return None


def ws_accept(key: str) -> bytes:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _WS_GUID).digest())


_ACCEPT = re.compile(rb"(?im)^(sec-websocket-accept:[ \t]*)([A-Za-z0-9+/=]+)")


def fix_accept(data: bytes, key: str) -> bytes:
    """Answer a replayed handshake's fresh ``Sec-WebSocket-Key`` (wsproto draws it at random)."""
    return _ACCEPT.sub(lambda m: m.group(1) + ws_accept(key), data, count=1)


# -- WebSocket frames ------------------------------------------------------------------


def parse_frames(data: bytes) -> tuple[list[tuple[int, bool, bytes]], bytes]:
    """Whole frames in ``data`` as (opcode, fin, unmasked payload), and the incomplete rest."""
    frames: list[tuple[int, bool, bytes]] = []
    i = 0
    while True:
        if len(data) - i < 2:
            break
        b0, b1 = data[i], data[i + 1]
        n = b1 & 0x7F
        j = i + 2
        if n == 126:
            if len(data) - j < 2:
                break
            n = int.from_bytes(data[j:j + 2], "big")
            j += 2
        elif n == 127:
            if len(data) - j < 8:
                break
            n = int.from_bytes(data[j:j + 8], "big")
            j += 8
        mask = b""
        if b1 & 0x80:
            if len(data) - j < 4:
                break
            mask = data[j:j + 4]
            j += 4
        if len(data) - j < n:
            break
        payload = data[j:j + n]
        if mask:
            payload = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
        frames.append((b0 & 0x0F, bool(b0 & 0x80), payload))
        i = j + n
    return frames, data[i:]


def encode_frame(opcode: int, fin: bool, payload: bytes) -> bytes:
    """An unmasked frame (as a server sends it), lengths in their shortest form."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


def as_server_frames(data: bytes) -> list[tuple[int, bool, bytes]] | None:
    """``data`` as whole server frames, if re-encoding them gives back exactly ``data``."""
    frames, rest = parse_frames(data)
    if rest or not frames or b"".join(encode_frame(*f) for f in frames) != data:
        return None
    return frames


def frame_doc(opcode: int, fin: bool, payload: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = {"op": OPCODES.get(opcode, str(opcode))}
    if not fin:
        doc["fin"] = False
    if opcode == 8 and len(payload) >= 2:
        doc["code"] = int.from_bytes(payload[:2], "big")
        payload = payload[2:]
    doc.update(encode_bytes(payload) if payload else {})
    return doc


def frame_from_doc(doc: dict[str, Any]) -> tuple[int, bool, bytes]:
    op = doc.get("op", "text")
    opcode = OPCODE_OF[op] if op in OPCODE_OF else int(op)
    payload = decode_bytes(doc)
    if "code" in doc:
        payload = int(doc["code"]).to_bytes(2, "big") + payload
    return opcode, bool(doc.get("fin", True)), payload


def frames_text(frames: list[tuple[int, bool, bytes]]) -> str:
    """Messages as matching compares them (a stable text form)."""
    return "\n".join(f"{OPCODES.get(op, op)}:{as_text(p)}" for op, _, p in frames)


def pretty_body(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return text
