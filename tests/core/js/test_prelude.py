"""The prelude: console, a frozen process.env and a require that explains itself, nothing more."""

from __future__ import annotations

import pytest

from sansio_core.js import JsEngine, JsError, JsLimits
from sansio_core.js.source_forms import candidates


def run(engine: JsEngine, src: str) -> object:
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src, ("json",))], "t")
    return engine.call(fn, {}).value


def test_console_shows_values_like_node_and_bounds_long_lines() -> None:
    engine = JsEngine(limits=JsLimits(debug_log_line_chars=20))
    run(engine, "(console.log('s', 1, {a: [1]}, undefined, new Error('e')), console.warn('x'.repeat(30)), 0)")
    assert engine.debug_log == ['[log] s 1 {"a":[1]} undefi...', "[warn] " + "x" * 20 + "..."]


def test_console_survives_values_json_cannot_show() -> None:
    engine = JsEngine()
    run(engine, "(() => { const o = {}; o.self = o; console.error(o, () => 1, 10n); return 0 })()")
    assert engine.debug_log == ["[error] [object Object] () => 1 10"]


def test_process_env_is_a_frozen_copy() -> None:
    engine = JsEngine(env={"A": "1"})
    assert run(engine, "(() => { 'use strict'; try { process.env.A = '2' } catch (e) { return 'frozen' } })()") == \
        "frozen"
    assert run(engine, "[process.env.A, process.platform, process.cwd(), process.argv.length]") == [
        "1", "promptwire", ".", 0]


def test_require_says_why_it_cannot_load() -> None:
    with pytest.raises(JsError, match=r'require\("fs"\) is not available: promptwire runs transforms without host'):
        run(JsEngine(), "require('fs')")


def test_the_bridge_cannot_be_replaced_by_user_code() -> None:
    engine = JsEngine()
    assert run(engine, "(() => { try { globalThis.console = null } catch (e) {} return typeof console.log })()") == \
        "function"
