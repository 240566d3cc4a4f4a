"""Raw request mode: normalisation, the request line, headers, body, scheme and errors."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError, RawRequestError, TemplateError
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.raw_request import parse_raw_request, parse_request_line
from sansio_core.http.request_plan import UNCHANGED, RequestPlan
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine


def raw(request: str, provider_id: str = "http", vars: dict[str, Any] | None = None, prompt: Any = "hello",
        transformed: Any = UNCHANGED, context: dict[str, Any] | None = None, **config: Any) -> PreparedRequest:
    entry = parse_provider_entry({"id": provider_id, "config": {"request": request, **config}})
    plan = RequestPlan.compile(entry, TemplateEngine({}), Sources(files={"req.txt": request.encode()}))
    return plan.build({**(vars or {}), "prompt": prompt}, transformed, context)


def test_line_endings_trim_and_crlf_body() -> None:
    req = raw("\n\nPOST /ml HTTP/1.1\r\nHost: h.test:81\nContent-Type: application/json\n\n{\n  \"a\": \"{{prompt}}\"\n}\n\n")
    assert (req.method, req.host, req.port, req.target) == ("POST", "h.test", 81, "/ml")
    assert req.body == b'{\r\n  "a": "hello"\r\n}'
    assert req.header("content-length") == str(len(req.body))
    assert req.header("host") == "h.test:81"


def test_string_vars_are_json_escaped_everywhere() -> None:
    req = raw('POST /t HTTP/1.1\nHost: h\nX-P: {{prompt}}\nContent-Type: text/plain\n\nSay: {{prompt}} {{n}}',
              prompt='He said "hi"\nbye', vars={"n": 7})
    assert req.body == b'Say: He said \\"hi\\"\\nbye 7'
    assert req.header("x-p") == 'He said \\"hi\\"\\nbye'


def test_only_double_brace_expressions_are_evaluated() -> None:
    req = raw('POST /f HTTP/1.1\nHost: h\nCookie: loc={%22n%22:1}; x={% raw %}1 {# c #}\n\n{"q": "{{prompt}}"}')
    assert req.header("cookie") == "loc={%22n%22:1}; x={% raw %}1 {# c #}"
    assert req.body == b'{"q": "hello"}'


def test_target_is_reencoded_and_absolute_form_loses_its_host() -> None:
    assert raw("GET /d?q={{prompt}}&x=1 HTTP/1.1\nHost: h", prompt="a b").target == "/d?q=a%20b&x=1"
    req = raw("GET http://other.invalid:9/abs/./p?x=1#f HTTP/1.1\nHost: real.test")
    assert (req.host, req.port, req.target, req.url) == ("real.test", 80, "/abs/p?x=1", "http://real.test/abs/p?x=1")


def test_scheme_from_id_or_use_https() -> None:
    assert raw("GET /s HTTP/1.1\nHost: h").origin == ("http", "h", 80)
    assert raw("GET /s HTTP/1.1\nHost: h", provider_id="https").origin == ("https", "h", 443)
    assert raw("GET /s HTTP/1.1\nHost: h", useHttps=True).origin == ("https", "h", 443)
    assert raw("GET /s HTTP/1.1\nHost: h", provider_id="https://x.test/", useHttps=False).scheme == "https"


def test_headers_lowercased_last_duplicate_wins_content_length_recomputed() -> None:
    req = raw("POST /a HTTP/1.1\nHost: h\nX-Dup: one\nx-dup: two\nContent-Length: 9999\nContent-Type: text/plain\n\nabc")
    headers = dict(req.headers)
    assert headers["x-dup"] == "two" and headers["content-length"] == "3"
    assert [k for k, _ in req.headers].count("content-length") == 1


def test_body_without_content_type_gets_text_plain() -> None:
    req = raw("POST /n HTTP/1.1\nHost: h\n\nplain {{prompt}}")
    assert req.header("content-type") == "text/plain;charset=UTF-8" and req.body == b"plain hello"


def test_auth_and_trace_headers() -> None:
    req = raw("GET /q?existing=v HTTP/1.1\nHost: h\nAuthorization: Bearer old",
              auth={"type": "api_key", "keyName": "api_key", "value": "k y", "placement": "query"},
              context={"traceparent": "00-a-b-01"})
    assert req.target == "/q?existing=v&api_key=k+y"
    assert req.header("traceparent") == "00-a-b-01" and req.header("authorization") == "Bearer old"
    req = raw("GET /q HTTP/1.1\nHost: h\nAuthorization: Bearer old", auth={"type": "bearer", "token": "new"})
    assert req.header("authorization") == "Bearer new"


def test_transformed_prompt_becomes_prompt() -> None:
    assert raw('POST /t HTTP/1.1\nHost: h\n\n{"p": "{{prompt}}"}', transformed='A"B').body == b'{"p": "A\\"B"}'
    assert raw("POST /t HTTP/1.1\nHost: h\n\n{{prompt}}", transformed={"a": 1}).body == b"[object Object]"


def test_request_from_file_is_templated_per_call() -> None:
    entry = parse_provider_entry({"id": "http", "config": {"request": "file://r.txt"}})
    plan = RequestPlan.compile(entry, TemplateEngine({}),
                               Sources(files={"r.txt": b"POST /f HTTP/1.1\nHost: {{host}}\n\n{\"p\": \"{{prompt}}\"}\n"}))
    req = plan.build({"prompt": "p", "host": "h.test:8080"})
    assert (req.host, req.port, req.body) == ("h.test", 8080, b'{"p": "p"}')
    with pytest.raises(ConfigError, match="was not loaded"):
        RequestPlan.compile(entry, TemplateEngine({}), Sources())


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        ("yo mama", "method 'yo' is not valid"),
        ("GET /v1/chat FTP/1.1\nHost: h", "protocol is not valid"),
        ("GET /x\nHost: h", "has no protocol"),
        ("GET\nHost: h", "no URL"),
        ("GET /nohost HTTP/1.1\nAccept: */*", "no Host header"),
        ("GET /g HTTP/1.1\nHost: h\nContent-Type: text/plain\n\nhello", "GET request cannot have a body"),
        ("GET /x HTTP/1.1\nHost: h\nthis is not a header", "line 3 is not a header"),
        ("   \n ", "empty"),
    ],
)
def test_static_errors_fail_at_load(request_text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        raw(request_text)
    assert info.value.path == "config.request"


def test_rendered_errors_fail_per_call_without_leaking_the_query() -> None:
    entry = parse_provider_entry({"id": "http", "config": {"request": "{{m}} /x?key=SECRET HTTP/1.1\nHost: h"}})
    plan = RequestPlan.compile(entry, TemplateEngine({}), Sources())
    assert plan.build({"prompt": "", "m": "GET"}).target == "/x?key=SECRET"
    with pytest.raises(TemplateError, match="method 'get' is not valid"):
        plan.build({"prompt": "", "m": "get"})
    entry = parse_provider_entry({"id": "http", "config": {"request": "{{line}}\nHost: h"}})
    plan = RequestPlan.compile(entry, TemplateEngine({}), Sources())
    with pytest.raises(TemplateError, match="protocol is not valid") as info:
        plan.build({"prompt": "", "line": "GET /y?token=SECRET FTP/1.1"})
    assert "SECRET" not in str(info.value)


def test_parse_raw_request_directly() -> None:
    parsed = parse_raw_request("PUT /a%20b/../c?x=1 HTTP/2\nHost: h\nX-A:  spaced \t\n\n  body  \n")
    assert (parsed.method, parsed.target, parsed.body) == ("PUT", "/c?x=1", "body")
    assert parsed.headers == {"host": "h", "x-a": "spaced"}
    assert parse_request_line("M-SEARCH * HTTP/1.1\r") == ("M-SEARCH", "*", "HTTP/1.1")
    with pytest.raises(RawRequestError):
        parse_raw_request("GET / HTTP/1.1\n: novalue")


def test_disabled_templating_sends_the_text_as_is() -> None:
    entry = parse_provider_entry({"id": "http", "config": {"request": "POST /a HTTP/1.1\nHost: h\n\n{{prompt}}"}})
    plan = RequestPlan.compile(entry, TemplateEngine({}, disabled=True), Sources())
    assert plan.build({"prompt": "x"}).body == b"{{prompt}}"


def test_stray_carriage_return_in_a_header_is_refused() -> None:
    # Found by fuzz/fuzz_raw_request.py: a lone CR used to reach the wire inside a header value.
    with pytest.raises(ConfigError, match="control character"):
        raw("GET / HTTP/1.1\nHost: h\rX: y")
