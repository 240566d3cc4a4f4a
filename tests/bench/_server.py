"""A minimal keep-alive HTTP server that answers every request with one pre-built response.

It does just enough parsing (head end + Content-Length) to stay in sync with a
keep-alive client, so the client, not the server, is what a benchmark measures.
Runs in its own process, pinned to the other core when there are two.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

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


async def main(port_file: str, mode: str) -> None:
    response = sse_response(int(mode.split(":")[1])) if mode.startswith("sse:") else RESPONSE
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Prebuilt(response), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(port_file + ".tmp", port_file)
    await server.serve_forever()


if __name__ == "__main__":
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {os.cpu_count() - 1})  # type: ignore[operator]
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "json"))
