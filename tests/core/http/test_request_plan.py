"""Request building: the recorded promptfoo requests (conformance goldens) and the rules behind them.

The first half replays the shared conformance cases of the body, url, method,
headers, query, auth and raw-request groups through ``RequestPlan`` alone (no
network) and compares method, target, compared headers and body bytes with
the golden after the case's expectation patches, using the suite's own
``compare.py`` rules. The second half pins the individual rules.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError, PromptwireError, TemplateError
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.request_plan import UNCHANGED, USER_AGENT, RequestPlan, header_bytes
from sansio_core.sources import Sources, find_file_refs, split_file_ref
from sansio_core.templating import TemplateEngine

CONFORMANCE = Path("/work/shared/conformance")
CASES = CONFORMANCE / "cases"
PORT = 8080
GROUPS = (
    "json_*", "method_*", "string_body*", "object_body*", "nested_json*", "messages_dump*", "query_params*",
    "url_in_config", "raw_request_*", "auth_basic", "auth_bearer", "auth_api_key_*", "auth_url_credentials",
)


def _case_names() -> list[str]:
    if not CASES.is_dir():
        return []
    names: set[str] = set()
    for pattern in GROUPS:
        names.update(p.name[: -len(".yaml")] for p in CASES.glob(pattern + ".yaml"))
    return sorted(names)


def _compare_module() -> Any:
    sys.path.insert(0, str(CONFORMANCE))
    try:
        import compare  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(CONFORMANCE))
    return compare


def _substitute(value: Any) -> Any:
    table = [("@@BASE_URL@@", f"http://127.0.0.1:{PORT}"), ("@@HOST@@", f"127.0.0.1:{PORT}"), ("@@PORT@@", str(PORT))]
    if isinstance(value, str):
        for k, v in table:
            value = value.replace(k, v)
        return value
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    return value


def _plan_for(provider: dict[str, Any], env: dict[str, str] | None = None,
              files: dict[str, bytes] | None = None) -> RequestPlan:
    entry = parse_provider_entry(provider)
    engine = TemplateEngine.from_env(env or {})
    return RequestPlan.compile(entry, engine, Sources(files=files or {}, env=env or {}))


def _record(req: PreparedRequest) -> dict[str, Any]:
    """Our request in the golden's shape (port normalised back)."""
    headers = [[k, v.replace(f"127.0.0.1:{PORT}", "127.0.0.1:@@PORT@@")] for k, v in req.headers]
    body = req.body.decode("utf-8") if req.body is not None else ""
    return {"method": req.method, "target": req.target, "headers": headers, "body_text": body}


@pytest.mark.parametrize("name", _case_names())
def test_conformance_request(name: str) -> None:
    compare = _compare_module()
    case = yaml.safe_load((CASES / f"{name}.yaml").read_text(encoding="utf-8"))
    golden = json.loads((CASES / f"{name}.golden.json").read_text(encoding="utf-8"))
    expectation = compare.load_expectation(name, CONFORMANCE / "expectations")
    if expectation["verdict"] == "skip":
        pytest.skip(expectation["reason"])
    if expectation.get("case_patch"):
        case = compare.deep_merge(case, expectation["case_patch"])
    view = compare.apply_patch(compare.comparable_view(golden), expectation.get("patch") or [])
    provider = _substitute(case["provider"])
    files = {}
    for _, ref in find_file_refs(provider.get("config", {})):
        path, _ = split_file_ref(ref)
        files[path] = (CASES / path).read_bytes()
    calls = case.get("calls") or [{"prompt": case.get("prompt", ""), "vars": case.get("vars") or {},
                                   "context": case.get("context") or {}}]
    env = {k: str(v) for k, v in (case.get("env") or {}).items()}
    requests = iter(view["requests"])
    for i, (call, result) in enumerate(zip(calls, view["calls"], strict=True)):
        vars = {**_substitute(call.get("vars") or {}), "prompt": call.get("prompt", "")}
        if "thrown" in result or (isinstance(result.get("response"), dict) and "error" in result["response"]):
            with pytest.raises(PromptwireError) as info:
                _plan_for(provider, env, files).build(vars, UNCHANGED, call.get("context"))
            rules = expectation["calls"][i] if i < len(expectation["calls"]) else {}
            assert compare.missing_substrings(str(info.value), rules.get("error_contains", [])) == []
            continue
        plan = _plan_for(provider, env, files)
        got = _record(plan.build(vars, UNCHANGED, call.get("context")))
        want = next(requests)
        rules = expectation["headers"]
        assert got["method"] == want["method"]
        assert got["target"] == want["target"]
        assert compare.pw_headers(got["headers"], "http", rules) == compare.pw_headers(want["headers"], "http", rules)
        assert got["body_text"] == want.get("body_text", "")


def test_conformance_cases_were_found() -> None:
    if not CASES.is_dir():
        pytest.skip("shared conformance cases not present")
    assert len(_case_names()) >= 20


# -- the rules, one by one ------------------------------------------------------------------


def build(config: dict[str, Any], prompt: Any = "hello", vars: dict[str, Any] | None = None,
          provider_id: str = "http://api.test/v1", transformed: Any = UNCHANGED,
          context: dict[str, Any] | None = None, env: dict[str, str] | None = None,
          files: dict[str, bytes] | None = None) -> PreparedRequest:
    plan = _plan_for({"id": provider_id, "config": config}, env, files)
    return plan.build({**(vars or {}), "prompt": prompt}, transformed, context)


def body(req: PreparedRequest) -> str:
    assert req.body is not None
    return req.body.decode("utf-8")


def test_object_body_post_is_compact_json_with_defaults() -> None:
    req = build({"method": "POST", "body": {"q": "{{prompt}}", "n": 1.0, "x": None}})
    assert (req.method, req.scheme, req.host, req.port, req.target) == ("POST", "http", "api.test", 80, "/v1")
    assert body(req) == '{"q":"hello","n":1,"x":null}'
    assert dict(req.headers) == {
        "host": "api.test", "content-type": "application/json", "accept": "*/*",
        "user-agent": USER_AGENT, "accept-encoding": "gzip, deflate", "content-length": "28",
    }
    assert "x-promptfoo-version" not in dict(req.headers)


def test_body_without_method_is_posted() -> None:
    req = build({"body": {"q": "{{prompt}}"}})
    assert req.method == "POST"
    assert body(req) == '{"q":"hello"}'


def test_string_body_defaults_to_text_plain_and_is_trimmed() -> None:
    req = build({"method": "POST", "body": "  Hello {{prompt}} \n"})
    assert req.header("content-type") == "text/plain"
    assert body(req) == "Hello hello"


def test_non_ascii_body_is_utf8_and_unescaped() -> None:
    req = build({"method": "POST", "body": {"q": "{{prompt}}"}}, prompt="naïve ☕")
    assert req.body == '{"q":"naïve ☕"}'.encode()
    assert req.header("content-length") == str(len(req.body))


@pytest.mark.parametrize("method", ["GET", "get", "Head"])
def test_get_with_body_is_rejected_at_load(method: str) -> None:
    with pytest.raises(ConfigError, match="cannot have a body") as info:
        _plan_for({"id": "http://a.test/", "config": {"method": method, "body": {"a": 1}}})
    assert info.value.path == "config.method"


def test_templated_get_with_body_is_rejected_per_call() -> None:
    plan = _plan_for({"id": "http://a.test/", "config": {"method": "{{verb}}", "body": {"a": 1}}})
    assert plan.build({"prompt": "p", "verb": "put"}).method == "PUT"
    with pytest.raises(ConfigError, match="GET request cannot have a body"):
        plan.build({"prompt": "p", "verb": "get"})


def test_method_normalisation_follows_fetch() -> None:
    assert build({"method": "post", "body": "x"}).method == "POST"
    assert build({"method": "patch", "body": "x"}).method == "patch"
    with pytest.raises(ConfigError, match="not a valid HTTP method"):
        build({"method": "PO ST", "body": "x"})


def test_post_without_body_sends_content_length_zero() -> None:
    req = build({"method": "POST"})
    assert req.body is None and req.header("content-length") == "0"
    assert build({"method": "GET"}).header("content-length") is None


def test_object_body_with_text_content_type_fails_at_load() -> None:
    with pytest.raises(ConfigError, match="Content-Type is not application/json"):
        _plan_for({"id": "http://a.test/", "config": {"method": "POST", "headers": {"Content-Type": "text/plain"},
                                                       "body": {"a": 1}}})


def test_templated_content_type_is_checked_per_call() -> None:
    plan = _plan_for({"id": "http://a.test/", "config": {
        "method": "POST", "headers": {"Content-Type": "{{ct}}"}, "body": {"a": "{{prompt}}"}}})
    assert plan.build({"prompt": "p", "ct": "application/json; charset=utf-8"}).body == b'{"a":"p"}'
    with pytest.raises(ConfigError, match="Content-Type is not application/json"):
        plan.build({"prompt": "p", "ct": "text/plain"})


def test_json_string_body_rules() -> None:
    json_headers = {"content-type": "application/json"}
    # a string body that parses as JSON is rendered per value and re-serialised
    assert body(build({"method": "POST", "headers": json_headers,
                       "body": '{"key": "{{ prompt }}", "n": 1}'})) == '{"key":"hello","n":1}'
    # top-level template: primitives parse, plain text is sent verbatim, JSON prompt re-serialised
    assert body(build({"method": "POST", "headers": json_headers, "body": "{{n}}"}, vars={"n": 42})) == "42"
    assert body(build({"method": "POST", "headers": json_headers, "body": "{{prompt}}"},
                      prompt="just text")) == "just text"
    assert body(build({"method": "POST", "headers": json_headers, "body": "{{prompt}}"},
                      prompt='{ "a" : [1, 2] }')) == '{"a":[1,2]}'
    # the escaped re-render (spec 6.3)
    req = build({"method": "POST", "headers": json_headers, "body": '{"message": "{{prompt}}", "n": {{n}}}'},
                prompt='line1\nline2 "quoted"', vars={"n": 3})
    assert body(req) == '{"message":"line1\\nline2 \\"quoted\\"","n":3}'
    # never valid: the first rendering is sent untrimmed
    assert body(build({"method": "POST", "headers": json_headers, "body": '{"a": "{{prompt}}",}\n'})) == \
        '{"a": "hello",}\n'
    # a body that renders to JSON null sends no body
    req = build({"method": "POST", "headers": json_headers, "body": "{{x}}"}, vars={"x": "null"})
    assert req.body is None and req.header("content-length") == "0"


def test_json_looking_strings_inside_object_bodies() -> None:
    req = build({"method": "POST", "body": {
        "data": '{"a": {{n}}}', "list": " [1, 2] ", "session": "1234", "flag": "true", "bad": "[x",
        "names": "{{ names | dump }}", "quoted": "{{ prompt | dump }}"}},
        prompt='say "hi"', vars={"n": 5, "names": [{"first": "Jane"}]})
    assert json.loads(body(req)) == {
        "data": {"a": 5}, "list": [1, 2], "session": "1234", "flag": "true", "bad": "[x",
        "names": [{"first": "Jane"}], "quoted": '"say \\"hi\\""'}


def test_integer_like_keys_come_first_as_in_javascript() -> None:
    assert body(build({"method": "POST", "body": {"b": 1, "2": 2, "1": 3}})) == '{"1":3,"2":2,"b":1}'


def test_body_from_files() -> None:
    files = {"body.json": b'{"model":"m1","input":"{{prompt}}"}', "rows.csv": b"a,b\n1,2\n", "one.csv": b"a\nx\ny\n",
             "notes.txt": b"plain {{prompt}}"}
    assert body(build({"method": "POST", "body": "file://body.json"}, prompt="from file", files=files)) == \
        '{"model":"m1","input":"from file"}'
    req = build({"method": "POST", "body": {"rows": "file://rows.csv", "one": "file://one.csv",
                                            "note": "file://notes.txt"}}, files=files)
    assert json.loads(body(req)) == {"rows": [{"a": "1", "b": "2"}], "one": ["x", "y"], "note": "plain hello"}
    with pytest.raises(ConfigError, match="was not loaded"):
        build({"method": "POST", "body": "file://missing.json"})


def test_transformed_prompt_rules() -> None:
    cfg = {"method": "POST", "headers": {"X-P": "{{prompt}}"}, "body": {"model": "m", "prompt": "{{prompt}}"}}
    # an object is merged over the RENDERED body
    req = build(cfg, prompt="hi", transformed={"messages": [{"role": "user", "content": "hi"}], "model": "m2"})
    assert body(req) == '{"model":"m2","prompt":"hi","messages":[{"role":"user","content":"hi"}]}'
    # a string replaces prompt for the body only; headers keep the original prompt
    req = build(cfg, prompt="hi", transformed="HI")
    assert body(req) == '{"model":"m","prompt":"HI"}'
    assert req.header("x-p") == "hi"
    # a non-JSON body renders an object prompt the JavaScript way
    req = build({"method": "POST", "body": "p={{prompt}}"}, transformed={"a": 1})
    assert body(req) == "p=[object Object]"


def test_headers_are_lowercased_rendered_and_last_case_variant_wins() -> None:
    req = build({"method": "GET", "headers": {"X-A": "first", "x-a": "second", "X-Up": "{{ prompt | upper }}",
                                              "X-Obj": "{{ obj }}", "X-Arr": "{{ arr }}", "X-Env": "{{ env.TOKEN }}",
                                              "Accept": "application/json", "User-Agent": "mine/1"}},
                vars={"obj": {"a": 1}, "arr": [1, 2]}, env={"TOKEN": "t0k"})
    headers = dict(req.headers)
    assert headers["x-a"] == "second" and headers["x-up"] == "HELLO"
    assert headers["x-obj"] == "[object Object]" and headers["x-arr"] == "1,2" and headers["x-env"] == "t0k"
    assert headers["accept"] == "application/json" and headers["user-agent"] == "mine/1"
    assert list(headers).count("accept") == 1


def test_header_value_with_line_break_is_a_template_error() -> None:
    plan = _plan_for({"id": "http://a.test/", "config": {"method": "GET", "headers": {"X-V": "{{v}}"}}})
    assert plan.build({"prompt": "", "v": "  ok \n"}).header("x-v") == "ok"
    with pytest.raises(TemplateError, match="'x-v'"):
        plan.build({"prompt": "", "v": "a\r\nInjected: 1"})
    with pytest.raises(ConfigError, match="not a valid HTTP header name"):
        _plan_for({"id": "http://a.test/", "config": {"method": "GET", "headers": {"Bad Name": "x"}}})


def test_header_bytes_policy() -> None:
    assert header_bytes("café") == "café".encode("latin-1")
    assert header_bytes("☕") == "☕".encode()


def test_trace_context_headers() -> None:
    req = build({"method": "GET"}, context={"traceparent": "00-abc-def-01", "tracestate": "k=v"})
    assert req.header("traceparent") == "00-abc-def-01" and req.header("tracestate") == "k=v"


def test_url_templating_and_query_params() -> None:
    req = build({"method": "GET", "queryParams": {"q": "{{prompt}}", "a": "3"}}, prompt="cats & dogs",
                provider_id="http://api.test/users/{{id}}?a=1&b=two%20words#frag", vars={"id": "12 3"})
    assert req.target == "/users/12%203?a=1&b=two+words&q=cats+%26+dogs&a=3"
    assert req.url == "http://api.test/users/12%203?a=1&b=two+words&q=cats+%26+dogs&a=3"
    assert build({"method": "GET"}, provider_id="http://api.test/x?y=a b").target == "/x?y=a%20b"
    assert build({"method": "GET", "url": "https://h.test:8443/c"}, provider_id="https").origin == \
        ("https", "h.test", 8443)


def test_invalid_urls() -> None:
    with pytest.raises(ConfigError, match="not a valid URL"):
        _plan_for({"id": "http", "config": {"url": "relative/path", "method": "GET"}})
    plan = _plan_for({"id": "http", "config": {"url": "{{u}}", "method": "GET"}})
    with pytest.raises(TemplateError, match="invalid URL"):
        plan.build({"prompt": "", "u": "relative/path"})
    with pytest.raises(ConfigError, match=r"needs `config\.url`"):
        _plan_for({"id": "https", "config": {"method": "GET"}})


def test_static_auth() -> None:
    req = build({"method": "GET", "headers": {"Authorization": "Bearer old"},
                 "auth": {"type": "bearer", "token": "tok-{{user}}"}}, vars={"user": "u1"})
    assert req.header("authorization") == "Bearer tok-u1"
    req = build({"method": "GET", "auth": {"type": "basic", "username": "{{user}}", "password": "pä:ss"}},
                vars={"user": "alice"})
    assert req.header("authorization") == "Basic " + base64.b64encode("alice:pä:ss".encode()).decode()
    req = build({"method": "GET", "auth": {"type": "api_key", "keyName": "X-API-Key", "value": "k",
                                           "placement": "header"}})
    assert req.header("x-api-key") == "k"
    req = build({"method": "GET", "queryParams": {"api_key": "old", "q": "1"},
                 "auth": {"type": "api_key", "keyName": "api_key", "value": "s3cr3t/+=", "placement": "query"}})
    assert req.target == "/v1?q=1&api_key=s3cr3t%2F%2B%3D"


def test_url_credentials_become_basic_auth_and_leave_the_url() -> None:
    req = build({"method": "GET"}, provider_id="http://bob:p%40ss@api.test:81/x")
    assert req.header("authorization") == "Basic " + base64.b64encode(b"bob:p@ss").decode()
    assert req.header("host") == "api.test:81" and req.url == "http://api.test:81/x"
    req = build({"method": "GET", "headers": {"Authorization": "Bearer mine"}}, provider_id="http://u:p@api.test/")
    assert req.header("authorization") == "Bearer mine"


def test_templating_disabled_sends_templates_verbatim() -> None:
    req = build({"method": "POST", "headers": {"X-P": "{{prompt}}"}, "body": {"q": "{{prompt}}"}},
                env={"PROMPTFOO_DISABLE_TEMPLATING": "true"})
    assert req.header("x-p") == "{{prompt}}" and body(req) == '{"q":"{{prompt}}"}'


def test_ipv6_host() -> None:
    req = build({"method": "GET"}, provider_id="http://[::1]:9000/a")
    assert (req.host, req.port, req.header("host")) == ("::1", 9000, "[::1]:9000")


def test_static_target_compiles_once_and_builds_fresh_requests() -> None:
    plan = _plan_for({"id": "http://a.test/", "config": {"method": "POST", "body": {"k": "v", "q": "{{prompt}}"}}})
    first = plan.build({"prompt": "a"})
    second = plan.build({"prompt": "b"})
    assert first.body == b'{"k":"v","q":"a"}' and second.body == b'{"k":"v","q":"b"}'


# -- the spec's executed cases T001-T049 (http-provider-cases.yaml) ---------------------------

SPEC_CASES = Path("/work/shared/spec/http-provider-cases.yaml")
SPEC_PLACEHOLDERS = [("$HTTPSBASE", "https://127.0.0.1:8443"), ("$THOSTPORT", "127.0.0.1:8443"),
                     ("$BASE", f"http://127.0.0.1:{PORT}"), ("$HOSTPORT", f"127.0.0.1:{PORT}")]
SPEC_FIXTURES = {
    "body.json": b'{"model":"m1","input":"{{prompt}}"}',
    "req.txt": b'POST /fromfile HTTP/1.1\nHost: {{host}}\nContent-Type: application/json\n\n{"p": "{{prompt}}"}\n',
}
# Where promptwire deliberately differs (docs/compat-http-request.md); None = an error before sending.
SPEC_OVERRIDES: dict[str, dict[str, Any] | None] = {
    "body_without_method_is_get_without_body": {
        "method": "POST", "body": '{"q":"hello"}', "headers": {"content-type": "application/json",
                                                               "content-length": "13"}},
    "string_body_default_form_urlencoded": {"headers": {"content-type": "text/plain", "content-length": "11"}},
    "get_with_object_body_json_header": None,
}


STATIC_AUTH_CASES = {"auth_bearer", "auth_basic", "auth_api_key_header", "auth_api_key_query",
                     "url_userinfo_basic_auth", "api_key_header_named_authorization"}


def spec_cases(groups: set[str], names: set[str] = frozenset()) -> list[Any]:  # type: ignore[assignment]
    if not SPEC_CASES.is_file():
        return []
    cases = yaml.safe_load(SPEC_CASES.read_text(encoding="utf-8"))
    return [pytest.param(c, id=c["name"]) for c in cases if c["group"] in groups or c["name"] in names]


def spec_sub(value: Any) -> Any:
    if isinstance(value, str):
        for k, v in SPEC_PLACEHOLDERS:
            value = value.replace(k, v)
        return value
    if isinstance(value, list):
        return [spec_sub(v) for v in value]
    if isinstance(value, dict):
        return {k: spec_sub(v) for k, v in value.items()}
    return value


def run_spec_case(case: dict[str, Any], overrides: dict[str, dict[str, Any] | None]) -> None:
    if "transformRequest" in (case.get("config") or {}):
        pytest.skip("transformRequest is evaluated by the transforms layer")
    provider = {"id": spec_sub(case["provider_id"]), "config": spec_sub(case.get("config") or {})}
    context = dict(case.get("context") or {})
    vars = {**spec_sub(case.get("vars") or {}), "prompt": case.get("prompt", "")}
    if context.get("evaluationId"):
        vars["evaluationId"] = context["evaluationId"]
    env = {k: str(v) for k, v in (case.get("env") or {}).items()}
    expect = case["expect"]
    want = expect.get("request")
    if case["name"] in overrides:
        patch = overrides[case["name"]]
        want = None if patch is None else {**want, **patch, "headers": {**want["headers"], **patch.get("headers", {})}}
    if want is None:
        with pytest.raises(PromptwireError):
            _plan_for(provider, env, SPEC_FIXTURES).build(vars, UNCHANGED, context)
        return
    req = _plan_for(provider, env, SPEC_FIXTURES).build(vars, UNCHANGED, context)
    assert req.method == want["method"]
    assert req.target == spec_sub(want["path"])
    got_headers = dict(req.headers)
    for name, value in spec_sub(want["headers"]).items():
        assert got_headers.get(name) == str(value), name
    assert (req.body or b"").decode("utf-8") == want["body"]


@pytest.mark.parametrize("case", spec_cases({"body", "headers", "url"}, STATIC_AUTH_CASES))
def test_spec_case_structured(case: dict[str, Any]) -> None:
    run_spec_case(case, SPEC_OVERRIDES)


RAW_OVERRIDES: dict[str, dict[str, Any] | None] = {
    # promptwire keeps literal text literal: a `{% raw %}` in a header does not stop later substitution.
    "raw_literal_raw_tag_breaks_substitution": {"body": '{"q": "find doctors"}', "headers": {"content-length": "21"}},
}


@pytest.mark.parametrize("case", spec_cases({"raw"}))
def test_spec_case_raw(case: dict[str, Any]) -> None:
    run_spec_case(case, RAW_OVERRIDES)


def test_an_array_from_transform_request_goes_where_the_object_body_says_prompt() -> None:
    """promptfoo's redteam-chatbot example: the other fields are kept (issue 9 item 15)."""
    history = [{"role": "system", "content": "be brief"}, {"role": "user", "content": 'say "hi"'}]
    cfg = {"method": "POST", "body": {"api_provider": "groq", "chat_history": "{{prompt}}"}}
    req = build(cfg, prompt="hi", transformed=history)
    assert json.loads(body(req)) == {"api_provider": "groq", "chat_history": history}
    nested = {"method": "POST", "body": {"m": "{{ prompt }}", "n": ["{{prompt}}"], "k": "{{ key }}"}}
    req = build(nested, prompt="hi", vars={"key": "v"}, transformed=[1, 2])
    assert json.loads(body(req)) == {"m": [1, 2], "n": [[1, 2]], "k": "v"}
    # A body that never says {{prompt}} is replaced by the array, as before.
    req = build({"method": "POST", "body": {"a": "x"}}, prompt="hi", transformed=[1, 2])
    assert json.loads(body(req)) == [1, 2]


# -- the spliced JSON body (issue 13): the same text as rendering the tree and JSON.stringify ------

_SPLICE_BODIES: list[Any] = [
    {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}], "temperature": 0},
    {"a": "{{prompt}}", "b": "x {{prompt}} y", "c": [1, 2.5, None, True, "{{ n }}"], "d": {"e": '{"f": 1}'}},
    ["{{prompt}}", {"k": "{{prompt}}"}, "[1, 2]"],
    {"q": "{{prompt}}", "n": 1.0, "big": 1e20, "small": 1e-7},  # floats JS prints differently: no splice
    {"2": "{{prompt}}", "b": 1},  # integer-like key: no splice
    {"u": "{{undefined_var}}", "p": "{{ prompt | dump }}", "x": "{{ names | dump }}"},
    {"same": "\x00promptwire-slot-0\x00", "t": "{{prompt}}"},  # the placeholder itself, as static text
]
_SPLICE_PROMPTS = ["hello", "", "  ", '{"a": [1, 2]}', " [1,2] ", "[x", "{not json", 'quo"te\\ \n\t',
                   "naïve ☕ \u2028", "\ud800 lone", "null", "42", "\ufeff{}", "\u00a0[3]"]


@pytest.mark.parametrize("body_value", _SPLICE_BODIES)
def test_spliced_json_body_is_the_tree_text(body_value: Any) -> None:
    from sansio_core.http.json_body import JsonBody, _json_tree
    from sansio_core.js.jsvalue import js_json

    engine = TemplateEngine.from_env({})
    json_body = JsonBody(body_value, engine)
    tree = _json_tree(body_value, engine)
    assert tree is not None
    for prompt in _SPLICE_PROMPTS:
        vars = {"prompt": prompt, "n": 7, "names": [{"first": prompt}]}
        text = json_body.text(vars)
        expected = js_json(tree(vars))
        if text is not None:
            assert text == expected, (body_value, prompt)
        assert js_json(json_body.render(vars)) == expected


def test_splice_is_used_for_plain_bodies_only() -> None:
    from sansio_core.http.json_body import JsonBody

    engine = TemplateEngine.from_env({})
    assert JsonBody(_SPLICE_BODIES[0], engine)._splice is not None
    assert JsonBody(_SPLICE_BODIES[3], engine)._splice is None
    assert JsonBody(_SPLICE_BODIES[4], engine)._splice is None
    assert JsonBody(_SPLICE_BODIES[6], engine)._splice is None
