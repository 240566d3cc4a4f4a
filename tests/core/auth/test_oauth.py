"""OAuth 2.0 auth (spec 14): the token request, caching, refresh and errors, against h11 in memory."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.auth.oauth import OAuthStep
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.http import OAuthAuth
from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import (
    ConfigError,
    FailureKind,
    HttpStatusError,
    LimitExceeded,
    RemoteProtocolError,
    TemplateError,
    TransportError,
)
from sansio_core.http.target import HttpTarget
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine
from sansio_core.testing.driver import Recording
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(1000.0, 1_700_000_000.0)
BASE = "http://api.test"
JSON_HEADERS = [("Content-Type", "application/json")]


def target(config: dict[str, Any], entry_id: str = f"{BASE}/api") -> HttpTarget:
    return HttpTarget.compile(parse_provider_entry({"id": entry_id, "config": config}), Sources())


def oauth(**extra: Any) -> dict[str, Any]:
    auth = {"type": "oauth", "grantType": "client_credentials", "tokenUrl": f"{BASE}/oauth/token",
            "clientId": "cid", "clientSecret": "csecret"}
    auth.update(extra)
    return auth


class Server:
    """Answers /oauth/token from a queue of token replies and everything else with JSON."""

    def __init__(self, *tokens: ServerReply) -> None:
        self.tokens = list(tokens)
        self.seen: list[SeenRequest] = []

    def __call__(self, req: SeenRequest) -> ServerReply:
        self.seen.append(req)
        if req.target.startswith("/oauth/token"):
            return self.tokens.pop(0)
        return ServerReply(200, JSON_HEADERS, b'{"result":"ok"}', reason=b"OK")

    def paths(self) -> list[str]:
        return [r.target for r in self.seen]


def token(access: str = "AT-1", expires_in: Any = 3600, status: int = 200, body: bytes | None = None,
          reason: bytes = b"OK") -> ServerReply:
    payload = {"access_token": access}
    if expires_in is not None:
        payload["expires_in"] = expires_in
    return ServerReply(status, JSON_HEADERS, body if body is not None else json.dumps(payload).encode(),
                       reason=reason)


def call(t: HttpTarget, server: Callable[[SeenRequest], ServerReply], prompt: str = "hello",
         vars: dict[str, Any] | None = None, now: Instant = T0) -> tuple[A.Action, Recording]:
    return run_against(t.new_call(prompt, vars or {}, None, now=now, seed=1), server)


def header(req: SeenRequest, name: str) -> str | None:
    return next((v for k, v in req.headers if k.lower() == name), None)


def written(rec: Recording) -> bytes:
    return b"".join(a.data for a, _, _ in rec.steps if isinstance(a, A.Write))


def test_client_credentials_form_then_bearer_and_token_var() -> None:
    t = target({"method": "POST", "body": {"q": "{{prompt}}", "t": "{{token}}"},
                "auth": oauth(scopes=["read", "write"])})
    server = Server(token())
    end, rec = call(t, server)
    assert isinstance(end, A.Complete), end
    tok, api = server.seen
    assert (tok.method, tok.target) == ("POST", "/oauth/token")
    assert tok.body == b"grant_type=client_credentials&client_id=cid&client_secret=csecret&scope=read+write"
    assert header(tok, "content-length") == "82"
    assert header(tok, "authorization") is None
    # The header name keeps promptfoo's capitals on the wire.
    assert b"\r\nContent-Type: application/x-www-form-urlencoded\r\n" in written(rec)
    assert header(api, "authorization") == "Bearer AT-1"
    assert api.body == b'{"q":"hello","t":"AT-1"}'
    assert end.response["output"] == {"result": "ok"}


def test_form_encoding_follows_urlsearchparams() -> None:
    t = target({"auth": oauth(clientId="client-1", clientSecret="sec ret&1", scopes=["read", "write:all"])})
    server = Server(token())
    call(t, server)
    assert server.seen[0].body == (b"grant_type=client_credentials&client_id=client-1"
                                   b"&client_secret=sec+ret%261&scope=read+write%3Aall")


def test_token_is_cached_across_calls_until_the_refresh_buffer() -> None:
    t = target({"auth": oauth()})
    server = Server(token("AT-1", 3600), token("AT-2", 3600))
    call(t, server, "p1")
    call(t, server, "p2", now=Instant(T0.mono + 3539, T0.wall + 3539))
    assert server.paths() == ["/oauth/token", "/api", "/api"]
    assert header(server.seen[2], "authorization") == "Bearer AT-1"
    # 60 s before expiry the token is no longer used.
    call(t, server, "p3", now=Instant(T0.mono + 3541, T0.wall + 3541))
    assert server.paths()[3:] == ["/oauth/token", "/api"]
    assert header(server.seen[4], "authorization") == "Bearer AT-2"


def test_short_expiry_refreshes_on_every_call() -> None:
    t = target({"auth": oauth()})
    server = Server(token("AT-1", 30), token("AT-2", 30))
    call(t, server, "p1")
    call(t, server, "p2")
    assert server.paths() == ["/oauth/token", "/api", "/oauth/token", "/api"]
    assert header(server.seen[3], "authorization") == "Bearer AT-2"


def test_missing_or_zero_expires_in_means_an_hour() -> None:
    for expires_in in (None, 0):
        t = target({"auth": oauth()})
        server = Server(token("AT-1", expires_in), token("AT-2"))
        call(t, server, "p1")
        call(t, server, "p2", now=Instant(T0.mono + 3500, T0.wall + 3500))
        assert server.paths() == ["/oauth/token", "/api", "/api"], expires_in
        call(t, server, "p3", now=Instant(T0.mono + 3560, T0.wall + 3560))
        assert server.paths()[3] == "/oauth/token"


def test_password_grant_body() -> None:
    t = target({"auth": {"type": "oauth", "grantType": "password", "tokenUrl": f"{BASE}/oauth/token",
                         "username": "bob", "password": "pw"}})
    server = Server(token("AT-P", None))
    end, _ = call(t, server)
    assert isinstance(end, A.Complete)
    assert server.seen[0].body == b"grant_type=password&username=bob&password=pw"
    assert header(server.seen[1], "authorization") == "Bearer AT-P"


def test_password_grant_with_empty_rendered_password_fails_before_any_request() -> None:
    t = target({"auth": {"type": "oauth", "grantType": "password", "tokenUrl": f"{BASE}/oauth/token",
                         "username": "bob", "password": "{{pw}}"}})
    server = Server()
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, TemplateError)
    assert "Username and password are required for password grant type" in str(end.error)
    assert server.seen == []


def test_templated_credentials_get_tokens_of_their_own() -> None:
    t = target({"auth": oauth(clientId="{{cid}}")})
    server = Server(token("AT-A"), token("AT-B"))
    call(t, server, vars={"cid": "a"})
    call(t, server, vars={"cid": "b"})
    call(t, server, vars={"cid": "a"})
    assert server.paths() == ["/oauth/token", "/api", "/oauth/token", "/api", "/api"]
    assert [header(r, "authorization") for r in server.seen if r.target == "/api"] == [
        "Bearer AT-A", "Bearer AT-B", "Bearer AT-A"]
    assert b"client_id=b" in server.seen[2].body


def test_token_endpoint_error_fails_the_call_without_the_main_request() -> None:
    t = target({"auth": oauth(clientSecret="bad-secret")})
    server = Server(token(status=401, body=b'{"error":"invalid_client"}', reason=b"Unauthorized"))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, HttpStatusError)
    assert str(end.error) == ('Failed to refresh OAuth token: Error: OAuth token request failed with status '
                              '401 Unauthorized: {"error":"invalid_client"}')
    assert end.error.status == 401
    assert server.paths() == ["/oauth/token"]


def test_token_request_is_never_retried() -> None:
    t = target({"auth": oauth()})  # maxRetries defaults to 4 for the main request
    server = Server(token(status=503, body=b"busy", reason=b"Service Unavailable"), token())
    end, _ = call(t, server)
    assert isinstance(end, A.Fail)
    assert "status 503 Service Unavailable: busy" in str(end.error)
    assert server.paths() == ["/oauth/token"]


def test_missing_access_token() -> None:
    t = target({"auth": oauth()})
    server = Server(token(body=b'{"token":"nope"}'))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, RemoteProtocolError)
    assert str(end.error) == "Failed to refresh OAuth token: Error: OAuth token response missing access_token"


def test_a_non_json_token_response_names_no_body() -> None:
    t = target({"auth": oauth()})
    server = Server(token(body=b"access_token=leaked-secret"))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail)
    assert str(end.error).startswith("Failed to refresh OAuth token: ")
    assert "leaked-secret" not in str(end.error)


def test_failed_token_fetch_is_not_cached_and_the_next_call_tries_again() -> None:
    t = target({"auth": oauth()})
    server = Server(token(status=500, body=b"oops", reason=b"Internal Server Error"), token("AT-9"))
    first, _ = call(t, server)
    second, _ = call(t, server)
    assert isinstance(first, A.Fail) and isinstance(second, A.Complete)
    assert header(server.seen[-1], "authorization") == "Bearer AT-9"


def test_transport_failure_is_prefixed_and_keeps_its_kind_without_secrets() -> None:
    t = target({"auth": oauth(clientSecret="top-secret")})

    c = t.new_call("hi", {}, None, now=T0, seed=1)
    action = c.next_action()
    assert isinstance(action, A.Open) and (action.host, action.port) == ("api.test", 80)
    c.feed(E.OpenFailed(action.conn, FailureKind.REFUSED, "connection refused"), T0)
    end = c.next_action()
    assert isinstance(end, A.Fail) and isinstance(end.error, TransportError)
    assert end.error.kind is FailureKind.REFUSED
    assert str(end.error).startswith("Failed to refresh OAuth token: cannot connect to http://api.test:80")
    assert "top-secret" not in str(end.error)


def test_oauth_bearer_replaces_a_configured_authorization_header() -> None:
    t = target({"headers": {"Authorization": "Token mine"}, "auth": oauth(clientId="c", clientSecret="s")})
    server = Server(token("AT-X"))
    call(t, server)
    assert [v for k, v in server.seen[1].headers if k.lower() == "authorization"] == ["Bearer AT-X"]


def test_raw_request_mode_gets_the_bearer_too() -> None:
    raw = "GET /raw?t={{token}} HTTP/1.1\nHost: api.test\nAuthorization: Token mine\n\n"
    t = target({"request": raw, "auth": oauth()}, entry_id="http")
    server = Server(token("AT-R"))
    end, _ = call(t, server)
    assert isinstance(end, A.Complete), end
    api = server.seen[1]
    assert api.target == "/raw?t=AT-R"
    assert [v for k, v in api.headers if k.lower() == "authorization"] == ["Bearer AT-R"]


def test_https_token_url_uses_tls_with_its_own_server_name() -> None:
    t = target({"auth": oauth(tokenUrl="https://auth.test/token")})
    c = t.new_call("hi", {}, None, now=T0, seed=1)
    action = c.next_action()
    assert isinstance(action, A.Open)
    assert (action.scheme, action.host, action.port) == ("https", "auth.test", 443)
    assert action.tls is not None and action.tls.server_name == "auth.test" and action.tls.verify


def test_cache_is_bounded_least_recently_used_first() -> None:
    step = OAuthStep.compile(OAuthAuth.model_validate(oauth(clientId="{{cid}}")), TemplateEngine())
    limits = Limits(max_oauth_tokens=2)
    server = Server(*(token(f"AT-{i}") for i in range(5)))

    def run(cid: str) -> Any:
        def flow(ctx: CallContext) -> Flow:
            added = yield from step.run(ctx, {"cid": cid}, {}, Timeouts(), limits)
            return ProviderResponse(added)

        end, _ = run_against(Call(flow, CallContext(now=T0, rng=random.Random(0))), server)
        assert isinstance(end, A.Complete)
        return end.response["token"]

    assert [run("a"), run("b"), run("a"), run("c")] == ["AT-0", "AT-1", "AT-0", "AT-2"]
    assert run("a") == "AT-0"  # recently used: kept
    assert run("b") == "AT-3"  # evicted when c came in


def test_a_static_token_url_that_is_not_a_url_is_refused_at_load_time() -> None:
    with pytest.raises(ConfigError) as info:
        target({"auth": oauth(tokenUrl="auth.test/token")})
    assert info.value.path == "config.auth.tokenUrl"


# -- the spec's executed cases (http-provider-cases.yaml) ------------------------------------

SPEC_CASES = Path("/work/shared/spec/http-provider-cases.yaml")
SPEC_BASE = "http://127.0.0.1:8080"


def spec_cases(prefix: str) -> list[Any]:
    if not SPEC_CASES.is_file():
        return []
    cases = yaml.safe_load(SPEC_CASES.read_text(encoding="utf-8"))
    return [pytest.param(c, id=c["name"]) for c in cases if c["name"].startswith(prefix)]


def _sub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$BASE", SPEC_BASE)
    if isinstance(value, dict):
        return {k: _sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sub(v) for v in value]
    return value


def run_spec_case(case: dict[str, Any]) -> None:
    """Run a recorded promptfoo case through one target and compare what it pins down.

    promptfoo's response cache (``cached: true`` results) is out of scope: such
    results are not compared, and the extra main requests they cause are allowed.
    """
    case = _sub(case)
    t = target(case["config"], entry_id=case["provider_id"])
    replies = case["server"] if isinstance(case["server"], list) else [case["server"]]
    queue = [ServerReply(r["status"], list(r.get("headers", {}).items()), r.get("body", "").encode(),
                         reason=r.get("statusText", "").encode()) for r in replies]
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return queue.pop(0) if queue else ServerReply(200, JSON_HEADERS, b"{}", reason=b"OK")

    calls = case.get("calls") or [{"prompt": case["prompt"], "vars": case.get("vars") or {}}]
    ends = [call(t, handler, c["prompt"], c.get("vars") or {})[0] for c in calls]
    expect = case["expect"]
    wanted = expect.get("requests") or [expect["request"]]
    side = [r for r in wanted if r["path"].startswith(("/oauth/", "/auth/"))]
    assert [r.target for r in seen if r.target.startswith(("/oauth/", "/auth/"))] == [r["path"] for r in side]
    got = iter(seen)
    for want in wanted:
        req = next(r for r in got if r.target == want["path"])
        assert req.method == want["method"]
        assert req.body.decode() == want["body"]
        hdrs = {k.lower(): v for k, v in req.headers}
        for name, value in want["headers"].items():
            assert hdrs.get(name) == str(value), (want["path"], name)
    if "raises" in expect:
        (end,) = ends
        assert isinstance(end, A.Fail) and str(end.error) == expect["raises"]
        return
    results = expect.get("results") or [expect]
    for end, result in zip(ends, results, strict=True):
        assert isinstance(end, A.Complete), end
        if result.get("cached"):
            continue
        assert end.response["output"] == result["output"]
        assert end.response.get("sessionId") == result.get("sessionId")


@pytest.mark.parametrize("case", spec_cases("oauth_"))
def test_spec_case(case: dict[str, Any]) -> None:
    run_spec_case(case)


def test_concurrent_calls_share_one_token_fetch() -> None:
    """Two calls that start together send one token request; the second waits for it."""
    from sansio_core import actions as A
    from sansio_core import events as E
    from sansio_core.config.provider import parse_provider_entry
    from sansio_core.sources import Sources
    from sansio_core.targets import build_target
    from sansio_core.timebase import Instant

    entry = parse_provider_entry({
        "id": "http://api.test/chat",
        "config": {"method": "POST", "body": {"q": "{{prompt}}"},
                   "auth": {"type": "oauth", "grantType": "client_credentials",
                            "tokenUrl": "http://auth.test/token", "clientId": "c", "clientSecret": "s"}},
    })
    target = build_target(entry, Sources(env={}))
    t0 = Instant(100.0, 1000.0)
    first = target.new_call("a", {}, None, now=t0, seed=1)
    second = target.new_call("b", {}, None, now=t0, seed=2)
    opened = first.next_action()
    assert isinstance(opened, A.Open) and opened.host == "auth.test"
    first.feed(E.Opened(opened.conn), t0)
    assert isinstance(first.next_action(), A.Write)
    waiting = second.next_action()
    assert isinstance(waiting, A.Sleep)  # not a second token request
    first.feed(E.Written(opened.conn), t0)
    read = first.next_action()
    assert isinstance(read, A.Read)
    body = b'{"access_token":"tok-1","expires_in":3600}'
    first.feed(E.Received(read.conn, b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)), t0)
    assert isinstance(first.next_action(), A.Release)
    assert isinstance(first.next_action(), A.Open)  # the API request
    t1 = Instant(waiting.until, 1000.01)
    second.feed(E.Woke(), t1)
    api = second.next_action()
    assert isinstance(api, A.Open) and api.host == "api.test"
    second.feed(E.Opened(api.conn), t1)
    write = second.next_action()
    assert isinstance(write, A.Write) and b"authorization: Bearer tok-1" in write.data.lower().replace(
        b"bearer", b"Bearer")


@pytest.mark.parametrize(("expires_in", "requests"), [
    ("7200", 1),      # a numeric string counts as seconds
    (7200.5, 1),
    ("0", 2),         # zero as text: expires at once (only a number 0 means an hour)
    ("soon", 2),      # not a number: JavaScript computes NaN, never valid
    (True, 2),        # true is 1 second, inside the refresh buffer
    ([1], 2),
])
def test_expires_in_values_decide_whether_the_token_is_reused(expires_in: Any, requests: int) -> None:
    t = target({"auth": oauth()})
    server = Server(token("AT-1", expires_in), token("AT-2", 3600))
    for _ in range(2):
        end, _ = call(t, server)
        assert isinstance(end, A.Complete), end
    assert server.paths().count("/oauth/token") == requests


def test_credentials_in_the_token_url_become_basic_auth() -> None:
    t = target({"auth": oauth(tokenUrl="http://app:s%20cret@api.test/oauth/token")})
    server = Server(token())
    end, _ = call(t, server)
    assert isinstance(end, A.Complete)
    tok = server.seen[0]
    assert tok.target == "/oauth/token"
    assert header(tok, "authorization") == "Basic " + base64.b64encode(b"app:s cret").decode()
    assert header(tok, "host") == "api.test"


def test_a_templated_token_url_that_renders_invalid_fails_before_any_request() -> None:
    t = target({"auth": oauth(tokenUrl="{{token_url}}")})
    server = Server(token())
    end, _ = call(t, server, vars={"token_url": "not a url"})
    assert isinstance(end, A.Fail) and isinstance(end.error, TemplateError)
    assert "auth.tokenUrl '{{token_url}}' is not a valid URL" in str(end.error)
    assert server.seen == []


def test_a_long_error_body_is_cut_in_the_message() -> None:
    t = target({"auth": oauth()})
    server = Server(token(status=400, body=b"x" * 5000, reason=b"Bad Request"))
    end, _ = call(t, server)
    assert isinstance(end, A.Fail) and isinstance(end.error, HttpStatusError)
    assert str(end.error).endswith("x" * 10 + "... (904 more characters)")
def test_a_deeply_nested_token_response_is_a_limit_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    end, _ = call(target({"auth": oauth()}), Server(token(body=deep)))
    assert isinstance(end, A.Fail) and isinstance(end.error, LimitExceeded), end
    assert "nested deeper than 256 levels" in str(end.error)
