"""``transformResponse: json.a.b[0].c`` in Python gives exactly QuickJS's answers and errors."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.errors import TransformError
from sansio_core.hooks import compile_hook, json_path_steps, parse_json_or_none
from sansio_core.http.response_plan import ResponsePlan
from sansio_core.js import JsEngine
from sansio_core.limits import MAX_JSON_DEPTH
from sansio_core.sources import Sources

CHAT = '{"choices":[{"message":{"content":"hi","n":null,"t":true,"x":3}}]}'

CASES = [
    ("json.choices[0].message.content", CHAT),
    ("json.choices[0].message.content;", CHAT),
    ("json.choices[0].message.n", CHAT),
    ("json.choices[0].message.t", CHAT),
    ("json.choices[0].message.x", CHAT),
    ("json.choices[0].message.missing", CHAT),
    ("json.choices[1].message.content", CHAT),
    ("json.choices[0].message.content.length", CHAT),
    ("json.choices.length", CHAT),
    ("json.choices[0].message", CHAT),
    ("json['choices'][0][\"message\"]['content']", CHAT),
    ("json.choices['0'].message.content", CHAT),
    ("json.a.b", "{}"),
    ("json.a.b.c", '{"a":{}}'),
    ("json.a['b c']", '{"a":null}'),
    ("json.a[0]", '{"a":{"0":"zero"}}'),
    ("json.a", '{"a":""}'),
    ("json.a", '{"a":"caf\\u00e9 \\ud83d\\ude00"}'),
    ("json.a", "[1]"),
    ("json.a", "not json"),
    ("json.a", ""),
    ("json.a", "0"),
    ("json.a", '""'),
    ("json.a", "false"),
    ("json.a", "null"),
    ("json.a", "{}"),
    ("json.a", "[]"),
    ("json.a", '"text"'),
    ("json.a", "NaN"),
    ("json.a", '{"a":1,"a":"last"}'),
    ("json.a.b", '{"a":"s"}'),
    ("json.a.b", '{"a":5}'),
    ("json.a.b", '{"a":true}'),
    ("json.constructor", "{}"),
    ("json.toString", '{"toString":"own"}'),
    ("json.__proto__", '{"__proto__":"own"}'),
    ("json.$x._y", '{"$x":{"_y":"ok"}}'),
    ("json.a", '{"a":"x\\u0000y"}'),
    ("json.a", '{"a":"\\u2028"}'),
    ("json.a", '{"a":"x"} trailing'),
    ("json.a", ' {"a":"x"} '),
    ("json.a", '\ufeff{"a":"x"}'),
    ("json.a.b", '{"a":[]}'),
    ("json.a[0]", '{"a":[]}'),
    ("json.a[0]", '{"a":"str"}'),
]


def _plan(expr: str, fast: bool) -> ResponsePlan:
    js = JsEngine()
    hook = compile_hook("transformResponse", expr, sources=Sources("."), js=js)
    assert hook is not None
    if not fast:
        hook.json_path = None
    return ResponsePlan(js=js, transform_response=hook)


def _run(expr: str, body: str, fast: bool) -> Any:
    plan = _plan(expr, fast)
    try:
        out = plan.build(status=200, status_text="OK", headers=[], body_text=body, latency_ms=1,
                         prompt="p", vars={})
    except TransformError as err:
        return ("error", err.message)
    return ("ok", dict(out))


@pytest.mark.parametrize(("expr", "body"), CASES)
def test_python_path_matches_quickjs(expr: str, body: str) -> None:
    assert _run(expr, body, fast=True) == _run(expr, body, fast=False)


def test_too_deep_json_fails_the_same_way() -> None:
    deep = '{"a":' * (MAX_JSON_DEPTH + 5) + "1" + "}" * (MAX_JSON_DEPTH + 5)
    errors = []
    for fast in (True, False):
        with pytest.raises(Exception) as info:
            _run("json.a", deep, fast)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


def test_the_chat_path_is_taken_in_python() -> None:
    hook = compile_hook("transformResponse", "json.choices[0].message.content",
                        sources=Sources("."), js=JsEngine())
    assert hook is not None and hook.json_path == (("choices", False), ("0", True), ("message", False),
                                                   ("content", False))
    assert hook.eval_json_path(parse_json_or_none(CHAT)) is not None
    with pytest.raises(TransformError, match="cannot read property '0' of undefined"):
        hook.eval_json_path({})


@pytest.mark.parametrize("src", ["json", "json.a()", "json.a || 'x'", "json[a]", "json.a[-1]", "json.a[01]",
                                 "text", "context.vars", "json.a\n.b", "jsonx.a"])
def test_other_code_stays_javascript(src: str) -> None:
    assert json_path_steps(src) is None
