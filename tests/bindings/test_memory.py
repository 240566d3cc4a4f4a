"""Peak memory of one large SSE body: growth stays under 3 x the body (issue 9, item 9).

Each case runs in a fresh interpreter (the peak RSS is a high-water mark for
the whole process): the growth of the peak from the RSS after the imports and
a warm-up call. The server is a separate process, so its copy of the body does
not count: a tiny threaded socket server sending 60 MB of OpenAI-style chunks
with a Content-Length, or with chunked transfer encoding as streaming APIs do.
The result is checked too (every delta arrived, ``raw`` and ``output`` are the
whole body).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

BODY = 60_000_000
PIECE = 900  # characters of content per event

SERVER = r'''
import socket, sys, threading
size, piece = int(sys.argv[1]), int(sys.argv[2])
event = ('data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % ("x" * piece)).encode()
def sse(n):
    return event * n + b"data: [DONE]\n\n"
big, small = sse(size // len(event)), sse(3)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print(srv.getsockname()[1], len(big), size // len(event), flush=True)
def serve(c):
    f = c.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            length = 0
            while (h := f.readline()) not in (b"\r\n", b""):
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            f.read(length)
            body = small if b"/small" in line else big
            head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            if b"/chunked" not in line:
                c.sendall(head + b"content-length: %d\r\n\r\n" % len(body))
                c.sendall(body)
                continue
            c.sendall(head + b"transfer-encoding: chunked\r\n\r\n")
            view = memoryview(body)
            for i in range(0, len(body), 1 << 16):
                part = view[i:i + (1 << 16)]
                c.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            c.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''

CLIENT = r'''
import asyncio, json, resource, sys
binding, mode, framing, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from promptwire.api import AsyncTarget, Target

def status(field):
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))
    except (OSError, StopIteration):
        return None

def maxrss():
    # Linux: VmHWM, this process's own peak. ru_maxrss also counts the peak of
    # the process that forked us (it survives exec), here a big pytest process.
    peak = status("VmHWM:")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def rss_now():
    # The current RSS as the baseline: the peak so far may be higher (imports),
    # which would hide part of the growth.
    now = status("VmRSS:")
    return now if now is not None else maxrss()

entry = {"id": f"http://127.0.0.1:{port}/", "config": {"method": "POST", "body": {"q": "{{prompt}}"}}}
got = {}

def check(path, chars, response, before):
    if path == "big":
        got["growth"] = maxrss() - before
        got["chars"] = chars
        got["raw"] = len(response["raw"])
        got["same"] = response["output"] is response["raw"] or response["output"] == response["raw"]

def entry_for(path):
    return {**entry, "id": entry["id"] + path + "/" + framing}

def run_sync(path, before):
    with Target.from_config(entry_for(path), seed=1) as target:
        chars, response = 0, None
        if mode == "stream":
            for item in target.stream("hi"):
                if isinstance(item, str):
                    chars += len(item)
                else:
                    response = item
        else:
            response = target.call("hi")
        check(path, chars, response, before)

async def run_async(path, before):
    # The response stays inside the coroutine: on Python 3.11 asyncio.run
    # takes a full repr() of its main task's result (see docs/streaming.md).
    target = AsyncTarget.from_config(entry_for(path), seed=1)
    try:
        chars, response = 0, None
        if mode == "stream":
            async for item in target.stream("hi"):
                if isinstance(item, str):
                    chars += len(item)
                else:
                    response = item
        else:
            response = await target.call("hi")
        check(path, chars, response, before)
    finally:
        await target.aclose()

def run(path):
    before = rss_now()
    if binding == "sync":
        run_sync(path, before)
    elif binding == "asyncio":
        asyncio.run(run_async(path, before))
    else:
        import trio
        trio.run(run_async, path, before)

run("small")
run("big")
print(json.dumps(got))
'''


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, int, int]]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(BODY), str(PIECE)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port, size, events = map(int, proc.stdout.readline().split())
        yield port, size, events
    finally:
        proc.kill()
        proc.wait()


CASES = [(binding, mode, "length") for binding in ("sync", "asyncio", "trio") for mode in ("stream", "call")]
CASES += [("sync", "stream", "chunked"), ("asyncio", "call", "chunked")]


@pytest.mark.slow
@pytest.mark.parametrize(("binding", "mode", "framing"), CASES)
def test_large_sse_body_peak_rss(server: tuple[int, int, int], binding: str, mode: str, framing: str) -> None:
    port, size, events = server
    done = subprocess.run([sys.executable, "-c", CLIENT, binding, mode, framing, str(port)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["raw"] == size and got["same"]
    assert got["chars"] == (events * PIECE if mode == "stream" else 0)
    ratio = got["growth"] / size
    print(f"{binding} {mode} {framing}: peak RSS growth {got['growth'] / 1e6:.0f} MB = {ratio:.2f} x the body")
    assert ratio < 3, f"peak RSS grew by {ratio:.2f} x the body"
