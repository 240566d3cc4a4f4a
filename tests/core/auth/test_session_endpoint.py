"""``config.session`` (spec 13.4): the session endpoint before the call, against h11 in memory."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError, HttpStatusError, LimitExceeded, RemoteProtocolError
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.driver import Recording
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant
from tests.core.auth.test_oauth import run_spec_case, spec_cases

T0 = Instant(1000.0, 1_700_000_000.0)
BASE = "http://api.test"
JSON_HEADERS = [("Content-Type", "application/json")]


def target(config: dict[str, Any], sources: Sources | None = None) -> HttpTarget:
    return HttpTarget.compile(parse_provider_entry({"id": f"{BASE}/api", "config": config}), sources or Sources())


class Server:
    """Answers /auth/session from a queue and everything else with its own reply."""

    def __init__(self, *sessions: ServerReply, api: ServerReply | None = None) -> None:
        self.sessions = list(sessions)
        self.api = api or ServerReply(200, JSON_HEADERS, b'{"result":"ok"}', reason=b"OK")
        self.seen: list[SeenRequest] = []

    def __call__(self, req: SeenRequest) -> ServerReply:
        self.seen.append(req)
        if req.target.startswith("/auth/session"):
            return self.sessions.pop(0)
        return self.api

    def paths(self) -> list[str]:
        return [r.target.split("?")[0] for r in self.seen]


def session_reply(body: bytes = b'{"sessionId":"S1"}', status: int = 200, reason: bytes = b"OK",
                  headers: list[tuple[str, str]] | None = None) -> ServerReply:
    return ServerReply(status, JSON_HEADERS if headers is None else headers, body, reason=reason)


def call(t: HttpTarget, server: Server, prompt: str = "hello",
         vars: dict[str, Any] | None = None) -> tuple[A.Action, Recording]:
    return run_against(t.new_call(prompt, vars or {}, None, now=T0, seed=1), server)


def headers(req: SeenRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in req.headers}


BODY = {"query": "{{prompt}}", "session": "{{sessionId}}"}


def test_post_json_body_lowercased_headers_and_session_id_everywhere() -> None:
    t = target({"method": "POST", "body": BODY, "session": {
        "url": f"{BASE}/auth/session", "headers": {"Authorization": "Bearer {{api_key}}"},
        "body": {"client_id": "{{client_id}}", "nested": ["{{client_id}}", 2]},
        "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b'{"sessionId":"session-abc"}'))
    end, _ = call(t, server, vars={"api_key": "k1", "client_id": "c1"})
    assert isinstance(end, A.Complete), end
    sess, api = server.seen
    assert sess.method == "POST" and sess.target == "/auth/session"
    h = headers(sess)
    assert (h["authorization"], h["content-type"]) == ("Bearer k1", "application/json")
    assert sess.body == b'{"client_id":"c1","nested":["c1",2]}'
    assert h["content-length"] == str(len(sess.body))
    assert api.body == b'{"query":"hello","session":"session-abc"}'
    assert end.response["sessionId"] == "session-abc"
    assert end.response["output"] == {"result": "ok"}


def test_get_sends_no_body_and_a_header_can_carry_the_id() -> None:
    t = target({"method": "POST", "body": {"s": "{{sessionId}}"}, "session": {
        "url": f"{BASE}/auth/session?client_id=123", "method": "GET", "body": {"ignored": "x"},
        "responseParser": "data.headers['x-session-token']"}})
    server = Server(session_reply(b"", headers=[("X-Session-Token", "hdr-sess")]))
    end, _ = call(t, server)
    assert isinstance(end, A.Complete), end
    sess = server.seen[0]
    assert (sess.method, sess.target, sess.body) == ("GET", "/auth/session?client_id=123", b"")
    assert "content-length" not in headers(sess) and "content-type" not in headers(sess)
    assert server.seen[1].body == b'{"s":"hdr-sess"}'
    assert end.response["sessionId"] == "hdr-sess"


def test_post_without_body_has_content_length_zero_and_no_provider_auth() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}"},
                "auth": {"type": "bearer", "token": "provider-secret"},
                "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply())
    call(t, server)
    h = headers(server.seen[0])
    assert h["content-length"] == "0"
    assert "content-type" not in h and "authorization" not in h
    assert headers(server.seen[1])["authorization"] == "Bearer provider-secret"


def test_a_string_body_is_rendered_and_typed_like_fetch_does() -> None:
    t = target({"session": {"url": f"{BASE}/auth/session", "body": "user={{user}}",
                            "responseParser": "data.body.sessionId"}})
    server = Server(session_reply())
    call(t, server, vars={"user": "alice"})
    sess = server.seen[0]
    assert sess.body == b"user=alice"
    assert headers(sess)["content-type"] == "text/plain;charset=UTF-8"


def test_failure_status_is_an_error_and_the_call_is_not_made() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}"},
                "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b"Unauthorized", 401, b"Unauthorized", [("Content-Type", "text/plain")]))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, HttpStatusError)
    assert str(end.error) == "Session endpoint request failed with status 401 Unauthorized: Unauthorized"
    assert server.paths() == ["/auth/session"]


def test_no_session_id_quotes_the_sanitized_response() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}"},
                "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b'{"error": "no session created", "password": "hunter2"}'))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, RemoteProtocolError)
    assert str(end.error) == ('Session endpoint did not return a session ID. Response: '
                              '{"error":"no session created","password":"[REDACTED]"}')


def test_an_obtained_session_is_reused_and_an_unknown_one_is_not() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}", "s": "{{sessionId}}"},
                "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b'{"sessionId":"S1"}'), session_reply(b'{"sessionId":"S2"}'))
    first, _ = call(t, server, "turn 1")
    second, _ = call(t, server, "turn 2", vars={"sessionId": "S1"})
    third, _ = call(t, server, "turn 3", vars={"sessionId": "made-up"})
    assert server.paths() == ["/auth/session", "/api", "/api", "/auth/session", "/api"]
    assert server.seen[2].body == b'{"q":"turn 2","s":"S1"}'
    assert server.seen[4].body == b'{"q":"turn 3","s":"S2"}'
    assert isinstance(first, A.Complete) and isinstance(second, A.Complete) and isinstance(third, A.Complete)
    assert [first.response["sessionId"], second.response["sessionId"], third.response["sessionId"]] == [
        "S1", "S1", "S2"]


def test_session_parser_overrides_the_endpoint_session_in_the_result() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}", "s": "{{sessionId}}"},
                "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"},
                "sessionParser": "data.body.newSession"})
    server = Server(session_reply(b'{"sessionId":"S-endpoint"}'),
                    api=ServerReply(200, JSON_HEADERS, b'{"newSession":"S-server"}', reason=b"OK"))
    end, _ = call(t, server)
    assert isinstance(end, A.Complete)
    assert server.seen[1].body == b'{"q":"hello","s":"S-endpoint"}'
    assert end.response["sessionId"] == "S-server"


def test_a_python_callable_parser_gets_headers_and_body() -> None:
    seen: list[Any] = []

    def parser(data: dict[str, Any]) -> str:
        seen.append(data)
        return str(data["body"]["id"])

    t = target({"session": {"url": f"{BASE}/auth/session", "responseParser": parser}})
    server = Server(session_reply(b'{"id": 7}'))
    end, _ = call(t, server)
    assert isinstance(end, A.Complete)
    assert end.response["sessionId"] == "7"
    assert seen[0]["body"] == {"id": 7}
    assert seen[0]["headers"]["content-type"] == "application/json"


def test_raw_request_mode_runs_the_session_endpoint_first() -> None:
    raw = "POST /raw HTTP/1.1\nHost: api.test\nContent-Type: application/json\n\n{\"s\":\"{{sessionId}}\"}"
    t = HttpTarget.compile(parse_provider_entry({"id": "http", "config": {
        "request": raw, "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}}}),
        Sources())
    server = Server(session_reply())
    end, _ = call(t, server)
    assert isinstance(end, A.Complete), end
    assert server.seen[1].body == b'{"s":"S1"}'


def test_an_invalid_parser_is_a_config_error_at_load_time() -> None:
    with pytest.raises(ConfigError) as info:
        target({"session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.("}})
    assert "responseParser" in str(info.value)


def test_the_session_request_follows_the_targets_retry_policy() -> None:
    t = target({"session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b"busy", 503, b"Service Unavailable", [("Content-Type", "text/plain")]),
                    session_reply())
    end, rec = call(t, server)
    assert isinstance(end, A.Complete), end
    assert server.paths() == ["/auth/session", "/auth/session", "/api"]
    assert any(isinstance(a, A.Sleep) for a, _, _ in rec.steps)

    no_retries = target({"maxRetries": 0,
                         "session": {"url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    server = Server(session_reply(b"busy", 503, b"Service Unavailable", [("Content-Type", "text/plain")]))
    end, _ = call(no_retries, server)
    assert isinstance(end, A.Fail)
    assert "503" in str(end.error)
    assert server.paths() == ["/auth/session"]


def test_a_static_session_url_that_is_not_a_url_is_refused_at_load_time() -> None:
    with pytest.raises(ConfigError) as info:
        target({"session": {"url": "/auth/session", "responseParser": "data.body.sessionId"}})
    assert info.value.path == "config.session.url"


@pytest.mark.parametrize("case", spec_cases("session_endpoint_"))
def test_spec_case(case: dict[str, Any]) -> None:
    run_spec_case(case)


def test_a_deeply_nested_session_response_is_a_limit_error() -> None:
    t = target({"method": "POST", "body": BODY, "session": {
        "url": f"{BASE}/auth/session", "responseParser": "data.body.sessionId"}})
    end, _ = call(t, Server(session_reply(b"[" * 100_000 + b"]" * 100_000)))
    assert isinstance(end, A.Fail) and isinstance(end.error, LimitExceeded), end
