"""The QuickJS engine: values crossing, limits, isolation, contexts per owner."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sansio_core.js import JSON_FROM_TEXT, UNDEFINED, JsEngine, JsError, JsLimits, Json
from sansio_core.js.modules import module_function_source
from sansio_core.js.source_forms import candidates

FAST = JsLimits(time_s=0.1, memory=32 * 1024 * 1024)


def compile_expr(engine: JsEngine, src: str, params: tuple[str, ...] = ("json", "text", "context")) -> Any:
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src, params)], "test")
    return fn


@pytest.fixture
def engine() -> JsEngine:
    return JsEngine(env={"API_KEY": "k-1"}, limits=FAST)


@pytest.mark.parametrize(("src", "value"), [
    ("json.a", 1), ("json.s", "x"), ("json.o", {"b": [1, 2]}), ("json.n", None), ("json.f", 1.5),
    ("json.missing", UNDEFINED), ("2 ** 53", 2**53), ("json.t", True), ("10n", 10),
])
def test_values_cross_as_json(engine: JsEngine, src: str, value: Any) -> None:
    fn = compile_expr(engine, src)
    body = '{"a": 1, "s": "x", "o": {"b": [1, 2]}, "n": null, "f": 1.5, "t": true}'
    assert engine.call(fn, JSON_FROM_TEXT, body).value == value


def test_json_binding_is_null_for_falsy_or_invalid_json(engine: JsEngine) -> None:
    fn = compile_expr(engine, "json === null ? 'null:' + text : 'json'")
    for text in ("0", "false", '""', "null", "not json"):
        assert engine.call(fn, JSON_FROM_TEXT, text).value == "null:" + text


def test_provider_shape_survives_undefined_output(engine: JsEngine) -> None:
    result = engine.call(compile_expr(engine, "({output: undefined, metadata: {m: 1}})"))
    assert result.provider_shaped and result.value == {"metadata": {"m": 1}}


def test_objects_passed_as_json_text(engine: JsEngine) -> None:
    fn = compile_expr(engine, "context.vars.x + context.list.length")
    assert engine.call(fn, None, "", Json('{"vars": {"x": 2}, "list": [1, 2, 3]}')).value == 5
    assert engine.call(fn, None, "", {"vars": {"x": 1}, "list": []}).value == 1


def test_async_functions_are_awaited(engine: JsEngine) -> None:
    fn = compile_expr(engine, "async (json) => { const v = await Promise.resolve(json.a); return v * 2 }")
    assert engine.call(fn, JSON_FROM_TEXT, '{"a": 4}').value == 8
    bad = compile_expr(engine, "async () => { throw new Error('later') }")
    with pytest.raises(JsError, match="Error: later"):
        engine.call(bad)


def test_process_env_is_the_given_mapping_only(engine: JsEngine) -> None:
    assert engine.call(compile_expr(engine, "process.env.API_KEY")).value == "k-1"
    assert engine.call(compile_expr(engine, "process.env.HOME")).value is UNDEFINED
    with pytest.raises(JsError):
        engine.call(compile_expr(engine, "(() => { 'use strict'; process.env.X = 1 })()"))


def test_console_goes_to_the_debug_log(engine: JsEngine, capsys: pytest.CaptureFixture[str]) -> None:
    engine.call(compile_expr(engine, "console.log('seen', {a: 1}) || console.warn('w')"))
    assert engine.debug_log == ['[log] seen {"a":1}', "[warn] w"]
    assert capsys.readouterr() == ("", "")


def test_debug_log_is_bounded() -> None:
    engine = JsEngine(limits=JsLimits(debug_log_lines=3, debug_log_line_chars=10))
    engine.call(compile_expr(engine, "(() => { for (let i = 0; i < 10; i++) console.log('line' + i + 'xxxxxxxxxx') })()"))
    log = engine.debug_log
    assert len(log) == 3 and log[-1].startswith("[log] line9") and log[-1].endswith("...")


# -- hostile code ----------------------------------------------------------------------

HOSTILE = [
    ("(() => { while (true) {} })()", "time limit"),
    ("(() => { try { while (true) {} } catch (e) { return 'caught' } })()", "time limit"),
    ("'x'.repeat(1e9)", "memory limit"),
    ("(() => { globalThis.hog = []; while (true) globalThis.hog.push('y'.repeat(100000) + globalThis.hog.length) })()", "memory limit"),
    ("(function r(n) { return r(n + 1) + 1 })(0)", "stack limit"),
    ("require('fs').readFileSync('/etc/passwd')", "is not available: promptwire runs transforms without host modules"),
    ("(async () => { while (true) await 0 })()", "job limit"),
]


@pytest.mark.parametrize(("src", "message"), HOSTILE)
def test_hostile_code_fails_clearly_and_engine_stays_usable(engine: JsEngine, src: str, message: str) -> None:
    ok = compile_expr(engine, "json + 1")
    fn = compile_expr(engine, src)
    started = time.perf_counter()
    with pytest.raises(JsError, match=message):
        engine.call(fn)
    assert time.perf_counter() - started < 2.0
    assert engine.call(ok, 41).value == 42
    with pytest.raises(JsError, match=message):
        engine.call(fn)


def test_globals_expose_no_host_objects(engine: JsEngine) -> None:
    names = engine.call(compile_expr(engine, "Object.getOwnPropertyNames(globalThis)")).value
    assert not {"std", "os", "scriptArgs", "__pw_log", "__pw_env_json"} & set(names)
    probe = "[typeof std, typeof os, typeof fetch, typeof XMLHttpRequest, typeof setTimeout]"
    assert engine.call(compile_expr(engine, probe)).value == ["undefined"] * 5
    with pytest.raises(JsError):
        engine.call(compile_expr(engine, "(() => { 'use strict'; globalThis.__pw_define = null })()"))


def test_compile_errors_are_syntax_errors(engine: JsEngine) -> None:
    with pytest.raises(JsError) as info:
        compile_expr(engine, "json.(")
    assert info.value.kind == "syntax"


def test_compiled_once_not_per_call(engine: JsEngine) -> None:
    src = "globalThis.loads = (globalThis.loads || 0) + 1;\nmodule.exports = () => globalThis.loads;"
    fn = engine.compile(module_function_source(src, None, "m.js", "t"), "t")
    assert [engine.call(fn).value for _ in range(3)] == [1, 1, 1]


def test_each_owner_gets_its_own_context() -> None:
    owner = ["a"]
    engine = JsEngine(owner=lambda: owner[0])
    fn = compile_expr(engine, "(globalThis.n = (globalThis.n || 0) + 1)")
    assert [engine.call(fn).value for _ in range(2)] == [1, 2]
    owner[0] = "b"
    assert engine.call(fn).value == 1
    owner[0] = "a"
    assert engine.call(fn).value == 3


# -- modules ---------------------------------------------------------------------------

CJS = "module.exports = (j) => 'default'; module.exports.named = (j) => 'named'; exports.other = () => 'x';"
CJS_EXPORTS = "exports.only = () => 'only';"
ESM = """export default function main(j) { return 'default' }
export const named = (j) => 'named';
export async function later() { return 'later' }
const hidden = () => 'aliased';
export { hidden as alias };
"""


@pytest.mark.parametrize(("text", "name", "value"), [
    (CJS, None, "default"), (CJS, "named", "named"), (CJS_EXPORTS, "only", "only"),
    (ESM, None, "default"), (ESM, "named", "named"), (ESM, "later", "later"), (ESM, "alias", "aliased"),
])
def test_module_exports_are_reachable(engine: JsEngine, text: str, name: str | None, value: str) -> None:
    fn = engine.compile(module_function_source(text, name, "m.js", "t"), "t")
    assert engine.call(fn).value == value


def test_module_without_the_export_is_malformed(engine: JsEngine) -> None:
    with pytest.raises(JsError, match="must export a function"):
        engine.compile(module_function_source(CJS_EXPORTS, None, "m.js", "t"), "t")


def test_debug_log_can_be_cleared(engine: JsEngine) -> None:
    fn = compile_expr(engine, "(console.log('one'), 1)")
    engine.call(fn)
    assert engine.debug_log == ["[log] one"]
    engine.clear_debug_log()
    assert engine.debug_log == []
    assert JsEngine().debug_log == []  # no context yet: nothing to collect


def test_contexts_beyond_the_limit_evict_another_owner() -> None:
    owner = ["a"]
    engine = JsEngine(owner=lambda: owner[0], limits=JsLimits(max_contexts=1))
    fn = compile_expr(engine, "(globalThis.n = (globalThis.n || 0) + 1)")
    assert [engine.call(fn).value for _ in range(2)] == [1, 2]
    owner[0] = "b"
    assert engine.call(fn).value == 1
    owner[0] = "a"
    assert engine.call(fn).value == 1  # a's context was evicted for b's and rebuilt


def test_compiling_rebuilds_other_owners_contexts_with_every_function() -> None:
    owner = ["a"]
    engine = JsEngine(owner=lambda: owner[0])
    first = compile_expr(engine, "(globalThis.n = (globalThis.n || 0) + 1)")
    owner[0] = "b"
    assert [engine.call(first).value for _ in range(2)] == [1, 2]
    owner[0] = "a"
    second = compile_expr(engine, "'second'")
    owner[0] = "b"
    assert engine.call(second).value == "second"
    assert engine.call(first).value == 1  # b's context is new


def test_a_fatal_error_while_compiling_is_not_hidden_behind_other_readings(engine: JsEngine) -> None:
    readings = [("function", "(() => { while (true) {} })()"), ("expression", "(json) => 1")]
    with pytest.raises(JsError) as info:
        engine.compile_first(readings, "t")
    assert info.value.kind == "timeout"


def test_a_promise_that_never_settles_is_an_error(engine: JsEngine) -> None:
    fn = compile_expr(engine, "new Promise(() => {})")
    with pytest.raises(JsError, match="the transform returned a promise that never settled"):
        engine.call(fn, {}, "", {})


def test_json_context_may_be_passed_lazily(engine: JsEngine) -> None:
    from sansio_core.js.engine import FLAG_LAZY_CONTEXT

    fn = compile_expr(engine, "context.vars.x + json.a")
    assert engine.call(fn, Json('{"a": "b"}'), "", Json('{"vars": {"x": "a"}}'), flags=FLAG_LAZY_CONTEXT).value == "ab"
def test_a_result_nested_too_deeply_is_an_error_not_a_recursion_error(engine: JsEngine) -> None:
    fn = compile_expr(engine, "(() => { let a = []; for (let i = 0; i < 5000; i++) a = [a]; return a })()")
    with pytest.raises(JsError, match=r"nested deeper than 256 levels|stack limit"):
        engine.call(fn)
    ok = compile_expr(engine, "(() => { let a = []; for (let i = 0; i < 200; i++) a = [a]; return a })()")
    assert isinstance(engine.call(ok).value, list)


# -- strings QuickJS cannot take as C strings: NUL and lone surrogates ----------------
# (a lone surrogate used to crash the process; a server's JSON can carry "\ud83d")


@pytest.mark.parametrize("arg", ["a\ud83d", "\udc00z", "nul\x00inside", "pair \U0001f600 ok", "é\ud800"])
def test_any_python_string_crosses_intact(engine: JsEngine, arg: str) -> None:
    fn = compile_expr(engine, "json + '|' + text.length", ("json", "text"))
    assert engine.call(fn, arg, "abc").value == f"{arg}|3"
    as_object = compile_expr(engine, "json.s", ("json",))
    assert engine.call(as_object, {"s": arg}).value == arg
    assert engine.call(as_object, Json('{"s": "' + arg.replace("\x00", "\\u0000") + '"}')).value == arg


def test_a_body_with_a_lone_surrogate_and_nul_is_parsed_in_js(engine: JsEngine) -> None:
    fn = compile_expr(engine, "json.reply + '/' + text.length")
    body = '{"reply": "x\ud83d\x00"}'.replace("\x00", "\\u0000")
    assert engine.call(fn, JSON_FROM_TEXT, body).value == f"x\ud83d\x00/{len(body)}"


@pytest.mark.parametrize("src, expected", [
    ("'x\\ud83d'", "x\ud83d"),
    ("({output: 'a\\udc00b'})", {"output": "a\udc00b"}),
    ("'pair \\ud83d\\ude00'", "pair \U0001f600"),
])
def test_results_with_lone_surrogates_come_back(engine: JsEngine, src: str, expected: Any) -> None:
    assert engine.call(compile_expr(engine, src), None, "").value == expected


def test_an_error_message_with_a_lone_surrogate_is_printable(engine: JsEngine) -> None:
    fn = compile_expr(engine, "(() => { throw new Error('bad \\udc00 thing'); })()")
    with pytest.raises(JsError, match="bad \ufffd thing"):
        engine.call(fn, None, "")


def test_source_with_a_lone_surrogate_is_a_syntax_error(engine: JsEngine) -> None:
    with pytest.raises(JsError, match="lone surrogate") as info:
        engine.compile("(json) => '\ud83d'", "t")
    assert info.value.kind == "syntax"
