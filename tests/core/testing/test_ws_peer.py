"""The scripted wsproto server: what a script sends, what the server records of the client."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.errors import (
    DeadlineExceeded,
    FailureKind,
    HttpStatusError,
    RetriesExhausted,
    TransportError,
    WebSocketClosed,
)
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

T0 = Instant(10.0, 1_700_000_000.0)


def call(config: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Any:
    cfg = {"messageTemplate": "{{prompt}}", "headers": {"X-Test": "1"}, **(config or {})}
    return WsTarget.compile("ws://ws.test/chat", cfg, Sources(), env or {}).new_call("hi", {}, None, now=T0, seed=1)


def test_the_server_records_the_handshake_and_the_message() -> None:
    server = ScriptedWsServer(on_message=[("text", "answer")])
    run = run_ws_call(call(), server)
    assert run.response.output == "answer"
    assert server.request is not None and server.request.target == "/chat"
    assert ("x-test", "1") in server.request_headers
    assert server.client_messages == ["hi"]
    assert run.closed_by_client


def test_fragments_pings_and_sleeps() -> None:
    server = ScriptedWsServer(on_message=[("ping", b"p1"), ("sleep", 0.25),
                                          ("fragments", [("text", "ans"), ("text", "wer")])])
    run = run_ws_call(call(), server, read_size=3)
    assert run.response.output == "answer"
    assert server.pongs == [b"p1"]
    assert run.elapsed == pytest.approx(0.25)


def test_binary_fragments_reach_the_client_as_one_message() -> None:
    server = ScriptedWsServer(on_message=[("fragments", [("bytes", b"ab"), ("bytes", b"c")])])
    run = run_ws_call(call(), server)
    assert run.response.output == "abc"


@pytest.mark.parametrize(("script", "error", "check"), [
    (ScriptedWsServer(on_message=[("close", 1011, "server broke")]), WebSocketClosed,
     lambda e: e.code == 1011 and e.reason == "server broke"),
    (ScriptedWsServer(on_message=[("drop",)]), WebSocketClosed,
     lambda e: e.code == 1006 and "connection dropped without a close frame" in str(e)),
    (ScriptedWsServer(on_message=[("reset",)]), WebSocketClosed,
     lambda e: e.code == 1006 and "(code 1006: connection reset by peer)" in str(e)),
    (ScriptedWsServer(reject_status=403, reject_body=b"go away"), HttpStatusError, lambda e: e.status == 403),
    (ScriptedWsServer(refuse_connect=FailureKind.REFUSED), RetriesExhausted,
     lambda e: isinstance(e.__cause__, TransportError) and e.__cause__.kind is FailureKind.REFUSED),
    (ScriptedWsServer(on_message=[("sleep", 5.0), ("text", "late")]), DeadlineExceeded, lambda e: e.which == "total"),
])
def test_scripted_failures(script: ScriptedWsServer, error: type, check: Any) -> None:
    run = run_ws_call(call(env={"REQUEST_TIMEOUT_MS": "1000"}), script)
    assert isinstance(run.error, error) and check(run.error)


def test_a_raw_handshake_response_is_sent_as_written() -> None:
    server = ScriptedWsServer(raw_handshake_response=b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    run = run_ws_call(call(), server)
    assert "200" in str(run.error)


def test_an_unknown_script_step_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown script step \('bogus',\)"):
        run_ws_call(call(), ScriptedWsServer(on_message=[("bogus",)]))
