"""The WebSocket flow against a real wsproto server peer in memory, on a virtual clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.errors import (
    ConfigError,
    DeadlineExceeded,
    FailureKind,
    HttpStatusError,
    LimitExceeded,
    RemoteProtocolError,
    RetriesExhausted,
    TargetReportedError,
    TemplateError,
    TransformError,
    TransportError,
    WebSocketClosed,
)
from sansio_core.js.jsvalue import UNDEFINED
from sansio_core.limits import Limits
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, WsRun, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

URL = "ws://127.0.0.1:8765/ws"
T0 = Instant(mono=100.0, wall=1_700_000_000.0)


def target(config: dict[str, Any], entry_id: str = URL, env: dict[str, str] | None = None,
           **kw: Any) -> WsTarget:
    cfg = {"messageTemplate": "{{ prompt }}", **config}
    return WsTarget.compile(entry_id, cfg, Sources(), env or {}, **kw)


def run(t: WsTarget, server: ScriptedWsServer, prompt: str = "hi", vars: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None, read_size: int | None = None) -> WsRun:
    return run_ws_call(t.new_call(prompt, vars or {}, context, now=T0, seed=7), server, read_size=read_size)


def reply(*steps: Any, **kw: Any) -> ScriptedWsServer:
    return ScriptedWsServer(on_message=list(steps), **kw)


# -- handshake ---------------------------------------------------------------------------


def test_handshake_carries_rendered_headers_target_and_host() -> None:
    t = target(
        {
            "url": "ws://127.0.0.1:8765/sessions/{{ sid }}?u={{ user | urlencode }}&q={{ prompt }}",
            "headers": {"Authorization": "Bearer {{ token }}", "X-Custom": "v1", "X-Num": 3},
        },
        entry_id="websocket",
    )
    server = reply(("text", "ok"))
    result = run(t, server, "hi there", {"sid": "abc-1", "user": "a b&c", "token": "T0K"})
    assert result.response == {"output": "ok"}
    assert server.request is not None
    assert server.request.target == "/sessions/abc-1?u=a%20b%26c&q=hi%20there"
    assert server.request.host == "127.0.0.1:8765"
    headers = dict(server.request_headers)
    assert headers["authorization"] == "Bearer T0K"
    assert headers["x-custom"] == "v1"
    assert headers["x-num"] == "3"
    assert headers["user-agent"].startswith("promptwire/")
    assert "sec-websocket-extensions" not in headers  # no compression offered


def test_configured_user_agent_and_host_win() -> None:
    t = target({"headers": {"User-Agent": "mine/1", "Host": "api.example"}})
    server = reply(("text", "ok"))
    run(t, server)
    assert server.request is not None and server.request.host == "api.example"
    assert [v for k, v in server.request_headers if k == "user-agent"] == ["mine/1"]


def test_url_userinfo_becomes_basic_auth() -> None:
    server = reply(("text", "ok"))
    run(target({}, entry_id="ws://us%40er:p%3Ass@127.0.0.1:8765/ws"), server)
    assert dict(server.request_headers)["authorization"] == "Basic dXNAZXI6cDpzcw=="


def test_protocols_are_offered_and_the_selection_accepted() -> None:
    server = reply(("text", "ok"), subprotocol="json")
    result = run(target({"protocols": " chat.v1 , json "}), server)
    assert result.response == {"output": "ok"}
    assert server.request is not None and server.request.subprotocols == ["chat.v1", "json"]


def test_protocols_offered_but_none_selected_fails_precisely() -> None:
    server = reply(("text", "ok"))
    err = run(target({"protocols": ["a"]}), server).error
    assert isinstance(err, RemoteProtocolError)
    assert "selected no subprotocol" in str(err) and "a" in str(err)
    assert server.client_messages == []


def test_hand_set_subprotocol_header_is_an_offer() -> None:
    # promptfoo fails this handshake (ws-provider-spec 4.4, WS-31); here it works.
    server = reply(("text", "ok"), subprotocol="chat")
    result = run(target({"headers": {"Sec-WebSocket-Protocol": "chat"}}), server)
    assert result.response == {"output": "ok"}


def test_handshake_owned_headers_are_not_duplicated() -> None:
    server = reply(("text", "ok"))
    run(target({"headers": {"Upgrade": "nope", "Sec-WebSocket-Version": "8"}}), server)
    assert [v for k, v in server.request_headers if k == "upgrade"] == ["websocket"]
    assert [v for k, v in server.request_headers if k == "sec-websocket-version"] == ["13"]


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (401, False), (404, False)])
def test_handshake_refusal_reports_the_status(status: int, retryable: bool) -> None:
    server = ScriptedWsServer(reject_status=status, reject_body=b"busy")
    result = run(target({"maxRetries": 0}), server)  # retries: tests/core/ws/test_handshake.py
    err = result.error
    assert isinstance(err, HttpStatusError)
    assert err.status == status and err.retryable is retryable
    assert f"HTTP {status}" in str(err)
    assert server.client_messages == []
    assert result.elapsed == 0


def test_garbage_handshake_response_is_a_protocol_error() -> None:
    server = ScriptedWsServer(raw_handshake_response=b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    err = run(target({}), server).error
    assert isinstance(err, RemoteProtocolError)
    assert "handshake" in str(err)


def test_connect_failure_keeps_its_kind() -> None:
    err = run(target({"maxRetries": 0}), ScriptedWsServer(refuse_connect=FailureKind.REFUSED)).error
    # As for HTTP: the retry policy's final error, caused by the transport error.
    assert isinstance(err, RetriesExhausted) and "connection refused" in str(err)
    cause = err.__cause__
    assert isinstance(cause, TransportError) and cause.kind is FailureKind.REFUSED
    assert "REFUSED" in str(err)


def test_wss_and_https_urls_open_tls_sockets() -> None:
    for url, scheme, port in [("wss://example.com/x", "wss", 443), ("https://example.com:8443/x", "wss", 8443),
                              ("http://example.com/x", "ws", 80)]:
        t = target({"url": url}, entry_id="websocket")
        open_action = t.new_call("p", {}, None, now=T0, seed=1).next_action()
        assert isinstance(open_action, A.Open)
        assert (open_action.scheme, open_action.port, open_action.reuse_ok) == (scheme, port, False)
        if scheme == "wss":
            assert open_action.tls is not None and open_action.tls.server_name == "example.com"
            assert open_action.tls.verify is True
        else:
            assert open_action.tls is None


# -- the message and single-response mode -----------------------------------------------------


def test_message_is_sent_verbatim_even_when_not_json() -> None:
    server = reply(("text", '{"ok":true}'))
    t = target({"messageTemplate": '{"prompt": "{{prompt}}", "user": "{{user}}"}'})
    result = run(t, server, 'say "hi" \\ now', {"user": "O'Brien"})
    assert server.client_messages == ['{"prompt": "say "hi" \\ now", "user": "O\'Brien"}']
    assert result.response == {"output": {"ok": True}}
    assert server.client_close_code == 1005  # our close frame carries no status, like promptfoo's


@pytest.mark.parametrize(
    ("frame", "output"),
    [('{"answer":"A","n":1}', {"answer": "A", "n": 1}), ("just text", "just text"), ("42", 42),
     ("null", None), ("  true  ", True), ('{"error":"upstream bad"}', {"error": "upstream bad"}),
     ("NaN", "NaN")],
)
def test_first_message_without_transform(frame: str, output: Any) -> None:
    result = run(target({}), reply(("text", frame), ("text", "second")))
    assert result.response == {"output": output}


def test_transform_gets_parsed_data_and_may_return_a_full_response() -> None:
    t = target({"transformResponse": lambda data: {"output": data["text"], "tokenUsage": {"total": data["n"]}}})
    result = run(t, reply(("text", '{"text":"T","n":5}')))
    assert result.response == {"output": "T", "tokenUsage": {"total": 5}}


def test_transform_error_field_fails_the_call_with_its_text() -> None:
    t = target({"transformResponse": lambda data: {"error": "remote: " + data["error"]}})
    result = run(t, reply(("text", '{"error":"model overloaded"}')))
    assert isinstance(result.error, TargetReportedError)
    assert str(result.error) == "remote: model overloaded"
    assert result.server.client_close_code == 1005


@pytest.mark.parametrize("value", [UNDEFINED, {"output": UNDEFINED, "note": 1}, {"error": ""}])
def test_no_output_fails(value: Any) -> None:
    result = run(target({"transformResponse": lambda data: value}), reply(("text", "{}")))
    assert isinstance(result.error, TransformError)
    assert "No output" in str(result.error)


def test_transform_exception_is_wrapped() -> None:
    def boom(data: Any) -> Any:
        raise KeyError("b")

    err = run(target({"transformResponse": boom}), reply(("text", "{}"))).error
    assert isinstance(err, TransformError)
    assert str(err).startswith("Failed to process response: ")


def test_response_parser_is_used_only_without_transform_response() -> None:
    t = target({"responseParser": lambda d: d["b"]})
    assert run(t, reply(("text", '{"a":"A","b":"B"}'))).response == {"output": "B"}
    t = target({"transformResponse": lambda d: d["a"], "responseParser": lambda d: d["b"]})
    assert run(t, reply(("text", '{"a":"A","b":"B"}'))).response == {"output": "A"}


def test_server_speaks_first_its_greeting_is_the_answer_after_our_message() -> None:
    server = ScriptedWsServer(on_open=[("text", '{"type":"welcome"}')], on_message=[("text", "answer")])
    result = run(target({}), server, "my question")
    assert result.response == {"output": {"type": "welcome"}}
    assert server.client_messages == ["my question"]


def test_binary_utf8_frame_is_read_like_text() -> None:
    assert run(target({}), reply(("bytes", b'{"a":1}'))).response == {"output": {"a": 1}}


def test_binary_non_utf8_frame_is_the_buffer_shape() -> None:
    result = run(target({}), reply(("bytes", b"\xff\x00\x01")))
    assert result.response == {"output": {"type": "Buffer", "data": [255, 0, 1]}}


def test_fragmented_message_is_reassembled() -> None:
    frags = ("fragments", [("text", '{"te'), ("text", 'xt": "h'), ("text", 'é"}')])
    result = run(target({}), reply(frags))
    assert result.response == {"output": {"text": "hé"}}


@pytest.mark.parametrize("read_size", [None, 1, 3, 7])
def test_same_result_whole_byte_by_byte_and_with_trailing_data(read_size: int | None) -> None:
    steps = [("ping", b"p1"), ("fragments", [("bytes", b"ab"), ("bytes", "ç".encode())]), ("text", "after")]
    server = ScriptedWsServer(on_open=steps)
    result = run(target({}), server, read_size=read_size)
    assert result.response == {"output": "abç"}
    assert server.pongs == [b"p1"]


def test_ping_is_answered_with_a_pong() -> None:
    server = reply(("ping", b"are you there"), ("sleep", 0.1), ("text", "ok"))
    result = run(target({}), server)
    assert result.response == {"output": "ok"}
    assert server.pongs == [b"are you there"]


# -- closes, drops and time -------------------------------------------------------------------


def test_server_close_fails_at_once_with_code_and_reason() -> None:
    server = reply(("sleep", 0.05), ("close", 1011, "server going away"))
    result = run(target({"timeoutMs": 5000}), server, "bye?")
    err = result.error
    assert isinstance(err, WebSocketClosed)
    assert (err.code, err.reason) == (1011, "server going away")
    assert "1011" in str(err) and "server going away" in str(err)
    assert result.elapsed == pytest.approx(0.05)
    assert server.client_close_code == 1011  # the close frame is echoed
    assert isinstance(result.actions[-2], A.Close)


def test_close_right_after_the_handshake() -> None:
    server = ScriptedWsServer(on_open=[("close", 1008, "policy")])
    result = run(target({}), server)
    err = result.error
    assert isinstance(err, WebSocketClosed) and (err.code, err.reason) == (1008, "policy")
    assert server.client_close_code == 1008


def test_dropped_connection_fails_at_once_with_1006() -> None:
    server = reply(("sleep", 0.02), ("drop",))
    result = run(target({"timeoutMs": 5000}), server)
    err = result.error
    assert isinstance(err, WebSocketClosed) and err.code == 1006
    assert "1006" in str(err)
    assert result.elapsed == pytest.approx(0.02)


def test_connection_reset_fails_at_once_with_1006() -> None:
    result = run(target({"timeoutMs": 5000}), reply(("reset",)))
    err = result.error
    assert isinstance(err, WebSocketClosed) and err.code == 1006
    assert "reset" in str(err)
    assert result.elapsed == 0


def test_silent_server_times_out_at_timeout_ms() -> None:
    server = reply(("hang",))
    result = run(target({"timeoutMs": 400}), server, "anyone there?")
    err = result.error
    assert isinstance(err, DeadlineExceeded) and err.which == "total"
    assert "timed out after 400ms" in str(err)
    assert result.elapsed == pytest.approx(0.4)
    assert server.client_close_code == 1005  # the client still says goodbye


def test_timeout_is_total_and_every_action_carries_it() -> None:
    steps = [("text", "a"), ("sleep", 0.12), ("text", "b"), ("sleep", 0.12), ("text", "c"),
             ("sleep", 0.12), ("text", "END")]
    t = target({"timeoutMs": 300, "streamResponse": lambda acc, ev, ctx: [ev["data"], ev["data"] == "END"]})
    result = run(t, reply(*steps))
    assert isinstance(result.error, DeadlineExceeded)
    assert result.elapsed == pytest.approx(0.3)
    deadlines = {a.deadline for a in result.actions if isinstance(a, (A.Open, A.Read))}
    assert deadlines == {T0.mono + 0.3}


def test_timeout_defaults() -> None:
    assert target({"timeoutMs": 0})._timeout_ms == 300_000
    assert target({})._timeout_ms == 300_000
    assert target({}, env={"REQUEST_TIMEOUT_MS": "1234"})._timeout_ms == 1234
    assert target({"timeoutMs": 50}, env={"REQUEST_TIMEOUT_MS": "1234"})._timeout_ms == 50


def test_per_call_timeout_override() -> None:
    t = target({"timeoutMs": 5000})
    call = t.new_call("x", {}, None, now=T0, seed=1, timeout_ms=100)
    result = run_ws_call(call, reply(("hang",)))
    assert isinstance(result.error, DeadlineExceeded)
    assert result.elapsed == pytest.approx(0.1)


def test_message_size_limit_closes_with_1009() -> None:
    t = target({}, limits=Limits(max_ws_message=10))
    server = reply(("fragments", [("text", "0123456"), ("text", "789ab")]))
    result = run(t, server)
    assert isinstance(result.error, LimitExceeded)
    assert "10 bytes" in str(result.error)
    assert server.client_close_code == 1009


def test_framing_error_from_the_server_is_a_protocol_error() -> None:
    # A text frame with an unknown opcode (0x3) from the server.
    server = reply(("raw", b"\x83\x01x"))
    result = run(target({}), server)
    assert isinstance(result.error, RemoteProtocolError)
    assert server.client_close_code == 1002


def test_invalid_utf8_in_a_text_frame_is_a_protocol_error() -> None:
    server = reply(("raw", b"\x81\x02\xff\xfe"))
    result = run(target({}), server)
    assert isinstance(result.error, RemoteProtocolError)
    assert server.client_close_code == 1007


# -- streaming ---------------------------------------------------------------------------------


def concat_until_done(acc: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> Any:
    msg = json.loads(event["data"])
    previous = acc.get("output") if isinstance(acc.get("output"), str) else ""
    if msg.get("type") == "chunk":
        return [{"output": previous + msg["text"]}, False]
    if msg.get("type") == "done":
        return [{"output": previous}, True]
    return [acc, False]


def test_stream_accumulates_chunks_until_done_and_emits_deltas() -> None:
    steps = [("text", '{"type":"typing"}'), ("text", '{"type":"chunk","text":"You should visit "}'),
             ("sleep", 0.01), ("text", '{"type":"typing"}'), ("text", '{"type":"chunk","text":"Kyoto in spring."}'),
             ("text", '{"type":"done"}'), ("text", '{"type":"chunk","text":"ignored"}')]
    result = run(target({"streamResponse": concat_until_done}), reply(*steps))
    assert result.response == {"output": "You should visit Kyoto in spring."}
    assert result.deltas == ["You should visit ", "Kyoto in spring."]
    assert result.server.client_close_code == 1005


def test_stream_final_message_with_complete_flag() -> None:
    def final_only(acc: Any, event: dict[str, Any], context: Any) -> Any:
        msg = json.loads(event["data"])
        return [{"output": msg["content"]}, True] if msg.get("complete") is True else [acc, False]

    steps = [("text", json.dumps({"event": "delta", "content": "Start", "complete": False})),
             ("text", json.dumps({"event": "final", "content": "Start, then simmer.", "complete": True}))]
    result = run(target({"streamResponse": final_only}), reply(*steps))
    assert result.response == {"output": "Start, then simmer."}


def test_stream_handler_sees_accumulator_event_and_context() -> None:
    seen: list[Any] = []

    def handler(acc: Any, event: Any, context: Any) -> Any:
        seen.append((acc, event, context))
        return [{"output": "x"}, "DONE"]

    run(target({"streamResponse": handler}), reply(("bytes", b"bin")), vars={"v": 1})
    acc, event, context = seen[0]
    assert acc == {"error": "unknown error occurred"}
    assert event == {"type": "message", "data": "bin", "isBinary": True}
    assert context["vars"] == {"v": 1}


def test_stream_untouched_accumulator_resolves_with_its_error() -> None:
    result = run(target({"streamResponse": lambda acc, ev, ctx: [acc, True]}), reply(("text", "f")))
    assert result.response == {"error": "unknown error occurred"}


def test_stream_undefined_result_resolves_empty_and_strings_are_wrapped() -> None:
    r1 = run(target({"streamResponse": lambda acc, ev, ctx: [UNDEFINED, True]}), reply(("text", "f")))
    assert r1.response == {}
    r2 = run(target({"streamResponse": lambda acc, ev, ctx: [ev["data"] + "!", True]}), reply(("text", "f")))
    assert r2.response == {"output": "f!"}


def test_stream_handler_must_return_a_pair() -> None:
    err = run(target({"streamResponse": lambda acc, ev, ctx: {"output": 1}}), reply(("text", "f"))).error
    assert isinstance(err, TransformError)
    assert "[result, complete]" in str(err)


def test_stream_handler_exception_is_wrapped_and_the_socket_closed() -> None:
    def boom(acc: Any, ev: Any, ctx: Any) -> Any:
        raise ValueError("boom")

    result = run(target({"streamResponse": boom}), reply(("text", "f")))
    assert isinstance(result.error, TransformError)
    assert str(result.error) == (
        "Error executing streamResponse function: Error in stream response function: ValueError: boom"
    )
    assert result.server.client_close_code == 1005


def test_stream_closed_mid_way_fails_at_once() -> None:
    steps = [("text", '{"type":"chunk","text":"partial"}'), ("close", 1000, "")]
    result = run(target({"streamResponse": concat_until_done, "timeoutMs": 400}), reply(*steps))
    err = result.error
    assert isinstance(err, WebSocketClosed) and err.code == 1000
    assert result.elapsed == 0
    assert result.deltas == ["partial"]


def test_stream_wins_over_transform_response() -> None:
    t = target({"streamResponse": lambda acc, ev, ctx: [{"output": "s"}, True],
                "transformResponse": lambda d: "t"})
    assert run(t, reply(("text", "x"))).response == {"output": "s"}


# -- configuration -----------------------------------------------------------------------------


def test_bare_ids_need_a_url() -> None:
    with pytest.raises(ConfigError, match="url"):
        target({}, entry_id="websocket")


@pytest.mark.parametrize("url", ["ftp://h/x", "ws://h/x#frag", "not a url"])
def test_a_static_bad_url_fails_at_load_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        target({"url": url}, entry_id="ws")
    assert info.value.path == "url"
    assert url not in str(info.value)


def test_a_templated_url_is_checked_per_call() -> None:
    t = target({"url": "{{ base }}/ws"}, entry_id="websocket")
    err = run(t, ScriptedWsServer(), vars={"base": ""}).error
    assert isinstance(err, ConfigError) and "Failed to create WebSocket connection" in str(err)
    ok = run(t, reply(("text", "ok")), vars={"base": "ws://127.0.0.1:1"})
    assert ok.response == {"output": "ok"}


def test_config_url_wins_over_the_id_and_labels_are_redacted() -> None:
    t = target({"url": "ws://127.0.0.1:1/ws?token=supersecret&x=1"}, entry_id="wss://example.invalid/never")
    assert t.label == "ws://127.0.0.1:1/ws?token=%5BREDACTED%5D&x=1"
    server = reply(("text", "ok"))
    run(t, server)
    assert server.request is not None and server.request.target == "/ws?token=supersecret&x=1"
    assert target({}, label="mine").label == "mine"


def test_message_template_is_required_and_unknown_keys_are_caught() -> None:
    with pytest.raises(ConfigError, match="messageTemplate"):
        WsTarget.compile(URL, {"timeoutMs": 2000}, Sources(), {})
    with pytest.raises(ConfigError, match="did you mean 'streamResponse'"):
        target({"streamResponce": "x"})


def test_template_errors() -> None:
    with pytest.raises(ConfigError, match="messageTemplate"):
        target({"messageTemplate": '{"q": {{ prompt }'})
    t = target({"headers": {"X": "{{ v }}"}})
    err = run(t, ScriptedWsServer(), vars={"v": "a\r\nInjected: 1"}).error
    # The handshake follows the HTTP header rules, with the same message.
    assert isinstance(err, TemplateError) and "header 'X' contains a line break" in str(err)
    err = run(t, ScriptedWsServer(), vars={"v": "bell\x07"}).error
    assert isinstance(err, TemplateError) and "control character" in str(err)
    with pytest.raises(ConfigError, match="not a valid HTTP header name"):
        target({"headers": {"Bad Name": "x"}})


def test_rendering_matches_nunjucks() -> None:
    t = target({"messageTemplate": '{"history": {{ history | dump }}, "q": {{ prompt | dump }}, '
                                   '"o": "{{ obj }}", "m": "[{{ missing }}]", "e": "{{ env.TOKEN }}"}'},
               env={"TOKEN": "envtok"})
    server = reply(("text", "ok"))
    run(t, server, 'q"1', {"history": [{"role": "user", "content": "a"}], "obj": {"a": 1}, "prompt": "ignored"})
    assert server.client_messages == [
        '{"history": [{"role":"user","content":"a"}], "q": "q\\"1", "o": "[object Object]", "m": "[]", '
        '"e": "envtok"}'
    ]


def test_a_deeply_nested_message_is_a_limit_error() -> None:

    deep = "[" * 100_000 + "]" * 100_000
    for config in ({}, {"transformResponse": "data"}):
        err = run(target(config), reply(("text", deep))).error
        assert isinstance(err, LimitExceeded), err
        assert "nested deeper than 256 levels" in err.message
