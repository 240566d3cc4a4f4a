"""WebSocket targets through every binding's driver, against the mock server's /ws/ endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sansio_core.call import Call
from sansio_core.errors import (
    DeadlineExceeded,
    HttpStatusError,
    RetriesExhausted,
    TransportError,
    WebSocketClosed,
)
from sansio_core.sources import Sources
from sansio_core.ws.flow import WsTarget

STREAM = """(acc, ev) => {
  const m = JSON.parse(ev.data);
  const prev = typeof acc.output === 'string' ? acc.output : '';
  if (m.type === 'chunk') return [{ output: prev + m.content }, false];
  if (m.type === 'done') return [{ output: prev }, true];
  return [acc, false];
}"""
FINAL = "(acc, ev) => { const m = JSON.parse(ev.data); return m.complete === true ? [{ output: m.text }, true] : [acc, false]; }"
NOISE = "(acc, ev) => { const m = JSON.parse(ev.data); return m.reply ? [{ output: m.reply }, true] : [acc, false]; }"


def ws_target(mock: Any, path: str, **config: Any) -> WsTarget:
    cfg = {"messageTemplate": '{"prompt": {{ prompt | dump }}}', "timeoutMs": 5000, **config}
    return WsTarget.compile(mock.ws_url + path, cfg, Sources(), {})


def calls(target: WsTarget, *prompts: str, timeout_ms: float | None = None) -> Any:
    def make(backend: Any) -> list[Call]:
        return [target.new_call(p, {}, None, now=backend.now(), seed=i, timeout_ms=timeout_ms)
                for i, p in enumerate(prompts)]

    return make


def timed(runner: Any, target: WsTarget, prompt: str = "hi", timeout_ms: float | None = None) -> tuple[Any, float]:
    start = time.monotonic()
    (result,) = runner.run(calls(target, prompt, timeout_ms=timeout_ms))
    return result, time.monotonic() - start


def test_single_reply(runner: Any, mock: Any) -> None:
    first, second = runner.run(calls(ws_target(mock, "/ws/echo-json", transformResponse="data.reply"), "a", "b"))
    assert first == {"output": "Echo: a"}
    assert second == {"output": "Echo: b"}


def test_streamed_chunks_then_done(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/stream?interval_ms=5", streamResponse=STREAM),
                                 "three little words"))
    assert result == {"output": "Echo: three little words"}


def test_interim_deltas_then_final(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/deltas", streamResponse=FINAL), "soup"))
    assert result == {"output": "Echo: soup"}


def test_noise_frames_are_skipped_by_the_handler(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/noise?noise=4", streamResponse=NOISE), "q"))
    assert result == {"output": "Echo: q"}


def test_noise_frame_is_the_answer_without_a_handler(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/noise?noise=1"), "q"))
    assert result == {"output": {"type": "typing"}}


def test_binary_reply_is_read_like_text(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/binary", transformResponse="data.reply"), "b"))
    assert result == {"output": "Echo: b"}
    (raw,) = runner.run(calls(ws_target(mock, "/ws/binary?raw=1"), "b"))
    assert raw["output"]["type"] == "Buffer"


def test_ping_is_answered(runner: Any, mock: Any) -> None:
    (result,) = runner.run(calls(ws_target(mock, "/ws/ping"), "p"))
    assert result["output"]["pong"] is True


@pytest.mark.parametrize("status", [503, 401])
def test_handshake_refused_reports_the_status(runner: Any, mock: Any, status: int) -> None:
    result, _ = timed(runner, ws_target(mock, f"/ws/reject?status={status}"))
    assert isinstance(result, HttpStatusError) and result.status == status
    assert str(status) in str(result)


def test_server_closing_early_fails_at_once(runner: Any, mock: Any) -> None:
    result, elapsed = timed(runner, ws_target(mock, "/ws/close-early?code=1011&reason=bye"))
    assert isinstance(result, WebSocketClosed)
    assert (result.code, result.reason) == (1011, "bye")
    assert elapsed < 1.0


def test_server_closing_mid_stream_fails_at_once(runner: Any, mock: Any) -> None:
    result, elapsed = timed(runner, ws_target(mock, "/ws/close-early?code=1000&partial=half", streamResponse=STREAM))
    assert isinstance(result, WebSocketClosed) and result.code == 1000
    assert elapsed < 1.0


@pytest.mark.parametrize("query", ["", "?reset=1"])
def test_dropped_or_reset_connection_fails_at_once(runner: Any, mock: Any, query: str) -> None:
    result, elapsed = timed(runner, ws_target(mock, "/ws/drop" + query))
    assert isinstance(result, WebSocketClosed) and result.code == 1006
    assert elapsed < 1.0


def test_silent_server_times_out_at_timeout_ms(runner: Any, mock: Any) -> None:
    result, elapsed = timed(runner, ws_target(mock, "/ws/silent", timeoutMs=300))
    assert isinstance(result, DeadlineExceeded)
    assert "300ms" in str(result)
    assert 0.29 <= elapsed < 1.0


def test_connection_refused(runner: Any) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    target = WsTarget.compile(f"ws://127.0.0.1:{port}/ws", {"messageTemplate": "x", "maxRetries": 0}, Sources(), {})
    (result,) = runner.run(calls(target, "x"))
    # As for HTTP, the retry policy's final error, caused by the transport error.
    assert isinstance(result, RetriesExhausted) and isinstance(result.__cause__, TransportError)
    assert "WebSocket connection failed" in str(result)


def test_the_mock_saw_rendered_headers_and_one_message(runner: Any, mock: Any) -> None:
    target = ws_target(mock, "/ws/echo-json?tag={{ tag }}", headers={"X-Tag": "{{ tag }}"})

    def make(backend: Any) -> list[Call]:
        return [target.new_call("hello", {"tag": f"t-{runner.name}"}, None, now=backend.now(), seed=1)]

    (result,) = runner.run(make)
    assert result == {"output": {"reply": "Echo: hello"}}
    seen = [r for r in mock.snapshot() if r.kind == "websocket" and f"t-{runner.name}" in r.target]
    assert seen, "the mock did not record the handshake"
    headers = {k.lower(): v for k, v in seen[-1].headers}
    assert headers["x-tag"] == f"t-{runner.name}"
    assert headers["user-agent"].startswith("promptwire/")
