"""HttpTarget end to end against an h11 peer: vars, pre-steps, retries, streaming, debug metadata."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import RetriesExhausted
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.driver import VirtualClock, drive
from sansio_core.testing.h11_peer import H11Peer, HttpRecording, SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(1.0, 1_700_000_000.0)
ENV = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}
JSON_OK = ServerReply(200, [("content-type", "application/json")], b'{"ok":1}')


def target(config: Mapping[str, Any], provider_id: str = "http://api.test/x") -> HttpTarget:
    return HttpTarget.compile(parse_provider_entry({"id": provider_id, "config": dict(config)}), Sources(env=ENV))


def go(config: Mapping[str, Any], context: Mapping[str, Any] | None = None, vars: Mapping[str, Any] | None = None,
       handler: Callable[[SeenRequest], ServerReply] = lambda r: JSON_OK) -> tuple[A.Action, HttpRecording]:
    return run_against(target(config).new_call("hi", vars or {}, context, now=T0, seed=1), handler)


def test_context_vars_then_call_vars_then_prompt_and_evaluation_id() -> None:
    end, rec = go({"method": "POST", "body": {"a": "{{a}}", "b": "{{b}}", "p": "{{prompt}}", "e": "{{evaluationId}}"}},
                  context={"vars": {"a": "ctx", "b": "ctx", "prompt": "ignored"}, "evaluationId": "ev-1"},
                  vars={"b": "call"})
    assert isinstance(end, A.Complete)
    assert json.loads(rec.requests[0].body) == {"a": "ctx", "b": "call", "p": "hi", "e": "ev-1"}


def test_prompt_config_tools_win_over_the_provider_tools() -> None:
    config = {"method": "POST", "body": {"tools": "{{tools}}", "choice": "{{tool_choice}}"},
              "tools": [{"type": "function", "function": {"name": "provider_tool"}}], "tool_choice": "auto"}
    _, rec = go(config)
    sent = json.loads(rec.requests[0].body)
    assert sent["tools"][0]["function"]["name"] == "provider_tool"
    _, rec = go(config, context={"prompt": {"raw": "hi", "config": {
        "tools": [{"type": "function", "function": {"name": "prompt_tool"}}]}}})
    sent = json.loads(rec.requests[0].body)
    assert sent["tools"][0]["function"]["name"] == "prompt_tool"
    assert sent["choice"] == "auto"  # the prompt set no tool_choice: the provider's stays


def test_a_dropped_connection_is_retried_and_the_attempts_are_counted() -> None:
    replies = iter([ServerReply(raw=b"", close=True), JSON_OK])
    end, rec = go({"maxRetries": 2}, handler=lambda r: next(replies))
    assert isinstance(end, A.Complete) and end.response.output == {"ok": 1}
    assert len(rec.requests) == 2
    assert end.response.timing is not None and end.response.timing["attempts"] == 2
    assert sum(isinstance(a, A.Sleep) for a, _, _ in rec.steps) == 1


def test_no_retry_once_part_of_the_text_was_streamed() -> None:
    event = b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    broken = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 1000\r\n\r\n" + event)
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(raw=broken, close=True)

    call = target({"maxRetries": 3}).new_call("hi", {}, None, now=T0, seed=1)
    run = drive(call, H11Peer(handler), VirtualClock(T0, 0.001))
    assert run.deltas == ["Hel"]
    assert isinstance(run.terminal, A.Fail) and isinstance(run.terminal.error, RetriesExhausted)
    assert str(run.terminal.error).endswith("not retried: part of the text was already streamed")
    assert len(seen) == 1


def test_debug_metadata_of_a_raw_request_redacts_secrets() -> None:
    raw = 'POST /x HTTP/1.1\nHost: api.test\nContent-Type: application/json\n\n{"q":"{{prompt}}","api_key":"sk-1"}'
    end, rec = go({"request": raw}, context={"debug": True})
    assert isinstance(end, A.Complete)
    assert json.loads(rec.requests[0].body) == {"q": "hi", "api_key": "sk-1"}
    meta = end.response.metadata
    assert meta["http"]["requestHeaders"] == {"host": "api.test", "content-type": "application/json"}
    assert meta["finalRequestBody"] == '{"q":"hi","api_key":"[REDACTED]"}'
    assert meta["transformedRequest"] == ("POST /x HTTP/1.1\nhost: api.test\ncontent-type: application/json\n\n"
                                          '{"q":"hi","api_key":"[REDACTED]"}')


def test_debug_metadata_of_a_transformed_raw_request_shows_the_transformed_prompt() -> None:
    raw = "POST /x HTTP/1.1\nHost: api.test\nContent-Type: text/plain\n\nhello {{prompt}}"
    end, rec = go({"request": raw, "transformRequest": "prompt + '!'"}, context={"debug": True})
    assert isinstance(end, A.Complete)
    assert rec.requests[0].body == b"hello hi!"
    assert end.response.metadata["transformedRequest"] == "hi!"
    assert end.response.metadata["finalRequestBody"] == "hello hi!"


def test_debug_metadata_of_a_json_request() -> None:
    end, _ = go({"method": "POST", "headers": {"X-Key": "v"}, "body": {"q": "{{prompt}}"}}, context={"debug": True})
    assert isinstance(end, A.Complete)
    meta = end.response.metadata
    assert meta["finalRequestBody"] == {"q": "hi"} and meta["transformedRequest"] == "hi"
    assert meta["http"]["requestHeaders"] == {"x-key": "v", "content-type": "application/json"}


def test_without_debug_no_request_details_are_reported() -> None:
    end, _ = go({"method": "POST", "body": {"q": "{{prompt}}"}})
    assert isinstance(end, A.Complete)
    assert "finalRequestBody" not in end.response.metadata and "requestHeaders" not in end.response.metadata["http"]
