"""build_target: one entry point from a provider entry to an HTTP or WebSocket target."""

from __future__ import annotations

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.targets import build_target
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

T0 = Instant(1.0, 1_700_000_000.0)


def test_http_entry_builds_an_http_target_that_calls() -> None:
    entry = parse_provider_entry({"id": "http://api.test/x", "label": "api", "config": {
        "method": "POST", "body": {"p": "{{prompt}}"}, "transformResponse": "json.out"}})
    target = build_target(entry, Sources())
    assert isinstance(target, HttpTarget) and target.label == "api"
    end, rec = run_against(target.new_call("hi", {}, None, now=T0, seed=1),
                           lambda r: ServerReply(200, [("content-type", "application/json")], b'{"out":"yo"}'))
    assert isinstance(end, A.Complete) and end.response.output == "yo"
    assert rec.requests[0].body == b'{"p":"hi"}'


def test_websocket_entry_builds_a_websocket_target_with_the_entry_env() -> None:
    entry = parse_provider_entry({"id": "ws://ws.test/chat", "env": {"GREETING": "hello"}, "config": {
        "messageTemplate": "{{env.GREETING}} {{prompt}}", "transformResponse": "data.toUpperCase()"}})
    target = build_target(entry, Sources())
    assert isinstance(target, WsTarget) and target.label == "ws://ws.test/chat"
    run = run_ws_call(target.new_call("there", {}, None, now=T0, seed=1),
                      ScriptedWsServer(on_message=[("text", "done")]))
    assert run.server.client_messages == ["hello there"]
    assert run.response.output == "DONE"


def test_websocket_config_errors_surface_when_the_target_is_built() -> None:
    entry = parse_provider_entry({"id": "wss://ws.test/", "config": {}})
    with pytest.raises(ConfigError, match="messageTemplate: is required"):
        build_target(entry, Sources())
