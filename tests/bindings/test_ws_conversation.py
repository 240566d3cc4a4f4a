"""``connectionScope: conversation`` and ``initMessages`` through every binding, on loopback.

Handshakes are counted where they happen: at the server (the mock's record,
or a small wsproto server of the test that also sees close frames).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from sansio_core.errors import ConfigError, DeadlineExceeded, PromptwireError, WebSocketClosed

TURN = "data.reply + ' #' + data.turn"


def entry(url: str, **config: Any) -> dict[str, Any]:
    cfg = {"messageTemplate": '{"prompt": {{ prompt | dump }}}', "timeoutMs": 10000,
           "connectionScope": "conversation", "transformResponse": TURN, **config}
    return {"id": url, "config": cfg}


def handshakes(mock: MockServer, tag: str) -> int:
    return sum(1 for r in mock.snapshot() if r.kind == "websocket" and tag in r.target)


def run_sequence(binding: str, config: dict[str, Any], turns: list[tuple[str, dict[str, Any]]],
                 between: float = 0.0) -> list[Any]:
    """Each (prompt, vars) in order on one target of ``binding``; outputs or exceptions."""
    if binding == "sync":
        out: list[Any] = []
        with Target.from_config(config) as target:
            for prompt, vars in turns:
                try:
                    out.append(target.call(prompt, vars).output)
                except PromptwireError as exc:
                    out.append(exc)
                time.sleep(between)
        return out

    async def main() -> list[Any]:
        target = AsyncTarget.from_config(config)
        results: list[Any] = []
        for prompt, vars in turns:
            try:
                results.append((await target.call(prompt, vars)).output)
            except PromptwireError as exc:
                results.append(exc)
            if between:
                await (trio.sleep(between) if binding == "trio" else asyncio.sleep(between))
        await target.aclose()
        return results

    return trio.run(main) if binding == "trio" else asyncio.run(main())


BINDINGS = ["sync", "asyncio", "trio"]


@pytest.mark.parametrize("binding", BINDINGS)
def test_five_calls_of_one_conversation_make_one_handshake(binding: str, mock: MockServer) -> None:
    tag = f"one-{binding}-{uuid.uuid4().hex[:6]}"
    turns = [(f"turn {i}", {"conversationId": "c1"}) for i in range(5)]
    out = run_sequence(binding, entry(f"{mock.ws_url}/ws/chat?t={tag}"), turns)
    assert out == [f"Echo: turn {i} #{i + 1}" for i in range(5)]  # the server remembered every turn
    assert handshakes(mock, tag) == 1


@pytest.mark.parametrize("binding", BINDINGS)
def test_two_conversations_make_two_handshakes(binding: str, mock: MockServer) -> None:
    tag = f"two-{binding}-{uuid.uuid4().hex[:6]}"
    turns = [("a1", {"conversationId": "a"}), ("b1", {"sessionId": "b"}), ("a2", {"conversationId": "a"}),
             ("b2", {"sessionId": "b"}), ("a3", {"conversationId": "a"})]
    out = run_sequence(binding, entry(f"{mock.ws_url}/ws/chat?t={tag}"), turns)
    assert out == ["Echo: a1 #1", "Echo: b1 #1", "Echo: a2 #2", "Echo: b2 #2", "Echo: a3 #3"]
    assert handshakes(mock, tag) == 2


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_dropped_socket_is_reopened_on_the_next_call(binding: str, mock: MockServer) -> None:
    tag = f"drop-{binding}-{uuid.uuid4().hex[:6]}"
    turns = [(f"t{i}", {"conversationId": "c"}) for i in range(5)]
    # The server drops TCP right after every second reply: the socket dies while idle.
    out = run_sequence(binding, entry(f"{mock.ws_url}/ws/chat?t={tag}&drop_after=2"), turns, between=0.05)
    assert out == ["Echo: t0 #1", "Echo: t1 #2", "Echo: t2 #1", "Echo: t3 #2", "Echo: t4 #1"]
    assert handshakes(mock, tag) == 3


@pytest.mark.parametrize("binding", BINDINGS)
def test_calls_without_a_conversation_id_get_their_own_socket(binding: str, mock: MockServer) -> None:
    tag = f"none-{binding}-{uuid.uuid4().hex[:6]}"
    out = run_sequence(binding, entry(f"{mock.ws_url}/ws/chat?t={tag}"), [("x", {}), ("y", {})])
    assert out == ["Echo: x #1", "Echo: y #1"]
    assert handshakes(mock, tag) == 2


@pytest.mark.parametrize("binding", BINDINGS)
def test_call_scope_is_the_default_one_socket_per_call(binding: str, mock: MockServer) -> None:
    tag = f"call-{binding}-{uuid.uuid4().hex[:6]}"
    config = entry(f"{mock.ws_url}/ws/chat?t={tag}")
    del config["config"]["connectionScope"]
    out = run_sequence(binding, config, [("x", {"conversationId": "c"}), ("y", {"conversationId": "c"})])
    assert out == ["Echo: x #1", "Echo: y #1"]
    assert handshakes(mock, tag) == 2


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_refused_reply_keeps_the_conversation(binding: str, mock: MockServer) -> None:
    tag = f"refused-{binding}-{uuid.uuid4().hex[:6]}"
    code = "if (data.turn === 2) throw new Error('turn two refused'); return data.reply + ' #' + data.turn"
    out = run_sequence(binding, entry(f"{mock.ws_url}/ws/chat?t={tag}", transformResponse=code),
                       [(f"t{i}", {"conversationId": "c"}) for i in range(3)])
    assert out[0] == "Echo: t0 #1" and out[2] == "Echo: t2 #3"
    assert isinstance(out[1], PromptwireError) and "turn two refused" in str(out[1])
    assert handshakes(mock, tag) == 1


# -- initMessages ----------------------------------------------------------------------


@pytest.mark.parametrize("binding", BINDINGS)
def test_init_messages_wait_for_ready_then_authenticate(binding: str, mock: MockServer) -> None:
    tag = f"init-{binding}-{uuid.uuid4().hex[:6]}"
    init = [{"waitFor": "^READY$", "message": '{"type": "auth", "token": "{{ token }}"}'},
            {"waitFor": '"auth_ok"'}]
    config = entry(f"{mock.ws_url}/ws/chat?t={tag}&ready=1&token=s3cret", initMessages=init)
    turns = [(f"t{i}", {"conversationId": "c", "token": "s3cret"}) for i in range(3)]
    out = run_sequence(binding, config, turns)
    assert out == ["Echo: t0 #1", "Echo: t1 #2", "Echo: t2 #3"]
    (seen,) = [r for r in mock.snapshot() if r.kind == "websocket" and tag in r.target]
    assert seen.messages[0] == '{"type": "auth", "token": "s3cret"}'  # once, before the first prompt
    assert [m for m in seen.messages if "auth" in str(m)] == [seen.messages[0]]


@pytest.mark.parametrize("binding", BINDINGS)
def test_init_messages_run_on_every_socket_in_call_scope(binding: str, mock: MockServer) -> None:
    tag = f"initcall-{binding}-{uuid.uuid4().hex[:6]}"
    config = entry(f"{mock.ws_url}/ws/chat?t={tag}&token=k",
                   initMessages=['{"type":"auth","token":"k"}', {"waitFor": "auth_ok"}])
    config["config"]["connectionScope"] = "call"
    out = run_sequence(binding, config, [("x", {}), ("y", {})])
    assert out == ["Echo: x #1", "Echo: y #1"]
    assert handshakes(mock, tag) == 2


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_wrong_init_message_fails_with_the_servers_close(binding: str, mock: MockServer) -> None:
    tag = f"badinit-{binding}-{uuid.uuid4().hex[:6]}"
    config = entry(f"{mock.ws_url}/ws/chat?t={tag}&token=right",
                   initMessages=['{"type":"auth","token":"wrong"}', {"waitFor": "auth_ok"}])
    (err, ok) = run_sequence(binding, config, [("x", {"conversationId": "c"}),
                                               ("y", {"conversationId": "c", "x": 1})])
    assert isinstance(err, WebSocketClosed) and err.code == 1008 and "authenticate first" in str(err)
    assert isinstance(ok, WebSocketClosed)  # a fresh socket, the same refusal: nothing stuck


def test_a_wait_that_never_matches_ends_at_the_deadline_naming_the_step(mock: MockServer) -> None:
    config = entry(f"{mock.ws_url}/ws/chat", timeoutMs=400, initMessages=[{"waitFor": "^NEVER$"}])
    started = time.monotonic()
    never = r"initMessages\[0\]: no message matched waitFor '\^NEVER\$'"
    with Target.from_config(config) as target, pytest.raises(DeadlineExceeded, match=never):
        target.call("x", {"conversationId": "c"})
    assert time.monotonic() - started < 3


def test_an_invalid_wait_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"initMessages\[1\]\.waitFor: invalid regular expression"):
        Target.from_config(entry("ws://127.0.0.1:9/ws/chat", initMessages=["hi", {"waitFor": "(unclosed"}]))


# -- order, idle time, close -------------------------------------------------------------


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_concurrent_calls_of_one_conversation_take_turns_in_order(library: str, mock: MockServer) -> None:
    tag = f"order-{library}-{uuid.uuid4().hex[:6]}"
    target = AsyncTarget.from_config(entry(f"{mock.ws_url}/ws/chat?t={tag}&delay_ms=20"))
    outputs: list[str] = []

    async def one(i: int) -> None:
        outputs.append((await target.call(f"m{i}", {"conversationId": "c"})).output)

    async def main() -> None:
        if library == "trio":
            async with trio.open_nursery() as nursery:
                for i in range(6):
                    nursery.start_soon(one, i)
                    await trio.sleep(0.001)  # start order = arrival order
        else:
            tasks = []
            for i in range(6):
                tasks.append(asyncio.ensure_future(one(i)))
                await asyncio.sleep(0.001)
            await asyncio.gather(*tasks)
        await target.aclose()

    trio.run(main) if library == "trio" else asyncio.run(main())
    assert outputs == [f"Echo: m{i} #{i + 1}" for i in range(6)]
    assert handshakes(mock, tag) == 1


def test_threads_share_a_conversation_one_call_at_a_time(mock: MockServer) -> None:
    tag = f"threads-{uuid.uuid4().hex[:6]}"
    with Target.from_config(entry(f"{mock.ws_url}/ws/chat?t={tag}")) as target:
        outputs: list[str] = []
        lock = threading.Lock()

        def worker(i: int) -> None:
            out = target.call(f"m{i}", {"conversationId": "c"}).output
            with lock:
                outputs.append(out)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    turns = sorted(int(o.rsplit("#", 1)[1]) for o in outputs)
    assert turns == list(range(1, 9))  # every call on the one socket, none overlapping
    assert handshakes(mock, tag) == 1


class CountingServer:
    """A WebSocket server that numbers the messages of each connection and records close frames."""

    def __init__(self) -> None:
        self.handshakes = 0
        self.close_codes: list[int] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._sock.getsockname()[1]}/chat"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        turn = 0
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        self.handshakes += 1
                        conn.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        turn += 1
                        conn.sendall(ws.send(TextMessage(data=f'{{"reply": "ok", "turn": {turn}}}')))
                    elif isinstance(event, CloseConnection):
                        self.close_codes.append(int(event.code))
                        conn.sendall(ws.send(event.response()))
                        return

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def counting() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


def _wait_for(predicate: Any) -> bool:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("binding", BINDINGS)
def test_an_idle_conversation_is_closed_with_a_close_frame(binding: str, counting: CountingServer) -> None:
    config = entry(counting.url, conversationIdleTimeoutMs=150)
    turns = [("a", {"conversationId": "c"}), ("b", {"conversationId": "c"})]
    out = run_sequence(binding, config, turns, between=0.4)
    assert out == ["ok #1", "ok #1"]  # the second call found the first socket expired
    assert counting.handshakes == 2
    # the expired socket and, at close, the second one: both said goodbye (1005, no status)
    assert _wait_for(lambda: counting.close_codes == [1005, 1005]), counting.close_codes


def test_closing_the_target_closes_its_conversations(counting: CountingServer) -> None:
    with Target.from_config(entry(counting.url)) as target:
        for conv in ("a", "b", "a"):
            target.call("x", {"conversationId": conv})
        assert counting.handshakes == 2 and counting.close_codes == []
    assert _wait_for(lambda: counting.close_codes == [1005, 1005]), counting.close_codes


def test_a_conversation_records_and_replays(tmp_path: Path, mock: MockServer) -> None:
    tag = f"cassette-{uuid.uuid4().hex[:6]}"
    config = entry(f"{mock.ws_url}/ws/chat?t={tag}")
    cassette = tmp_path / "conv.yaml"
    turns = [("one", "c"), ("two", "c"), ("three", "d")]
    with Target.from_config(config) as target:
        target.use_cassette(cassette, record_mode="all")
        recorded = [target.call(p, {"conversationId": c}).output for p, c in turns]
    assert recorded == ["Echo: one #1", "Echo: two #2", "Echo: three #1"]
    before = handshakes(mock, tag)
    with Target.from_config(config) as target:
        target.use_cassette(cassette, record_mode="none")
        replayed = [target.call(p, {"conversationId": c}).output for p, c in turns]
    assert replayed == recorded
    assert handshakes(mock, tag) == before == 2
