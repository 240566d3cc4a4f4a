"""The prelude's sandbox rules: results become plain data inside the limits (issue 9
item 2), and one call cannot change what the built-ins mean for the next (item 5)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import TransformError
from sansio_core.http.target import HttpTarget
from sansio_core.js import JsEngine, JsError, JsLimits
from sansio_core.js.source_forms import candidates
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

FAST = JsLimits(time_s=0.1, memory=32 * 1024 * 1024)


def compile_expr(engine: JsEngine, src: str) -> Any:
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src, ("json", "text", "context"))], "t")
    return fn


@pytest.fixture
def engine() -> JsEngine:
    return JsEngine(limits=FAST)


# -- item 2: results, thrown values and settled promises cross as plain data -------------

LOOP = "{ while (true) {} }"
ENDLESS_RESULTS = [
    f"({{get output() {LOOP}}})",
    f"({{get other() {LOOP}}})",
    f"({{toJSON() {LOOP}}})",
    f"[1, {{toJSON() {LOOP}}}]",
    f"(() => {{ throw {{toString() {LOOP}}} }})()",
    f"(() => {{ const e = new Error('x'); Object.defineProperty(e, 'message', {{get() {LOOP}}}); throw e }})()",
    f"(async () => ({{get output() {LOOP}}}))()",
    f"(async () => {{ throw {{toString() {LOOP}}} }})()",
    f"new Proxy({{}}, {{has() {LOOP}}})",
]


@pytest.mark.parametrize("src", ENDLESS_RESULTS)
def test_hostile_results_end_at_the_time_limit(engine: JsEngine, src: str) -> None:
    ok = compile_expr(engine, "json + 1")
    fn = compile_expr(engine, src)
    started = time.process_time()
    with pytest.raises(JsError, match="time limit") as info:
        engine.call(fn)
    assert info.value.kind == "timeout"
    assert time.process_time() - started < 1.0
    assert engine.call(ok, 41).value == 42


def test_a_module_that_throws_a_hostile_value_while_loading_fails_at_the_limit(engine: JsEngine) -> None:
    started = time.process_time()
    with pytest.raises(JsError, match="time limit"):
        engine.compile(f"(function () {{ throw {{toString() {LOOP}}} }})()", "t")
    assert time.process_time() - started < 1.0


def test_results_are_converted_the_javascript_way(engine: JsEngine) -> None:
    assert engine.call(compile_expr(engine, "({toJSON() { return {output: 'j'} }})")).value == {"output": "j"}
    assert engine.call(compile_expr(engine, "({get output() { return 'g' }})")).value == {"output": "g"}
    with pytest.raises(JsError, match=r"^boom$"):
        engine.call(compile_expr(engine, "(() => { throw {toString() { return 'boom' }} })()"))
    with pytest.raises(JsError, match="cannot be shown as text"):
        engine.call(compile_expr(engine, "(() => { throw Object.create(null) })()"))
    # Strings that look like the holder marker or hold NUL come back unchanged.
    assert engine.call(compile_expr(engine, "'\\ufdd0pw:{}'")).value == "\ufdd0pw:{}"
    assert engine.call(compile_expr(engine, "'a\\u0000b'")).value == "a\x00b"


T0 = Instant(1000.0, 1_700_000_000.0)


def reply(_: SeenRequest) -> ServerReply:
    return ServerReply(200, [("Content-Type", "application/json")], b'{"answer": "ok"}', reason=b"OK")


def test_a_target_with_a_hostile_transform_fails_clearly_and_keeps_working() -> None:
    """Default limits (2 s of CPU, so CPU time is measured): the hostile call ends with a TransformError."""
    config = {"transformResponse": f"context.vars.bad ? {{get output() {LOOP}}} : json.answer"}
    t = HttpTarget.compile(parse_provider_entry({"id": "http://api.test/x", "config": config}), Sources())
    started = time.process_time()
    end, _ = run_against(t.new_call("p", {"bad": True}, None, now=T0, seed=1), reply)
    assert time.process_time() - started < 4.0
    assert isinstance(end, A.Fail) and isinstance(end.error, TransformError)
    assert "time limit" in end.error.message
    end, _ = run_against(t.new_call("p", {}, None, now=T0, seed=1), reply)
    assert isinstance(end, A.Complete) and end.response.output == "ok"


# -- item 5: the built-ins are frozen after the prelude ----------------------------------

POISON = [
    "(Object.prototype.then = function (ok) { ok('HIJACKED-THEN') }, 1)",
    "(JSON.parse = () => 'HIJACKED', 1)",
    "(JSON = {parse: () => 'HIJACKED', stringify: () => 'HIJACKED'}, 1)",
    "(Array.prototype.map = () => 'HIJACKED', 1)",
    "(String.prototype.toUpperCase = () => 'HIJACKED', 1)",
    "(Object.defineProperty(Object.prototype, 'output', {get() { return 'HIJACKED' }, configurable: true}), 1)",
    "(Object.getPrototypeOf(async function () {}).constructor = null, Promise.prototype.then = null, 1)",
    "(Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({done: true}), 1)",
    "(Error.prototype.toString = () => 'HIJACKED', 1)",
]
CHECKS = [
    ("({a: 1})", {"a": 1}),
    ("JSON.parse('[1]').map((x) => x + 1)", [2]),
    ("'abc'.toUpperCase()", "ABC"),
    ("[...[1, 2]]", [1, 2]),
    ("(async () => (await Promise.resolve({output: 'async'})))()", {"output": "async"}),
    ("String(new TypeError('t'))", "TypeError: t"),
]


@pytest.mark.parametrize("poison", POISON)
def test_one_call_cannot_change_the_next_calls_results(engine: JsEngine, poison: str) -> None:
    checks = [(compile_expr(engine, src), want) for src, want in CHECKS]
    try:
        engine.call(compile_expr(engine, poison))
    except JsError:
        pass  # strict-mode code gets a TypeError; sloppy code a silent no-op
    for fn, want in checks:
        assert engine.call(fn).value == want


def test_strict_code_is_told_the_built_in_is_read_only(engine: JsEngine) -> None:
    with pytest.raises(JsError, match="TypeError"):
        engine.call(compile_expr(engine, "(() => { 'use strict'; JSON.parse = null })()"))


def test_usual_javascript_still_works_after_the_freeze(engine: JsEngine) -> None:
    """Overriding an inherited method or name on your own objects (the "override mistake"
    SES works around), new globals, and module state keep working."""
    src = """(() => {
      class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }
      function Point(x) { this.x = x }
      Point.prototype.toString = function () { return 'P' + this.x };
      const o = {}; o.toString = () => 'own'; o.constructor = 'c';
      globalThis.counter = (globalThis.counter || 0) + 1;
      return [String(new MyError('m')), String(new Point(1)), '' + o, o.constructor, globalThis.counter];
    })()"""
    fn = compile_expr(engine, src)
    assert engine.call(fn).value == ["MyError: m", "P1", "own", "c", 1]
    assert engine.call(fn).value[4] == 2
