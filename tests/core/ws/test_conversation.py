"""Conversations on one socket and ``initMessages``, in the core (virtual clock, scripted server)."""

from __future__ import annotations

from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request

from sansio_core import actions as A
from sansio_core.errors import ConfigError, DeadlineExceeded
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.conversation import Conversations, conversation_id
from sansio_core.ws.flow import WsTarget
from sansio_core.ws.url import parse_ws_url
from sansio_core.ws.wire import close_frame

T0 = Instant(mono=100.0, wall=1_700_000_000.0)


def target(**config: Any) -> WsTarget:
    return WsTarget.compile("ws://ws.test/chat", {"messageTemplate": "{{ prompt }}", **config}, Sources(), {})


def test_init_messages_go_first_each_after_its_wait() -> None:
    server = ScriptedWsServer(on_open=[("text", "hello"), ("text", "READY")], on_message=[("text", "ok")])
    t = target(initMessages=[{"waitFor": "^READY$", "message": "auth {{ token }}"}, "second"])
    run = run_ws_call(t.new_call("the prompt", {"token": "t1"}, None, now=T0, seed=1), server)
    assert isinstance(run.terminal, A.Complete) and run.terminal.response.output == "ok"
    # "hello" did not match and was skipped; both init messages precede the prompt
    assert server.client_messages == ["auth t1", "second", "the prompt"]


def test_a_wait_that_never_matches_names_the_step() -> None:
    server = ScriptedWsServer(on_open=[("text", "nope")])
    t = target(timeoutMs=500, initMessages=["x", {"waitFor": "READY"}])
    run = run_ws_call(t.new_call("p", {}, None, now=T0, seed=1), server)
    assert isinstance(run.terminal, A.Fail) and isinstance(run.terminal.error, DeadlineExceeded)
    assert "initMessages[1]: no message matched waitFor 'READY'" in run.terminal.error.message


def test_a_conversation_call_keeps_its_socket_for_the_next() -> None:
    server = ScriptedWsServer(on_message=[("text", "ok")])
    t = target(connectionScope="conversation", conversationIdleTimeoutMs=2500)
    run = run_ws_call(t.new_call("p", {"conversationId": 7}, None, now=T0, seed=1), server)
    assert isinstance(run.terminal, A.Complete)
    (open_,) = [a for a in run.actions if isinstance(a, A.Open)]
    assert open_.reuse_ok and open_.keep_tag is not None and "7" in open_.keep_tag
    release = run.actions[-2]
    assert isinstance(release, A.Release) and release.reusable and release.idle_s == 2.5
    assert release.farewell[:2] == b"\x88\x80" and len(release.farewell) == 6
    assert server.client_close_code is None  # no close frame: the socket stays open
    assert not any(isinstance(a, A.Close) for a in run.actions)


def test_a_call_without_a_conversation_id_closes_its_socket() -> None:
    server = ScriptedWsServer(on_message=[("text", "ok")])
    run = run_ws_call(target(connectionScope="conversation").new_call("p", {}, None, now=T0, seed=1), server)
    (open_,) = [a for a in run.actions if isinstance(a, A.Open)]
    assert open_.keep_tag is None and not open_.reuse_ok
    assert server.client_close_code == 1005


def test_conversation_id_prefers_conversation_id_and_stringifies() -> None:
    assert conversation_id({"conversationId": "a", "sessionId": "b"}) == "a"
    assert conversation_id({"sessionId": 12}) == "12"
    assert conversation_id({"conversationId": "", "sessionId": "s"}) == "s"
    assert conversation_id({"conversationId": None}) is None
    assert conversation_id({}) is None


def test_tags_separate_targets_conversations_and_urls() -> None:
    one, two = Conversations(60), Conversations(60)
    url_a, url_b = parse_ws_url("ws://h/a"), parse_ws_url("ws://h/b")
    assert one.tag("c", url_a) == one.tag("c", url_a)
    assert one.tag("c", url_a) != two.tag("c", url_a)
    assert one.tag("c", url_a) != one.tag("d", url_a) != one.tag("c", url_b)


def test_kept_wires_are_handed_out_once_and_forgotten_when_idle() -> None:
    book = Conversations(idle_s=10)
    url = parse_ws_url("ws://h/a")
    book.keep(book.tag("old", url), "wire-old", now=0.0)
    assert book.take(book.tag("old", url)) == "wire-old"
    assert book.take(book.tag("old", url)) is None  # owned by the call that took it
    book.keep(book.tag("old", url), "wire-old", now=0.0)
    for i in range(70):  # past the sweep threshold, much later
        book.keep(book.tag(str(i), url), f"wire-{i}", now=100.0)
    assert book.take(book.tag("old", url)) is None
    assert book.take(book.tag("3", url)) == "wire-3"


def test_the_farewell_is_a_close_frame_a_server_reads_as_1005() -> None:
    server = WSConnection(ConnectionType.SERVER)
    client = WSConnection(ConnectionType.CLIENT)
    server.receive_data(client.send(Request(host="h", target="/")))
    next(server.events())
    client.receive_data(server.send(AcceptConnection()))
    next(client.events())
    server.receive_data(close_frame(b"\x01\x02\x03\x04"))
    (event,) = list(server.events())
    assert isinstance(event, CloseConnection) and int(event.code) == 1005


@pytest.mark.parametrize("items, where", [
    ([{"waitFor": "("}], r"initMessages\[0\]\.waitFor"),
    ([{"message": "{{ unclosed"}], r"initMessages\[0\]\.message"),
    (["ok", 5], r"initMessages"),
    ([{"waitFor": "(a+)+$"}], r"initMessages\[0\]\.waitFor: a repetition inside a repetition"),
    ([{"waitFor": r"^(\w+\s?)*$"}], r"initMessages\[0\]\.waitFor: a repetition inside a repetition"),
])
def test_bad_init_messages_are_config_errors(items: list[Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        target(initMessages=items)


def test_unknown_scope_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="connectionScope"):
        target(connectionScope="socket")


def test_wait_for_searches_a_bounded_prefix_of_each_message() -> None:
    # A quadratic pattern on a huge hostile message stays fast: only the prefix is searched.
    huge = "x" * 4_000_000
    server = ScriptedWsServer(on_open=[("text", huge), ("text", "x ready")], on_message=[("text", "ok")])
    t = target(initMessages=[{"waitFor": ".*ready.*", "message": "go"}])
    run = run_ws_call(t.new_call("p", {}, None, now=T0, seed=1), server)
    assert isinstance(run.terminal, A.Complete) and server.client_messages == ["go", "p"]
