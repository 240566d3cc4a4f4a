"""A minimal keep-alive HTTP server that answers every request with one pre-built response
(mode ``json`` or ``sse:N``), or a WebSocket server answering each message with N delta
frames and a done frame (mode ``ws:N``).

It does just enough parsing (head end + Content-Length) to stay in sync with a
keep-alive client, so the client, not the server, is what a benchmark measures.
Runs in its own process, pinned to the other core when there are two.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys
from collections.abc import Callable

ANSWER = "The quick brown fox jumps over the lazy dog. " * 4
BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52},
}).encode()
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def sse_response(events: int) -> bytes:
    chunks = []
    for i in range(events):
        chunk = {"id": "c", "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": {"content": f"tok{i} "}}]}
        chunks.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    chunks.append(b"data: [DONE]\n\n")
    body = b"".join(chunks)
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


class Prebuilt(asyncio.Protocol):
    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            length = 0
            i = head.find(b"content-length:")
            if i >= 0:
                length = int(head[i + 15:].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(buf) < total:
                return
            del buf[:total]
            self.transport.write(self.response)  # type: ignore[attr-defined]


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server frame (FIN set)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


def ws_reply(deltas: int) -> bytes:
    """The answer to one message: ``deltas`` delta frames, then a done frame."""
    frames = [ws_frame(1, json.dumps({"type": "delta", "delta": f"tok{i} "}).encode()) for i in range(deltas)]
    frames.append(ws_frame(1, b'{"type":"done"}'))
    return b"".join(frames)


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class PrebuiltWs(asyncio.Protocol):
    """A WebSocket server reduced to what a benchmark needs: answer the upgrade,
    answer each text message with the pre-built frames, echo a close and hang up."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.buf = bytearray()
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[:end + 4]
            i = head.lower().find(b"sec-websocket-key:")
            key = head[i + 18:].split(b"\r\n", 1)[0].strip()
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"  # type: ignore[attr-defined]
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.open = True
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = int.from_bytes(buf[2:10], "big"), 10
            at += 4 if buf[1] & 0x80 else 0  # client frames are masked
            if len(buf) < at + n:
                return
            del buf[:at + n]
            if opcode == 1 or opcode == 2:
                self.transport.write(self.reply)  # type: ignore[attr-defined]
            elif opcode == 8:
                self.transport.write(b"\x88\x00")  # type: ignore[attr-defined]
                self.transport.close()  # type: ignore[attr-defined]
                return


async def main(port_file: str, mode: str) -> None:
    loop = asyncio.get_running_loop()
    factory: Callable[[], asyncio.Protocol]
    if mode.startswith("ws:"):
        reply = ws_reply(int(mode.split(":")[1]))
        factory = lambda: PrebuiltWs(reply)  # noqa: E731
    else:
        response = sse_response(int(mode.split(":")[1])) if mode.startswith("sse:") else RESPONSE
        factory = lambda: Prebuilt(response)  # noqa: E731
    server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(port_file + ".tmp", port_file)
    await server.serve_forever()


if __name__ == "__main__":
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {os.cpu_count() - 1})  # type: ignore[operator]
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "json"))
