"""``auth.type: file`` (spec 14.5): a user function's token reaches the request through vars.

Each test builds a real HTTP target and runs calls against an in-memory h11
server at chosen wall-clock times, looking at the request the server saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError, TransformError
from sansio_core.hooks import python_key
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = 1_700_000_000.0
FAR = 4102444800000  # 2100-01-01 in epoch ms

AUTH_JS = b"""
export default async function getAuth(context) {
  return { token: 'file-token-' + context.vars.user, expiration: 4102444800000 };
}
export function named(context) { return { token: 'named-' + context.prompt.raw }; }
"""


def target(auth_path: str, *, files: Mapping[str, bytes] | None = None,
           python: Mapping[str, Callable[..., Any]] | None = None, **config: Any) -> HttpTarget:
    entry = parse_provider_entry({"id": "http://api.test/api", "config": {
        "method": "GET",
        "headers": {"Authorization": "Bearer {{token}}", "X-Exp": "{{expiration}}"},
        "auth": {"type": "file", "path": auth_path},
        **config,
    }})
    return HttpTarget.compile(entry, Sources(files=dict(files or {}), python=dict(python or {}), base_dir="/cfg"))


def call(t: HttpTarget, at: float = T0, vars: Mapping[str, Any] | None = None, prompt: str = "hello",
         context: Mapping[str, Any] | None = None) -> SeenRequest:
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(200, [("content-type", "application/json")], b'{"result":"ok"}')

    end, _ = run_against(t.new_call(prompt, vars or {}, context, now=Instant(1.0, at), seed=1), handler)
    if isinstance(end, A.Fail):
        raise end.error
    return seen[0]


def headers(req: SeenRequest) -> dict[str, str]:
    return dict(req.headers)


def py_auth(fn: Callable[..., Any], ref: str = "file://auth.py") -> dict[str, Callable[..., Any]]:
    return {python_key("auth.file", ref): fn}


def test_js_default_export_token_and_expiration_become_vars() -> None:
    t = target("file://auth.js", files={"auth.js": AUTH_JS})
    h = headers(call(t, vars={"user": "u7"}))
    assert h["authorization"] == "Bearer file-token-u7"
    assert h["x-exp"] == str(FAR)


def test_js_named_export_sees_the_prompt() -> None:
    t = target("file://auth.js:named", files={"auth.js": AUTH_JS})
    h = headers(call(t, prompt="hi there"))
    assert h["authorization"] == "Bearer named-hi there"
    assert h["x-exp"] == ""  # no expiration renders empty


def test_python_get_auth_by_default_with_a_plain_path() -> None:
    def get_auth(context: dict[str, Any]) -> dict[str, Any]:
        return {"token": "py-token-" + context["vars"]["user"], "expiration": None}

    t = target("auth_py.py", python=py_auth(get_auth, "file://auth_py.py"))
    assert headers(call(t, vars={"user": "u9"}))["authorization"] == "Bearer py-token-u9"


def test_no_authorization_header_is_added_by_itself() -> None:
    t = target("file://auth.py", python=py_auth(lambda c: {"token": "secret"}), headers={"X-Tok": "{{token}}"})
    h = headers(call(t))
    assert "authorization" not in h and h["x-tok"] == "secret"


def test_the_function_receives_the_call_context() -> None:
    got: list[dict[str, Any]] = []

    def get_auth(context: dict[str, Any]) -> dict[str, Any]:
        got.append(context)
        return {"token": "t"}

    t = target("file://auth.py", python=py_auth(get_auth))
    call(t, vars={"a": 1}, prompt="p1", context={"evaluationId": "ev-1", "testCaseId": "tc", "logger": object()})
    ctx = got[0]
    assert ctx["vars"]["a"] == 1 and ctx["vars"]["prompt"] == "p1"
    assert ctx["prompt"] == {"raw": "p1", "label": "p1"}
    assert ctx["evaluationId"] == "ev-1" and ctx["testCaseId"] == "tc"
    assert ctx["logger"] is None  # what JSON cannot hold arrives as null


def test_token_without_expiration_is_kept_but_per_context() -> None:
    calls: list[str] = []

    def get_auth(context: dict[str, Any]) -> dict[str, Any]:
        calls.append(context["vars"]["user"])
        return {"token": f"tok{len(calls)}"}

    t = target("file://auth.py", python=py_auth(get_auth))
    a = call(t, vars={"user": "a"})
    b = call(t, at=T0 + 10 * 86400, vars={"user": "a"})
    c = call(t, vars={"user": "b"})
    assert [headers(r)["authorization"] for r in (a, b, c)] == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]
    assert calls == ["a", "b"]


def test_expiring_token_is_refreshed_within_the_sixty_second_buffer() -> None:
    calls: list[int] = []

    def get_auth(context: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        return {"token": f"tok{len(calls)}", "expiration": int(T0 * 1000) + 120_000}

    t = target("file://auth.py", python=py_auth(get_auth))
    first = headers(call(t))["authorization"]
    reused = headers(call(t, at=T0 + 59))["authorization"]
    refreshed = headers(call(t, at=T0 + 60))["authorization"]
    assert (first, reused, refreshed) == ("Bearer tok1", "Bearer tok1", "Bearer tok2")


def test_file_auth_token_overrides_a_token_var() -> None:
    t = target("file://auth.py", python=py_auth(lambda c: {"token": "fresh"}))
    assert headers(call(t, vars={"token": "stale"}))["authorization"] == "Bearer fresh"


def test_file_auth_works_in_raw_request_mode() -> None:
    entry = parse_provider_entry({"id": "http", "config": {
        "request": "GET /raw HTTP/1.1\nHost: api.test\nX-Token: {{token}}\n",
        "auth": {"type": "file", "path": "file://auth.py"},
    }})
    t = HttpTarget.compile(entry, Sources(python=py_auth(lambda c: {"token": "rawtok"})))
    req = call(t)
    assert req.target == "/raw" and headers(req)["x-token"] == "rawtok"


@pytest.mark.parametrize(("result", "message"), [
    ({}, "token is missing"),
    ({"token": ""}, "token is an empty string"),
    ({"token": 5}, "token is a int"),
    ({"token": "t", "expiration": "soon"}, "expiration is a string of 4 characters"),
    ({"token": "t", "expiration": float("inf")}, "expiration is a float"),
    ("just-a-token", "it returned a string of 12 characters"),
])
def test_bad_results_fail_the_call_with_promptfoos_prefix(result: Any, message: str) -> None:
    t = target("file://auth.py", python=py_auth(lambda c: result))
    with pytest.raises(TransformError) as info:
        call(t)
    assert str(info.value).startswith("Failed to refresh file auth token: the auth function must return")
    assert message in str(info.value)


def test_a_failing_function_fails_the_call() -> None:
    def get_auth(context: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("vault is sealed")

    with pytest.raises(TransformError, match=r"^Failed to refresh file auth token: RuntimeError: vault is sealed$"):
        call(target("file://auth.py", python=py_auth(get_auth)))


def test_a_js_function_that_throws_fails_the_call() -> None:
    files = {"auth.js": b"module.exports = async () => { throw new Error('no creds'); };"}
    with pytest.raises(TransformError, match=r"^Failed to refresh file auth token: .*no creds"):
        call(target("file://auth.js", files=files))


@pytest.mark.parametrize(("path", "files", "message"), [
    ("file://missing.js", {}, "the file was not loaded"),
    ("file://auth.py", {}, "was not loaded"),
    ("auth.ts", {"auth.ts": b"export default () => ({token: 'x'})"}, "TypeScript"),
    ("file://auth.js:nope", {"auth.js": AUTH_JS}, "nope"),
])
def test_unusable_auth_files_fail_when_the_target_is_built(path: str, files: dict[str, bytes], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        target(path, files=files)
    assert info.value.path == "config.auth.path"
    assert message in str(info.value)
