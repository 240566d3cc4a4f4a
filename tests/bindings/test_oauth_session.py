"""OAuth tokens and session endpoints through every binding, against the mock server."""

from __future__ import annotations

import itertools
from typing import Any

from promptwire.api import Target

from sansio_core.call import Call
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import HttpStatusError
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources

_cases = itertools.count()


def marker(runner: Any) -> str:
    """A query value that tells this test's requests apart on the shared mock server."""
    return f"{runner.name}-{next(_cases)}"


def target(mock: Any, config: dict[str, Any], path: str) -> HttpTarget:
    entry = parse_provider_entry({"id": mock.base_url + path, "config": config})
    return HttpTarget.compile(entry, Sources())


def calls(t: HttpTarget, *prompts: str, vars: dict[str, Any] | None = None) -> Any:
    def make(backend: Any) -> list[Call]:
        return [t.new_call(p, dict(vars or {}), None, now=backend.now(), seed=i) for i, p in enumerate(prompts)]

    return make


def seen(mock: Any, tag: str) -> list[Any]:
    return [r for r in mock.requests if ("case", tag) in r.query]


def test_client_credentials_token_fetched_once_and_sent_as_bearer(runner: Any, mock: Any) -> None:
    tag = marker(runner)
    config = {
        "method": "POST",
        "body": {"prompt": "{{prompt}}"},
        "auth": {"type": "oauth", "grantType": "client_credentials",
                 "tokenUrl": f"{mock.base_url}/oauth/token?case={tag}",
                 "clientId": "client-1", "clientSecret": "s3cret", "scopes": ["read"]},
    }
    t = target(mock, config, f"/echo?case={tag}")
    first, second = runner.run(calls(t, "one", "two"))
    token_req, api1, api2 = seen(mock, tag)
    assert token_req.path == "/oauth/token"
    # The name keeps its capitals on the wire (promptfoo sends it so).
    assert ("Content-Type", "application/x-www-form-urlencoded") in token_req.headers
    assert token_req.text == "grant_type=client_credentials&client_id=client-1&client_secret=s3cret&scope=read"
    bearer = api1.header("authorization")
    assert bearer is not None and bearer.startswith("Bearer mock-token-")
    assert api2.header("authorization") == bearer
    assert first["output"]["json"] == {"prompt": "one"} and second["output"]["json"] == {"prompt": "two"}


def test_rejected_token_request_fails_the_call(runner: Any, mock: Any) -> None:
    tag = marker(runner)
    config = {"auth": {"type": "oauth", "grantType": "password",
                       "tokenUrl": f"{mock.base_url}/oauth/token?case={tag}&fail=1",
                       "username": "bob", "password": "hunter2"}}
    t = target(mock, config, f"/echo?case={tag}")
    (result,) = runner.run(calls(t, "hi"))
    assert isinstance(result, HttpStatusError) and result.status == 401
    assert str(result) == ('Failed to refresh OAuth token: Error: OAuth token request failed with status '
                           '401 Unauthorized: {"error":"invalid_client"}')
    assert "hunter2" not in str(result)
    assert [r.path for r in seen(mock, tag)] == ["/oauth/token"]


def test_session_endpoint_id_reaches_the_request_and_the_result(runner: Any, mock: Any) -> None:
    tag = marker(runner)
    config = {
        "method": "POST",
        "body": {"prompt": "{{prompt}}", "session": "{{sessionId}}"},
        "session": {"url": f"{mock.base_url}/session?case={tag}", "headers": {"X-Client": "{{client}}"},
                    "body": {"prompt": "start"}, "responseParser": "data.headers['x-session-id']"},
    }
    t = target(mock, config, f"/echo?case={tag}")
    (result,) = runner.run(calls(t, "hello", vars={"client": "c-1"}))
    sess, api = seen(mock, tag)
    assert sess.path == "/session" and sess.header("x-client") == "c-1"
    assert sess.header("content-type") == "application/json" and sess.text == '{"prompt":"start"}'
    session_id = result["sessionId"]
    assert session_id.startswith("mock-session-")
    assert result["output"]["json"] == {"prompt": "hello", "session": session_id}
    assert api.header("authorization") is None


def test_public_api_reuses_a_session_it_obtained(mock: Any) -> None:
    tag = f"api-{next(_cases)}"
    config = {"id": f"{mock.base_url}/echo?case={tag}", "config": {
        "method": "POST", "body": {"s": "{{sessionId}}"},
        "session": {"url": f"{mock.base_url}/session?case={tag}", "responseParser": "data.body.sessionId"}}}
    with Target.from_config(config) as t:
        first = t.call("one")
        again = t.call("two", {"sessionId": first["sessionId"]})
    assert [r.path for r in seen(mock, tag)] == ["/session", "/echo", "/echo"]
    assert again["sessionId"] == first["sessionId"]
    assert again["output"]["json"] == {"s": first["sessionId"]}
