"""ResponsePlan against the recorded conformance goldens and the spec's cases.

Each HTTP case of the transform / validateStatus / session / token groups is
replayed through ``ResponsePlan.build`` with the response the scripted server
sent; the ProviderResponse must equal the golden (with the promptwire
expectation patches applied), and an expected failure must carry the
expectation's ``error_contains`` substrings.
"""

from __future__ import annotations

import copy
import http
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sansio_core.errors import ConfigError, HttpStatusError, LimitExceeded, PromptwireError, TransformError
from sansio_core.http.response_plan import (
    ResponsePlan,
    default_token_usage,
    estimate_tokens,
    header_map,
    sanitize,
)
from sansio_core.js.limits import JsLimits
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
CASES = SHARED / "conformance" / "cases"
EXPECT = SHARED / "conformance" / "expectations"
SPEC_CASES = SHARED / "spec" / "http-provider-cases.yaml"

HTTP_CASES = [
    "default_response_json", "default_response_text", "response_headers_metadata", "status_500_empty_body",
    "session_parser_body", "session_parser_header_name_legacy", "token_estimation_enabled",
    "token_estimation_multiplier", "transform_request_arrow_fn", "transform_request_returns_string",
    "transform_request_string_expression", "transform_response_error_field", "transform_response_file_module",
    "transform_response_full_object", "transform_response_json_path", "transform_response_object_literal_misdetected",
    "transform_response_throws", "validate_status_accepts_error", "validate_status_expression_fails",
    "tools_format_anthropic", "tools_format_bedrock", "tools_openai_passthrough",
]

needs_shared = pytest.mark.skipif(not CASES.is_dir(), reason="shared conformance cases not present")


def _sources_for(config: dict[str, Any], base: Path) -> Sources:
    files = {}
    for key in ("transformResponse", "transformRequest", "validateStatus", "sessionParser"):
        value = config.get(key)
        if isinstance(value, str) and value.startswith("file://"):
            path = value[len("file://"):].split(":")[0]
            files[path] = (base / path).read_bytes()
    return Sources(files=files, base_dir=str(base))


def _apply_patches(calls: list[Any], expectation: dict[str, Any]) -> list[Any]:
    calls = copy.deepcopy(calls)
    for op in expectation.get("patch", []) or []:
        if op["op"] == "set" and op["path"].startswith("calls["):
            index = int(op["path"][len("calls["):].split("]")[0])
            calls[index] = op["value"]
    return calls


def _normalize(resp: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(resp))
    if "latencyMs" in out:
        out["latencyMs"] = "<latencyMs>"
    return out


def _server_response(case: dict[str, Any], index: int) -> dict[str, Any]:
    responses = case["server"]["routes"][0]["responses"]
    return responses[min(index, len(responses) - 1)]


def _response_parts(resp: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in resp.get("headers", [])]
    if "chunks" in resp:
        body = "".join(resp["chunks"])
        headers.append(("Transfer-Encoding", "chunked"))
        return body, headers
    if "json" in resp:
        body = json.dumps(resp["json"], separators=(",", ":"), ensure_ascii=False)
    else:
        body = resp.get("body", "")
    headers.append(("Content-Length", str(len(body.encode()))))
    return body, headers


@needs_shared
@pytest.mark.parametrize("name", HTTP_CASES)
def test_conformance_case(name: str) -> None:
    case = yaml.safe_load((CASES / f"{name}.yaml").read_text())
    golden = json.loads((CASES / f"{name}.golden.json").read_text())
    expectation = yaml.safe_load((EXPECT / f"{name}.yaml").read_text())
    config = case["provider"]["config"]
    engine = TemplateEngine()
    plan = ResponsePlan.compile(config, _sources_for(config, CASES), engine)
    expected_calls = _apply_patches([c["result"] for c in golden["calls"]], expectation)
    for i, call in enumerate(golden["calls"]):
        resp = _server_response(case, i)
        body, headers = _response_parts(resp)
        status = resp.get("status", 200)
        reason = {418: "I'm a Teapot"}.get(status) or http.HTTPStatus(status).phrase
        transformed = plan.transform_request(call["prompt"], call["vars"], {})
        expected = expected_calls[i]
        kwargs = dict(status=status, status_text=reason, headers=headers, body_text=body, latency_ms=3,
                      prompt=call["prompt"], vars=call["vars"], transformed_prompt=transformed)
        if "thrown" in expected:
            with pytest.raises(PromptwireError) as info:
                plan.build(**kwargs)
            wanted = (expectation.get("calls") or [{}])[i].get("error_contains", [])
            for piece in wanted:
                assert str(piece).lower() in str(info.value).lower()
            continue
        got = _normalize(plan.build(**kwargs))
        if "error" in expected.get("response", {}):
            wanted = (expectation.get("calls") or [{}])[i].get("error_contains", [])
            for piece in wanted:
                assert piece.lower() in got["error"].lower()
        assert got == expected["response"]


def _spec_cases(group: set[str]) -> list[dict[str, Any]]:
    if not SPEC_CASES.is_file():
        return []
    cases = yaml.safe_load(SPEC_CASES.read_text())
    simple = {"method", "body", "headers", "transformResponse", "responseParser", "validateStatus",
              "tokenEstimation", "sessionParser", "transformRequest", "queryParams"}
    return [c for c in cases if c["group"] in group and set(c["config"]) <= simple
            and isinstance(c.get("server"), dict) and not c.get("redteam") and not c["server"].get("gzip")]


# Where promptwire deliberately differs from promptfoo 0.123.1 (docs/compat-transforms.md).
SPEC_OVERRIDES: dict[str, dict[str, Any]] = {
    "transform_response_syntax_error_semicolon": {"output": 1},
    "transform_response_return_body_not_supported": {"output": 1},
    "transform_response_unparenthesized_arrow": {"output": "A"},
    "session_parser_arrow_string_returns_function": {"sessionId": "X"},
    "validate_status_expression_with_arrow_inside": {"output": {"result": "ok"}},
}
TRANSFORM_JS = (
    "module.exports = (json, text, context) => ({output: 'FILE:' + json.result, "
    "metadata: {status: context.response.status}});\nmodule.exports.named = json => 'NAMED:' + json.result;\n"
)


@pytest.mark.parametrize(
    "case", _spec_cases({"transformResponse", "validateStatus", "tokenEstimation", "session"}),
    ids=lambda c: c["name"],
)
def test_spec_case(case: dict[str, Any]) -> None:
    config = case["config"]
    expect = dict(case["expect"])
    expect.pop("request", None)
    if case["name"] in SPEC_OVERRIDES:
        for key in ("raises", "raises_startswith", "observed_message"):
            expect.pop(key, None)
        expect.update(SPEC_OVERRIDES[case["name"]])
    sources = Sources(files={"transform.js": TRANSFORM_JS.encode()})
    server = case["server"]
    kwargs = dict(status=server["status"], status_text=server["statusText"], headers=list(server["headers"].items()),
                  body_text=server["body"], latency_ms=1, prompt=case["prompt"], vars=case["vars"])
    if "construct_raises_contains" in expect:
        with pytest.raises(ConfigError, match=expect["construct_raises_contains"].split(":")[-1].strip()[:10]):
            ResponsePlan.compile(config, sources, TemplateEngine())
        return
    if case["name"] == "validate_status_invalid_expression":
        with pytest.raises(ConfigError, match="Invalid status validator expression"):
            ResponsePlan.compile(config, sources, TemplateEngine())
        return
    plan = ResponsePlan.compile(config, Sources(files=sources.files, env={"PF_SPEC_TR": "from-env"}),
                                TemplateEngine())
    kwargs["transformed_prompt"] = plan.transform_request(case["prompt"], case["vars"], {})
    if "raises" in expect or "raises_startswith" in expect:
        with pytest.raises(PromptwireError) as info:
            plan.build(**kwargs)
        if "raises" in expect:
            assert str(info.value) == expect["raises"]
        else:
            assert str(info.value).startswith(expect["raises_startswith"].split(": Error")[0])
        return
    got = plan.build(**kwargs)
    for key in ("output", "error", "raw", "cached", "sessionId", "metadata"):
        if key in expect:
            assert got.get(key) == expect[key], key
        elif key in ("sessionId", "error", "output"):
            assert key not in got, key
    usage = expect.get("tokenUsage", "DEFAULT")
    assert got["tokenUsage"] == (default_token_usage() if usage == "DEFAULT" else usage)


# -- behaviour in isolation ------------------------------------------------------------

def _plan(**config: Any) -> ResponsePlan:
    return ResponsePlan.compile(config, Sources(), TemplateEngine())


def _build(plan: ResponsePlan, body: str, status: int = 200, headers: Any = (), **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(status=status, status_text="OK", headers=list(headers), body_text=body,
                                latency_ms=5, prompt="p", vars={})
    args.update(kw)
    return plan.build(**args)


@pytest.mark.parametrize(("expr", "output"), [("0", 0), ("false", False), ("''", ""), ("null", None)])
def test_falsy_transform_results_are_outputs(expr: str, output: Any) -> None:
    got = _build(_plan(transformResponse=expr), "{}")
    assert "output" in got and got["output"] == output


def test_undefined_result_means_no_output() -> None:
    got = _build(_plan(transformResponse="json.nothing"), '{"a": 1}')
    assert "output" not in got and "error" not in got


def test_default_transform_keeps_promptfoo_falsy_rule() -> None:
    assert _build(_plan(), "0")["output"] == "0"
    assert _build(_plan(), "[]")["output"] == []


def test_returned_error_object_is_an_error_not_output() -> None:
    got = _build(_plan(transformResponse="new Error('upstream broke')"), "{}")
    assert got["error"] == "Error: upstream broke" and "output" not in got


def test_validate_status_failure_carries_status_and_body() -> None:
    plan = _plan(validateStatus="status < 400")
    with pytest.raises(HttpStatusError) as info:
        _build(plan, '{"error":"nope"}', status=404, status_text="Not Found")
    assert info.value.status == 404
    assert str(info.value) == 'HTTP call failed with status 404 Not Found: {"error":"nope"}'
    assert plan.accepts_status(200) and not plan.accepts_status(500)


@pytest.mark.parametrize("source", ["(s) => s < 500", "s => s < 500", "function (s) { return s < 500 }",
                                    "[200, 404].some(s => s === status) || status < 500", "status < 500;"])
def test_validate_status_forms(source: str) -> None:
    plan = _plan(validateStatus=source)
    assert plan.accepts_status(404) and not plan.accepts_status(503)


def test_validate_status_python_callable() -> None:
    plan = ResponsePlan.compile({"validateStatus": lambda status: status == 418}, Sources())
    assert plan.accepts_status(418) and not plan.accepts_status(200)


def test_context_response_and_vars_reach_transform() -> None:
    plan = _plan(transformResponse="[context.response.status, context.response.headers['x-h'], "
                                   "context.response.data.a, context.vars.user, context.prompt]")
    got = _build(plan, '{"a": 7}', status=201, headers=[("X-H", "v")], vars={"user": "u"}, prompt="hi")
    assert got["output"] == [201, "v", 7, "u", "hi"]


def test_python_transform_gets_the_same_arguments() -> None:
    def transform(json: Any, text: str, context: dict[str, Any]) -> dict[str, Any]:
        return {"output": json["a"], "metadata": {"status": context["response"]["status"], "len": len(text)}}

    got = _build(ResponsePlan.compile({"transformResponse": transform}, Sources()), '{"a": 1}')
    assert got["output"] == 1 and got["metadata"] == {"status": 200, "len": 8}


def test_python_transform_failure_is_a_transform_error() -> None:
    def transform(json: Any) -> Any:
        return json["missing"]

    with pytest.raises(TransformError, match="Failed to transform response: KeyError"):
        _build(ResponsePlan.compile({"transformResponse": transform}, Sources()), '{"a": 1}')


def test_headers_lowercased_sorted_joined_and_redacted() -> None:
    hdrs = [("X-Zeta", "z"), ("X-Multi", "a"), ("X-Multi", "b"), ("Set-Cookie", "s=1"), ("Authorization", "x")]
    assert header_map(hdrs) == {"authorization": "x", "set-cookie": "s=1", "x-multi": "a,b", "x-zeta": "z"}
    got = _build(_plan(), "{}", headers=[*hdrs, ("X-Token-Like", "sk-abcdefghijklmnop")])
    assert got["metadata"]["http"]["headers"] == {
        "authorization": "[REDACTED]", "set-cookie": "[REDACTED]", "x-multi": "a,b",
        "x-token-like": "[REDACTED]", "x-zeta": "z",
    }


def test_raw_mode_has_no_raw_or_headers_unless_debug() -> None:
    plain = _build(_plan(), "{}", headers=[("X", "1")], raw_mode=True)
    assert "raw" not in plain and plain["metadata"] == {"http": {"status": 200, "statusText": "OK"}}
    debug = _build(_plan(), "{}", headers=[("X", "1")], raw_mode=True, debug=True)
    assert debug["raw"] == "{}" and debug["metadata"]["headers"] == {"x": "1"}


def test_debug_request_info_is_sanitized() -> None:
    got = _build(_plan(), "{}", debug=True, request_info={
        "requestHeaders": {"authorization": "Bearer abc", "x-trace": "t"},
        "transformedRequest": "p!", "finalRequestBody": {"q": "p", "password": "hunter2"},
    })
    assert got["metadata"]["http"]["requestHeaders"] == {"authorization": "[REDACTED]", "x-trace": "t"}
    assert got["metadata"]["finalRequestBody"] == {"q": "p", "password": "[REDACTED]"}
    assert got["metadata"]["transformedRequest"] == "p!"


def test_session_parser_forms() -> None:
    hdrs = [("X-Session-Id", "hdr")]
    assert _build(_plan(sessionParser="x-session-id"), "{}", headers=hdrs)["sessionId"] == "hdr"
    assert _build(_plan(sessionParser="data.headers['x-session-id']"), "{}", headers=hdrs)["sessionId"] == "hdr"
    assert _build(_plan(sessionParser="data.body.responses[0]?.sessionId"),
                  '{"responses": [{"sessionId": "b"}]}')["sessionId"] == "b"
    assert "sessionId" not in _build(_plan(sessionParser="data.body.none"), "{}")
    assert _build(_plan(), "{}", session_endpoint_id="from-endpoint")["sessionId"] == "from-endpoint"


def test_token_usage_precedence() -> None:
    est = _plan(tokenEstimation={"enabled": True})
    assert _build(est, "one two three")["tokenUsage"] == {"prompt": 2, "completion": 4, "total": 6, "numRequests": 1}
    assert _build(est, '{"tokenUsage": {"total": 9}}')["tokenUsage"] == {"total": 9}
    mine = _plan(tokenEstimation={"enabled": True}, transformResponse="({output: 'x', tokenUsage: {total: 1}})")
    assert _build(mine, '{"tokenUsage": {"total": 9}}')["tokenUsage"] == {"total": 1}
    assert _build(_plan(), "x")["tokenUsage"] == default_token_usage()
    assert estimate_tokens("  a  b ", 1.3) == 3 and estimate_tokens("", 2) == 0 and estimate_tokens(None, 2) == 0
    with pytest.raises(ConfigError, match="tokenEstimation"):
        _plan(tokenEstimation={"enabled": True, "multiplier": 0.001})


def test_transform_request_forms() -> None:
    engine = TemplateEngine()
    cases = {
        "prompt.toUpperCase()": "HI",
        "(prompt, vars) => prompt + vars.x": "hi!",
        "p => p + 1": "hi1",
        "const q = prompt + '?'; return q": "hi?",
        "({ text: prompt })": {"text": "hi"},
        '{"text": "{{ prompt }}-{{ x }}"}': '{"text": "hi-!"}',
    }
    for source, expected in cases.items():
        plan = ResponsePlan.compile({"transformRequest": source}, Sources(), engine)
        assert plan.transform_request("hi", {"x": "!"}, {}) == expected, source
    assert _plan().transform_request("hi", {}) == "hi"


def test_transform_request_errors_have_promptfoo_prefixes() -> None:
    with pytest.raises(TransformError, match=r"^Failed to transform request: TypeError"):
        _plan(transformRequest="prompt.nope.x").transform_request("hi", {})
    with pytest.raises(TransformError, match=r"^Error in request transform function: Error: boom"):
        _plan(transformRequest="(p) => { throw new Error('boom') }").transform_request("hi", {})


def test_sanitize_depth_and_values() -> None:
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    assert sanitize(deep) == {"a": {"b": {"c": {"d": "[...]"}}}}
    assert sanitize({"list": ["Bearer " + "x" * 30, "plain"]}) == {"list": ["[REDACTED]", "plain"]}


def test_hostile_transform_leaves_plan_usable() -> None:
    plan = ResponsePlan.compile({"transformResponse": "text === 'loop' ? (() => { while (true) {} })() : text"},
                                Sources(), js_limits=JsLimits(time_s=0.1))
    with pytest.raises(TransformError, match="time limit"):
        _build(plan, "loop")
    assert _build(plan, "fine")["output"] == "fine"


def test_context_serialises_whole_when_user_code_reads_it() -> None:
    plan = _plan(transformResponse="JSON.stringify(context) + ' ' + Object.keys(context) + ' ' + ('vars' in context)")
    got = _build(plan, '{"a": 1}', vars={"v": 1})
    assert got["output"] == ('{"response":{"data":{"a":1},"status":200,"statusText":"OK","headers":{},'
                             '"cached":false,"latencyMs":5},"vars":{"v":1},"prompt":"p"} response,vars,prompt true')


# -- issue 9 item 3: deeply nested bodies ---------------------------------------------------

DEEP_BODY = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("transform", [None, "json", "(json, text) => text.length", lambda json, text: 1])
def test_a_deeply_nested_body_is_a_limit_error(transform: Any) -> None:

    config = {} if transform is None else {"transformResponse": transform}
    plan = ResponsePlan.compile(config, Sources(), TemplateEngine())
    with pytest.raises(LimitExceeded, match="nested deeper than 256 levels"):
        plan.build(status=200, status_text="OK", headers=[("Content-Type", "application/json")],
                   body_text=DEEP_BODY, latency_ms=1, prompt="p", vars={})


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, "x"]}', "[]", "null", "0", '"s"', "NaN", '{"a": Infinity}',
                                  "-Infinity", "\ufeff{}", " {} ", "{", "", "text", '{"a": 1} x', "[" * 300 + "]" * 300])
def test_the_body_parser_is_parse_json_or_none(text: str) -> None:
    from sansio_core.hooks import parse_json_or_none
    from sansio_core.http.response_plan import parse_body_json

    try:
        expected: Any = ("ok", parse_json_or_none(text))
    except LimitExceeded as err:
        expected = ("limit", str(err))
    try:
        got: Any = ("ok", parse_body_json(text))
    except LimitExceeded as err:
        got = ("limit", str(err))
    assert got == expected
