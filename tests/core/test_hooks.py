"""The one compile rule, option by option: forms accepted, names bound, errors worded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sansio_core.errors import ConfigError, TransformError
from sansio_core.hooks import SPECS, compile_hook, is_header_name
from sansio_core.js import UNDEFINED, JsEngine
from sansio_core.js.source_forms import looks_like_function, strip_trailing_semicolons
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine

SHARED_CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"


def hook(option: str, value: Any, sources: Sources | None = None) -> Any:
    return compile_hook(option, value, sources=sources or Sources(), js=JsEngine(), templates=TemplateEngine())


@pytest.mark.parametrize(("src", "is_fn"), [
    ("(json, text) => json.a", True), ("x => x", True), ("async (a) => a", True), ("async a => a", True),
    ("function (a) { return a }", True), ("function named(a) { return a }", True),
    ("async function (a) { return a }", True), ("(a = ')') => a", True), ("(/* ) */ a) => a", True),
    ("json.a", False), ("({ output: text.split('\\n').map((l) => l) })", False), ("(json.a)", False),
    ("{output: json.a}", False), ("[200, 201].some(s => s === status)", False),
])
def test_function_detection_follows_syntax(src: str, is_fn: bool) -> None:
    assert looks_like_function(src) is is_fn


def test_trailing_semicolons_are_dropped() -> None:
    assert strip_trailing_semicolons(" json.a ;; ") == "json.a"


RESPONSE_FORMS = [
    "json.choices[0].message.content",
    "json.choices[0].message.content;",
    "(json, text) => json.choices[0].message.content",
    "json => json.choices[0].message.content",
    "async (json) => json.choices[0].message.content",
    "function (json) { return json.choices[0].message.content }",
    "function pick(json) { return json.choices[0].message.content; };",
    "const c = json.choices[0]; return c.message.content",
    "(json, text, context) => {\n  // a comment\n  return json.choices[0].message.content;\n}",
]


@pytest.mark.parametrize("src", RESPONSE_FORMS)
def test_every_response_form_gives_the_content(src: str) -> None:
    h = hook("transformResponse", src)
    body = {"choices": [{"message": {"content": "hi"}}]}
    assert h.call(body, json.dumps(body), {}).value == "hi"


@pytest.mark.parametrize(("src", "value"), [
    ("{output: json.a, metadata: {m: 1}}", {"output": 1, "metadata": {"m": 1}}),
    ("({output: json.a})", {"output": 1}),
])
def test_object_literals_with_and_without_parentheses(src: str, value: Any) -> None:
    result = hook("transformResponse", src).call({"a": 1}, '{"a": 1}', {})
    assert result.value == value and result.provider_shaped


def test_bound_names_per_option() -> None:
    assert hook("transformRequest", "prompt + vars.x + context.k").call("p", {"x": 1}, {"k": 2}).value == "p12"
    assert hook("validateStatus", "status === 418").call(418).value is True
    assert hook("sessionParser", "data.headers.h + data.body.b").call({"headers": {"h": "1"}, "body": {"b": "2"}}).value == "12"
    assert hook("session.responseParser", "data.body.id").call({"headers": {}, "body": {"id": "s"}}).value == "s"
    assert hook("ws.transformResponse", "data.t + context.vars.v").call({"t": "a"}, {"vars": {"v": "b"}}).value == "ab"
    stream = hook("ws.streamResponse", "(acc, data) => [{output: (acc.output || '') + data.data}, data.data === 'z']")
    assert stream.call({}, {"data": "z"}, {}).value == [{"output": "z"}, True]


def test_stream_response_statement_body() -> None:
    src = "const d = JSON.parse(data.data);\nreturn [{ output: (accumulator.output || '') + d.c }, d.done];"
    assert hook("ws.streamResponse", src).call({}, {"data": '{"c": "x", "done": true}'}, {}).value == [{"output": "x"}, True]


def test_header_name_session_parser() -> None:
    h = hook("sessionParser", "Set-Cookie")
    assert h.form == "header"
    assert h.call({"headers": {"set-cookie": "sid=1"}, "body": None}).value == "sid=1"
    assert h.call({"headers": {}, "body": None}).value is UNDEFINED
    assert is_header_name("x-session-id") and not is_header_name("data") and not is_header_name("data.body.x")
    assert not is_header_name("42")


def test_transform_request_template_form() -> None:
    h = hook("transformRequest", '{"text": "{{prompt}}", "lang": "{{ lang }}"}')
    assert h.form == "template"
    assert h.call("hello", {"lang": "fr"}, {}).value == '{"text": "hello", "lang": "fr"}'


def test_python_callable_receives_the_same_names() -> None:
    seen: dict[str, Any] = {}

    def transform(json: Any, text: str) -> str:
        seen.update(json=json, text=text)
        return "ok"

    assert hook("transformResponse", transform).call({"a": 1}, "raw", {"ctx": 1}).value == "ok"
    assert seen == {"json": {"a": 1}, "text": "raw"}
    assert hook("transformResponse", lambda *a: None).call(None, "", {}).value is UNDEFINED


def test_file_references() -> None:
    sources = Sources(
        files={"t.js": b"module.exports = (json) => 'D:' + json.a; module.exports.named = (json) => 'N:' + json.a;",
               "e.mjs": b"export default (j) => 'ED'; export function n(j) { return 'EN' }"},
        python={"file://t.py": lambda json: f"P:{json['a']}", "file://t.py:other": lambda json: "PO"},
    )
    for ref, value in [("file://t.js", "D:1"), ("file://t.js:named", "N:1"), ("file://e.mjs", "ED"),
                       ("file://e.mjs:n", "EN"), ("file://t.py", "P:1"), ("file://t.py:other", "PO")]:
        assert hook("transformResponse", ref, sources).call({"a": 1}, "{}", {}).value == value, ref


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason="shared cases not present")
def test_conformance_fixture_modules() -> None:
    fixtures = SHARED_CASES / "fixtures"
    sources = Sources(files={
        "fixtures/transforms/response.js": (fixtures / "transforms" / "response.js").read_bytes(),
        "fixtures/ws/stream.js": (fixtures / "ws" / "stream.js").read_bytes(),
        "fixtures/ws/transform.js": (fixtures / "ws" / "transform.js").read_bytes(),
    })
    named = hook("transformResponse", "file://fixtures/transforms/response.js:extractOutput", sources)
    body = {"choices": [{"text": "alpha"}, {"text": "beta"}]}
    assert named.call(body, json.dumps(body), {}).value == "alpha | beta"
    ws = hook("ws.transformResponse", "file://fixtures/ws/transform.js", sources)
    assert ws.call({"answer": "shout", "model": "m"}, {}).value == {"output": "SHOUT", "metadata": {"model": "m"}}
    stream = hook("ws.streamResponse", "file://fixtures/ws/stream.js:accumulate", sources)
    acc: Any = {"error": "unknown error occurred"}
    for frame in ('{"token": "Hel"}', '{"token": "lo"}', '{"finished": "stop"}'):
        acc, done = stream.call(acc, {"data": frame}, {}).value
    assert done and acc == {"output": "Hello", "metadata": {"finishReason": "stop"}}


@pytest.mark.parametrize(("option", "value", "message"), [
    ("transformResponse", "json.(", r"^transformResponse: cannot compile 'json\.\(': SyntaxError"),
    ("validateStatus", "invalid syntax[", r"^validateStatus: Invalid status validator expression: SyntaxError"),
    ("transformResponse", "file://missing.js", "the file was not loaded"),
    ("transformResponse", "file://missing.py", "was not loaded"),
    ("transformRequest", 42, "expected a JavaScript string"),
    ("transformResponse", "file://x.ts", "TypeScript"),
    ("transformResponse", "file://imp.js", "uses `import`"),
    ("transformResponse", "file://imp.js:nope", "uses `import`"),
    ("sessionParser", "file://noexp.js", "Transform module malformed: noexp.js must export a function"),
])
def test_compile_errors_name_the_option(option: str, value: Any, message: str) -> None:
    sources = Sources(files={"x.ts": b"export default () => 1", "imp.js": b"import fs from 'fs'\nexport default () => 1",
                             "noexp.js": b"module.exports = {a: 1}"})
    with pytest.raises(ConfigError, match=message) as info:
        hook(option, value, sources)
    assert info.value.path == option


@pytest.mark.parametrize(("option", "value", "args", "prefix"), [
    ("transformRequest", "prompt.nope.x", ("p", {}, {}), "Failed to transform request: TypeError"),
    ("transformRequest", "(p) => p.nope.x", ("p", {}, {}), "Error in request transform function: TypeError"),
    ("transformResponse", "json.nope.x", (None, "", {}), "Failed to transform response: TypeError"),
    ("ws.transformResponse", "data.nope.x", (None, {}), "Failed to process response: TypeError"),
    ("ws.streamResponse", "(a, d) => d.nope.x", ({}, {}, {}), "Error in stream response function: TypeError"),
    ("transformRequest", lambda p: p.nope, ("p", {}, {}), "Error in request transform function: AttributeError"),
])
def test_runtime_errors_carry_promptfoo_prefixes(option: str, value: Any, args: tuple[Any, ...], prefix: str) -> None:
    with pytest.raises(TransformError) as info:
        hook(option, value).call(*args)
    assert str(info.value).startswith(prefix)


def test_python_hooks_get_plain_values_for_json_markers_and_undefined() -> None:
    from sansio_core.js import JSON_FROM_TEXT, Json

    seen: list[Any] = []

    def transform(json: Any, text: Any, context: Any) -> Any:
        seen.append((json, text, context))
        return {"output": json}

    h = hook("transformResponse", transform)
    result = h.call(JSON_FROM_TEXT, '{"a": [1]}', Json('{"vars": {}}'))
    assert (result.value, result.provider_shaped) == ({"output": {"a": [1]}}, True)
    assert seen[-1] == ({"a": [1]}, '{"a": [1]}', {"vars": {}})
    # Text that is not JSON (or JSON's forbidden NaN) gives json None, as JSON.parse failing does.
    h.call(JSON_FROM_TEXT, "NaN", UNDEFINED)
    assert seen[-1] == (None, "NaN", None)
    h.call(JSON_FROM_TEXT, "not json", {})
    assert seen[-1][0] is None


def test_a_python_hook_returning_an_exception_is_an_error_result() -> None:
    result = hook("transformResponse", lambda json, text: ValueError("nope")).call({}, "", {})
    assert result.is_error and result.value == "ValueError: nope"


def test_python_hook_failures_carry_the_option_prefix() -> None:
    def broken(json: Any) -> Any:
        raise KeyError("k")

    with pytest.raises(TransformError, match=r"^Failed to transform response: KeyError: 'k'$"):
        hook("transformResponse", broken).call({}, "", {})


def test_builtins_without_a_signature_get_every_argument() -> None:
    # max() has no introspectable signature: it is called with all three arguments.
    assert hook("transformResponse", max).call(3, 7, 5).value == 7
    assert hook("transformRequest", lambda *args: len(args)).call("p", {}, {}).value == 3


def test_template_hook_render_errors_are_transform_errors() -> None:
    h = hook("transformRequest", "{{ (1 / 0) }} {{ prompt }}")
    with pytest.raises(TransformError, match=r"^Failed to transform request: failed to render template .*"
                                             r"ZeroDivisionError"):
        h.call("p", {}, {})


def test_template_hook_compile_errors_and_missing_engine() -> None:
    with pytest.raises(ConfigError, match=r"^transformRequest: cannot compile template '\{\{ prompt': template syntax error"):
        hook("transformRequest", "{{ prompt ")
    with pytest.raises(ConfigError, match="a Nunjucks template needs the target's template engine"):
        compile_hook("transformRequest", "{{ prompt }}", sources=Sources(), js=JsEngine())


def test_hook_repr_names_option_form_and_source() -> None:
    assert repr(hook("transformResponse", "json.a")).startswith("<Hook transformResponse expression 'json.a'")


def test_file_hooks_that_cannot_be_read_or_compiled() -> None:
    sources = Sources(files={"bin.js": b"\xff\xfe", "bad.js": b"module.exports = (json) => {", "nofn.js": b"var x = 1;"})
    with pytest.raises(ConfigError, match=r"file://bin\.js: the file is not UTF-8 text"):
        hook("transformResponse", "file://bin.js", sources)
    with pytest.raises(ConfigError, match=r"^transformResponse: file://bad\.js: "):
        hook("transformResponse", "file://bad.js", sources)
    with pytest.raises(ConfigError, match=r"Transform module malformed: nofn\.js must export a function"):
        hook("transformResponse", "file://nofn.js", sources)


def test_ws_hooks_keep_the_option_spelling_in_errors() -> None:
    from sansio_core.hooks import compile_ws_hook

    assert compile_ws_hook("transformResponse", "", Sources(), JsEngine()) is None
    with pytest.raises(ConfigError) as info:
        compile_ws_hook("responseParser", "file://missing.js", Sources(), JsEngine())
    assert info.value.path == "responseParser"
    assert info.value.message.startswith("responseParser: file://missing.js: the file was not loaded")
    with pytest.raises(ConfigError) as info:
        compile_ws_hook("streamResponse", 42, Sources(), JsEngine())
    assert info.value.path == "streamResponse"
# -- issue 9 item 17 -------------------------------------------------------------------------

ESM_NAMED = b"""const helper = (x) => x;
export function check(first) { return helper(first) }
export async function later(...args) { return 'later' }
"""


@pytest.mark.parametrize("option", sorted(SPECS))
def test_invalid_javascript_fails_at_build_naming_the_option(option: str) -> None:
    with pytest.raises(ConfigError) as info:
        hook(option, 'data.headers.["x-session-Id"]')
    assert info.value.path == SPECS[option].name
    assert "SyntaxError" in info.value.message


@pytest.mark.parametrize("option", sorted(SPECS))
@pytest.mark.parametrize("name", ["check", "later"])
def test_es_module_named_exports_work_for_every_file_option(option: str, name: str) -> None:
    compiled = hook(option, f"file://m.js:{name}", Sources(files={"m.js": ESM_NAMED}))
    assert compiled.form == "file-js"
    args = [200, "b", None][: len(SPECS[option].params)]
    assert compiled.call(*args).value == ("later" if name == "later" else 200)
