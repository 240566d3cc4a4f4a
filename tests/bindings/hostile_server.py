"""A deliberately hostile HTTP/WebSocket server for ``test_hostile.py``, run in its own process.

    python tests/bindings/hostile_server.py   # prints the port, serves until stdin closes

``/<scenario>?m=hostile`` runs the scenario's misbehaviour; any other request
gets a well-formed keep-alive answer (``fine``, or for a WebSocket an echo of
``fine``), so a test can check that the next call on the same target works.
One thread per connection, blocking sockets: every misbehaviour stops as soon
as the client goes away, so the client's file descriptors are all it holds.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

CRLF = b"\r\n"
STOP_AFTER_S = 20.0  # no misbehaviour outlives this, whatever the client does


class Gone(Exception):
    """The client closed its side."""


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.started = time.monotonic()

    def send(self, data: bytes) -> None:
        if time.monotonic() - self.started > STOP_AFTER_S:
            raise Gone()
        try:
            self.sock.sendall(data)
        except OSError:
            raise Gone() from None

    def pause(self, seconds: float) -> None:
        """Sleep, but notice a client that hangs up meanwhile."""
        self.sock.settimeout(seconds)
        try:
            got = self.sock.recv(65536, socket.MSG_PEEK)
        except TimeoutError:
            return
        except OSError:
            raise Gone() from None
        finally:
            self.sock.settimeout(None)
        if not got:
            raise Gone()
        self.sock.recv(len(got))  # discard whatever the client sent

    def read_head(self) -> bytes:
        while CRLF + CRLF not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Gone()
            self.buf += chunk
        head, self.buf = self.buf.split(CRLF + CRLF, 1)
        return head

    def read_body(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Gone()
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return body

    def rst(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        raise Gone()


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        parts = urlsplit(target)
        self.path = parts.path
        self.query = parts.query
        self.mode = parse_qs(parts.query).get("m", [""])[0]
        self.body = body


def read_request(c: Conn) -> Request:
    head = c.read_head().decode("latin-1")
    line, *lines = head.split("\r\n")
    method, target, _ = line.split(" ", 2)
    headers = {}
    for h in lines:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = c.read_body(int(headers.get("content-length", "0") or 0))
    return Request(method, target, headers, body)


def answer(c: Conn, status: str, body: bytes, *headers: str, close: bool = False) -> None:
    hs = [f"HTTP/1.1 {status}", f"content-length: {len(body)}", "content-type: text/plain", *headers]
    if close:
        hs.append("connection: close")
    c.send(("\r\n".join(hs) + "\r\n\r\n").encode("latin-1") + body)


# -- HTTP misbehaviours ----------------------------------------------------------------

def forever(c: Conn, data: bytes, pause: float = 0.0) -> None:
    while True:
        c.send(data)
        if pause:
            c.pause(pause)


def silent(c: Conn, r: Request) -> None:
    while True:
        c.pause(0.5)


def slowloris_head(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\n")
    forever(c, b"x", 0.05)


def slowloris_headers(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\n")
    i = 0
    while True:
        c.send(f"x-h{i}: {i}\r\n".encode())
        i += 1
        c.pause(0.05)


def slow_body(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
    forever(c, b"a", 0.05)


def continue_flood(c: Conn, r: Request) -> None:
    forever(c, b"HTTP/1.1 100 Continue\r\n\r\n" * 64)


def continue_drip(c: Conn, r: Request) -> None:
    forever(c, b"HTTP/1.1 100 Continue\r\n\r\n", 0.01)


def processing_then_ok(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n")
    answer(c, "200 OK", b"fine")
    serve_rest(c)


def huge_header(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\nx-big: ")
    forever(c, b"a" * 65536)


def many_headers(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\n")
    forever(c, b"x-a: b\r\n" * 4096)


def huge_status_line(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 ")
    forever(c, b"O" * 65536)


def bad_chunk_size(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    c.pause(5)


def overflow_chunk_size(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\nhello\r\n")
    c.pause(5)


def endless_chunk_ext(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=")
    forever(c, b"e" * 65536)


def negative_length(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\nhello")
    c.pause(5)


def conflicting_lengths(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello")
    c.pause(5)


def bad_status(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 abc What\r\ncontent-length: 0\r\n\r\n")
    c.pause(5)


def garbage(c: Conn, r: Request) -> None:
    c.send(b"\x00\xff\x13garbage that is no HTTP at all\r\n\r\n")
    c.pause(5)


def bad_header_bytes(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\nx-bad\x00name: v\r\ncontent-length: 0\r\n\r\n")
    c.pause(5)


def gzip_bomb(c: Conn, r: Request) -> None:
    answer_raw(c, BOMB_GZIP, "content-encoding: gzip")


def deflate_bomb(c: Conn, r: Request) -> None:
    answer_raw(c, BOMB_DEFLATE, "content-encoding: deflate")


def bad_gzip(c: Conn, r: Request) -> None:
    answer_raw(c, b"\x1f\x8b\x08\x00not really gzip at all", "content-encoding: gzip")


def answer_raw(c: Conn, body: bytes, *headers: str) -> None:
    answer(c, "200 OK", body, *headers, close=True)
    c.pause(5)


def body_too_large(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n")
    forever(c, b"a" * 262144)


def endless_chunked(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"a" * 65536
    forever(c, b"%x\r\n%s\r\n" % (len(chunk), chunk))


def truncated_length(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..")
    c.sock.close()
    raise Gone()


def truncated_chunked(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
    c.sock.close()
    raise Gone()


def reset_mid_body(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"a" * 5000)
    time.sleep(0.05)
    c.rst()


def reset_before_answer(c: Conn, r: Request) -> None:
    c.rst()


def close_before_answer(c: Conn, r: Request) -> None:
    c.sock.close()
    raise Gone()


def half_close(c: Conn, r: Request) -> None:
    c.sock.shutdown(socket.SHUT_WR)
    c.pause(5)


def longer_than_length(c: Conn, r: Request) -> None:
    # Five bytes announced, more sent: the rest must not poison the next exchange.
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\nfine"
           b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nHACKED")
    serve_rest(c)


def keepalive_then_close(c: Conn, r: Request) -> None:
    answer(c, "200 OK", b"fine")  # says keep-alive, then hangs up
    c.sock.close()
    raise Gone()


def unsolicited_after(c: Conn, r: Request) -> None:
    # The answer and an unrequested second response in one write, so the client
    # sees them together (a second write could race the client's next request:
    # no HTTP/1.1 client can tell those bytes from the next answer).
    c.send(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\nfine"
           b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nHACKED")
    c.pause(5)


def status_500(c: Conn, r: Request) -> None:
    answer(c, "500 Internal Server Error", b"boom")
    serve_rest(c)


def retry_after_huge(c: Conn, r: Request) -> None:
    answer(c, "429 Too Many Requests", b"slow down", "retry-after: 100000")
    serve_rest(c)


def sse_flood(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    forever(c, b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n' * 512)


def sse_drip(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    forever(c, b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n', 0.01)


def sse_huge_event(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: ")
    forever(c, b"a" * 65536)


def sse_comment_flood(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    forever(c, b":\n" * 8192)


def ndjson_flood(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\r\n")
    forever(c, b'{"response":"x"}\n' * 1024)


def redirect_loop(c: Conn, r: Request) -> None:
    answer(c, "302 Found", b"", f"location: {r.target}")
    serve_rest(c)


def redirect_chain(c: Conn, r: Request) -> None:
    # /redirect_chain/<n>?m=hostile -> n+1 ... never ends
    n = int(r.path.rsplit("/", 1)[-1]) if r.path.count("/") > 1 else 0
    answer(c, "301 Moved Permanently", b"", f"location: /redirect_chain/{n + 1}?{r.query}")
    serve_rest(c)


def redirect_to_ok(c: Conn, r: Request) -> None:
    answer(c, "302 Found", b"", "location: /final?m=ok")
    serve_rest(c)


def redirect_307_echo(c: Conn, r: Request) -> None:
    answer(c, "307 Temporary Redirect", b"", "location: /echo?m=ok")
    serve_rest(c)


def redirect_bad_location(c: Conn, r: Request) -> None:
    answer(c, "302 Found", b"", "location: http://[::1")
    serve_rest(c)


def redirect_to_closed_port(c: Conn, r: Request) -> None:
    answer(c, "302 Found", b"", f"location: http://127.0.0.1:{CLOSED_PORT}/x")
    serve_rest(c)


def redirect_ftp(c: Conn, r: Request) -> None:
    answer(c, "302 Found", b"", "location: ftp://127.0.0.1/x")
    serve_rest(c)


# -- WebSocket misbehaviours -------------------------------------------------------------

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(c: Conn, r: Request) -> None:
    key = r.headers.get("sec-websocket-key", "").encode()
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
    c.send(("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            f"sec-websocket-accept: {accept}\r\n\r\n").encode())


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def ws_ping_flood(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    forever(c, frame(0x9, b"p") * 256)


def ws_fragment_flood(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    c.send(frame(0x1, b"x", fin=False))
    forever(c, frame(0x0, b"", fin=False) * 256)


def ws_silent(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    silent(c, r)


def ws_huge_frame(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    c.send(bytes([0x81, 127]) + struct.pack("!Q", 1 << 40))
    forever(c, b"a" * 65536)


def ws_bad_frame(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    c.send(bytes([0xF1, 0x01]) + b"x")  # reserved bits set
    c.pause(5)


def ws_close_at_once(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    c.send(frame(0x8, struct.pack("!H", 1011) + b"nope"))
    c.pause(2)


def ws_bad_accept(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
           b"sec-websocket-accept: wrong\r\n\r\n")
    c.pause(5)


def ws_slow_handshake(c: Conn, r: Request) -> None:
    c.send(b"HTTP/1.1 101 Switching Protocols\r\n")
    forever(c, b"x", 0.05)


def ws_ok(c: Conn, r: Request) -> None:
    ws_accept(c, r)
    while True:  # answer every text message with "fine"
        while len(c.buf) < 2:
            got = c.sock.recv(65536)
            if not got:
                raise Gone()
            c.buf += got
        b1 = c.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            n, off = struct.unpack("!H", c.read_min(4)[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack("!Q", c.read_min(10)[2:10])[0], 10
        total = off + 4 + n
        data = c.read_min(total)
        opcode = data[0] & 0x0F
        c.buf = c.buf[total:]
        if opcode == 0x8:
            c.send(frame(0x8, b"\x03\xe8"))
            raise Gone()
        if opcode == 0x1:
            c.send(frame(0x1, b"fine"))


def _read_min(self: Conn, n: int) -> bytes:
    while len(self.buf) < n:
        got = self.sock.recv(65536)
        if not got:
            raise Gone()
        self.buf += got
    return self.buf


Conn.read_min = _read_min  # type: ignore[attr-defined]

HTTP: dict[str, Callable[[Conn, Request], None]] = {f.__name__: f for f in [
    silent, slowloris_head, slowloris_headers, slow_body, continue_flood, continue_drip, processing_then_ok,
    huge_header, many_headers, huge_status_line, bad_chunk_size, overflow_chunk_size, endless_chunk_ext,
    negative_length, conflicting_lengths, bad_status, garbage, bad_header_bytes, gzip_bomb, deflate_bomb,
    bad_gzip, body_too_large, endless_chunked, truncated_length, truncated_chunked, reset_mid_body,
    reset_before_answer, close_before_answer, half_close, longer_than_length, keepalive_then_close,
    unsolicited_after, status_500, retry_after_huge, sse_flood, sse_drip, sse_huge_event, sse_comment_flood,
    ndjson_flood, redirect_loop, redirect_chain, redirect_to_ok, redirect_307_echo, redirect_bad_location,
    redirect_to_closed_port, redirect_ftp,
]}
WS: dict[str, Callable[[Conn, Request], None]] = {f.__name__: f for f in [
    ws_ping_flood, ws_fragment_flood, ws_silent, ws_huge_frame, ws_bad_frame, ws_close_at_once,
    ws_bad_accept, ws_slow_handshake,
]}


def serve_rest(c: Conn) -> None:
    """Keep serving the connection: each later request is routed again."""
    while True:
        route(c, read_request(c))


def route(c: Conn, r: Request) -> None:
    name = r.path.strip("/").split("/")[0]
    if r.headers.get("upgrade", "").lower() == "websocket":
        (WS.get(name, ws_ok) if r.mode == "hostile" else ws_ok)(c, r)
        raise Gone()
    if r.mode == "hostile" and name in HTTP:
        HTTP[name](c, r)
        raise Gone()
    serve_ok(c, r)


def serve_ok(c: Conn, r: Request) -> None:
    if r.path == "/echo":
        answer(c, "200 OK", f"{r.method} {r.body.decode()}".encode())
    else:
        answer(c, "200 OK", b"fine")


def handle(sock: socket.socket) -> None:
    c = Conn(sock)
    try:
        serve_rest(c)
    except (Gone, OSError, ValueError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


BOMB_GZIP = gzip.compress(b"\0" * (80 * 1024 * 1024), compresslevel=9)
BOMB_DEFLATE = zlib.compress(b"\0" * (80 * 1024 * 1024), 9)
_closed = socket.socket()
_closed.bind(("127.0.0.1", 0))
CLOSED_PORT = _closed.getsockname()[1]  # bound, never listening: connection refused
_closed_keep = _closed


def main() -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)
    print(srv.getsockname()[1], CLOSED_PORT, flush=True)

    def accept() -> None:
        while True:
            sock, _ = srv.accept()
            threading.Thread(target=handle, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()  # the test closes our stdin to stop us
    os._exit(0)


if __name__ == "__main__":
    main()
