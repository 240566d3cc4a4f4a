"""How a code string is read: a function, an expression, or a statement body (most specific first)."""

from __future__ import annotations

import pytest

from sansio_core.js import JsEngine
from sansio_core.js.source_forms import (
    Candidate,
    candidates,
    has_return,
    looks_like_function,
    strip_trailing_semicolons,
)


@pytest.mark.parametrize(("src", "is_fn"), [
    ("(a = `x${(1)}`) => a", True),
    ("(a = `${')'}`) => a", True),
    ("(a = '\\')') => a", True),
    ("(a = \")\") => a", True),
    ("(a // comment )\n) => a", True),
    ("(a /* ) */) => a", True),
    ("(a // unterminated", False),
    ("(a /* unterminated", False),
    ("(a]) => a", False),
    ("(a)) => a", False),
    ("('unterminated", False),
    ("(`unterminated ${", False),
    ("(a) + 1", False),
    ("(a)", False),
    ("a.b => 1", False),
])
def test_looks_like_function_skips_strings_comments_and_checks_brackets(src: str, is_fn: bool) -> None:
    assert looks_like_function(src) is is_fn


def test_strip_trailing_semicolons_and_has_return() -> None:
    assert strip_trailing_semicolons("  x ; ;  ") == "x"
    assert has_return("const a = 1; return a") and not has_return("returned + 1") and not has_return("json.a")


def test_candidates_most_specific_first() -> None:
    assert candidates("x => x;", ("json",)) == [
        Candidate("function", "(x => x\n)"),
        Candidate("expression", "(function (json) { return (x => x\n); })"),
    ]
    assert [c.form for c in candidates("return json.a", ("json", "text"))] == ["expression", "body"]
    assert [c.form for c in candidates("return json.a", ("json",), allow_body=False)] == ["expression"]


@pytest.mark.parametrize(("src", "value"), [
    ("(json) => json.a", 1),
    ("json.a + 1", 2),
    ("const b = json.a * 10;\nreturn b", 10),
    ("(json) => `${json.a})`", "1)"),
])
def test_each_reading_runs(src: str, value: object) -> None:
    engine = JsEngine()
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src, ("json",))], "t")
    assert engine.call(fn, {"a": 1}).value == value
