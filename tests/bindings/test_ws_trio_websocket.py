"""WebSocket targets against trio-websocket, a server peer we did not write, in every binding.

The server runs in its own thread (its own trio loop) on 127.0.0.1:0. Its
endpoints: /reply answers once, /stream sends chunks then done, /close
closes with 1011, /drop closes TCP without a close frame, /reset resets the
connection, /silent never answers.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from sansio_core.call import Call
from sansio_core.errors import DeadlineExceeded, WebSocketClosed
from sansio_core.sources import Sources
from sansio_core.ws.flow import WsTarget

STREAM = ("(acc, ev) => { const m = JSON.parse(ev.data); const p = acc.output || ''; "
          "return m.done ? [{ output: p }, true] : [{ output: p + m.t }, false]; }")


async def _handler(request: WebSocketRequest) -> None:
    ws = await request.accept(subprotocol="json" if "json" in request.proposed_subprotocols else None)
    path = request.path.split("?")[0]
    try:
        prompt = await ws.get_message()
        if path == "/reply":
            await ws.send_message(json.dumps({"text": f"got {prompt}", "sub": ws.subprotocol}))
            await trio.sleep(1)
        elif path == "/stream":
            for piece in ("Hel", "lo"):
                await ws.send_message(json.dumps({"t": piece}))
                await trio.sleep(0.01)
            await ws.send_message(json.dumps({"done": True}))
            await trio.sleep(1)
        elif path == "/close":
            await ws.aclose(code=1011, reason="tw going away")
        elif path in ("/drop", "/reset"):
            stream: Any = ws._stream
            if path == "/reset":
                stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()
        elif path == "/silent":
            await trio.sleep(5)
    except Exception:
        pass


class _Server:
    def __init__(self) -> None:
        self.port = 0
        self._ready = threading.Event()
        self._token: Any = None
        self._scope: trio.CancelScope | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as nursery:
                server = await nursery.start(serve_websocket, _handler, "127.0.0.1", 0, None)
                self.port = server.port
                self._ready.set()

    def __enter__(self) -> _Server:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._scope is not None
        trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(5)


@pytest.fixture(scope="module")
def tw() -> Iterator[_Server]:
    with _Server() as server:
        yield server


def run_one(runner: Any, tw: _Server, path: str, **config: Any) -> tuple[Any, float]:
    cfg = {"messageTemplate": "{{ prompt }}", "timeoutMs": 5000, **config}
    target = WsTarget.compile(f"ws://127.0.0.1:{tw.port}{path}", cfg, Sources(), {})

    def make(backend: Any) -> list[Call]:
        return [target.new_call("hi", {}, None, now=backend.now(), seed=1)]

    start = time.monotonic()
    (result,) = runner.run(make)
    return result, time.monotonic() - start


def test_reply_with_negotiated_subprotocol(runner: Any, tw: _Server) -> None:
    result, _ = run_one(runner, tw, "/reply", protocols=["chat", "json"])
    assert result == {"output": {"text": "got hi", "sub": "json"}}


def test_stream(runner: Any, tw: _Server) -> None:
    result, _ = run_one(runner, tw, "/stream", streamResponse=STREAM)
    assert result == {"output": "Hello"}


def test_close_with_code(runner: Any, tw: _Server) -> None:
    result, elapsed = run_one(runner, tw, "/close")
    assert isinstance(result, WebSocketClosed)
    assert (result.code, result.reason) == (1011, "tw going away")
    assert elapsed < 1.0


@pytest.mark.parametrize("path", ["/drop", "/reset"])
def test_drop_and_reset(runner: Any, tw: _Server, path: str) -> None:
    result, elapsed = run_one(runner, tw, path)
    assert isinstance(result, WebSocketClosed) and result.code == 1006
    assert elapsed < 1.0


def test_silent(runner: Any, tw: _Server) -> None:
    result, elapsed = run_one(runner, tw, "/silent", timeoutMs=250)
    assert isinstance(result, DeadlineExceeded)
    assert 0.24 <= elapsed < 1.0
