"""JavaScript value semantics: String(), truthiness, JSON.stringify/parse, trim, hook results."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from jinja2 import Environment, Undefined

from sansio_core.hooks import HookResult
from sansio_core.js.jsvalue import (
    UNDEFINED,
    is_undefined,
    js_iso,
    js_json,
    js_json_parse,
    js_key,
    js_number,
    js_string,
    js_trim,
    js_truthy,
    normalize_result,
)

JINJA_UNDEFINED = Environment().undefined(name="missing")


def test_undefined_is_a_falsy_singleton_that_prints_as_undefined() -> None:
    assert type(UNDEFINED)() is UNDEFINED
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"
    assert is_undefined(UNDEFINED) and is_undefined(Undefined()) and is_undefined(JINJA_UNDEFINED)
    assert not is_undefined(None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (0.0, "0"),
        (-0.0, "0"),
        (3.0, "3"),
        (-2.0, "-2"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-4, "0.0001"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (-1.5e-7, "-1.5e-7"),
        (1e16, "10000000000000000"),
        (1.5e16, "15000000000000000"),
        (123456789012345680.0, "123456789012345680"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-1e21, "-1e+21"),
        (1.2345e25, "1.2345e+25"),
        (5e-324, "5e-324"),
    ],
)
def test_js_number_matches_number_to_string(value: float, text: str) -> None:
    assert js_number(value) == text


@pytest.mark.parametrize("value", [2.0**53, 2.0**53 + 2, 9.5e15])
def test_js_number_integral_floats_between_2_53_and_1e16(value: float) -> None:
    assert js_number(value) == str(int(value))


def test_js_json_prints_large_integral_floats_without_a_fraction() -> None:
    assert js_json({"n": 2.0**53}) == '{"n":9007199254740992}'


class Thing:
    def __str__(self) -> str:
        return "a thing"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("as is", "as is"),
        (None, "null"),
        (UNDEFINED, "undefined"),
        (JINJA_UNDEFINED, "undefined"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (2.5, "2.5"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        ([1, None, "a", UNDEFINED, 2.0], "1,,a,,2"),
        ([[1, 2], [3, [None, 4]]], "1,2,3,,4"),
        ((True, "x"), "true,x"),
        ([], ""),
        ({"a": 1}, "[object Object]"),
        ([{"a": 1}], "[object Object]"),
        (dt.date(2024, 2, 29), "2024-02-29T00:00:00.000Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 678_901), "2024-01-02T03:04:05.678Z"),
        (Thing(), "a thing"),
    ],
)
def test_js_string_is_javascript_string(value: Any, text: str) -> None:
    assert js_string(value) == text


def test_js_iso_converts_aware_datetimes_to_utc() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert js_iso(dt.datetime(2024, 1, 1, 1, 30, tzinfo=plus2)) == "2023-12-31T23:30:00.000Z"
    assert js_string(dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)) == "2024-06-01T12:00:00.000Z"


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (float("nan"), False),
        ([], True),
        ({}, True),
        ((), True),
        ("", False),
        ("0", True),
        (" ", True),
        (0, False),
        (0.0, False),
        (-1, True),
        (None, False),
        (UNDEFINED, False),
        (JINJA_UNDEFINED, False),
        (False, False),
        (float("inf"), True),
    ],
)
def test_js_truthy(value: Any, truthy: bool) -> None:
    assert js_truthy(value) is truthy


def test_js_key_prints_non_string_keys_like_javascript_property_names() -> None:
    assert [js_key(k) for k in ("k", None, 1, 1.5, True)] == ["k", "null", "1", "1.5", "true"]


def test_js_json_puts_integer_like_keys_first_in_ascending_order() -> None:
    data = {"b": 1, "10": "ten", "2": "two", "01": "not an index", "a": [1], "0": 0}
    assert js_json(data) == '{"0":0,"2":"two","10":"ten","b":1,"01":"not an index","a":[1]}'
    # Python int keys are property names too, and sort with the string ones.
    assert js_json({"z": 1, 3: "c", 1: "a"}) == '{"1":"a","3":"c","z":1}'
    # Too large for an array index: stays in insertion order.
    assert js_json({"x": 1, "4294967295": 2}) == '{"x":1,"4294967295":2}'
    # A leading digit alone does not make an index.
    assert js_json({"x": 1, "1a": 2}) == '{"x":1,"1a":2}'


def test_js_json_plain_values_match_json_stringify() -> None:
    assert js_json({"s": "é\u2028", "n": None, "t": True, "i": 3, "f": 0.5, "l": ["x"]}) == (
        '{"s":"é\u2028","n":null,"t":true,"i":3,"f":0.5,"l":["x"]}'
    )
    assert js_json("a\"b") == '"a\\"b"'
    assert js_json(None) == "null"


def test_js_json_numbers_print_as_javascript_does() -> None:
    assert js_json([1.0, -0.0, 1e21, 1e-7, math.nan, math.inf, -math.inf, False]) == (
        "[1,0,1e+21,1e-7,null,null,null,false]"
    )
    assert js_json({"big": 1e300, "tiny": 1e-300}) == '{"big":1e+300,"tiny":1e-300}'


def test_js_json_drops_undefined_and_functions_from_objects_and_nulls_them_in_arrays() -> None:
    def fn() -> None:
        return None

    assert js_json({"a": UNDEFINED, "f": fn, "b": 1, "cls": int}) == '{"b":1,"cls":"<class \'int\'>"}'
    assert js_json([UNDEFINED, fn, 1]) == "[null,null,1]"
    assert js_json({"only": UNDEFINED}) == "{}"
    assert js_json(UNDEFINED) == ""
    assert js_json(fn) == ""


def test_js_json_other_types() -> None:
    value = {"d": dt.date(2020, 5, 6), "b": b"caf\xc3\xa9\xff", "t": (1, "x"), "o": Thing(), "e": []}
    assert js_json(value) == '{"d":"2020-05-06T00:00:00.000Z","b":"café\ufffd","t":[1,"x"],"o":"a thing","e":[]}'


def test_js_json_indent_like_json_stringify_space_argument() -> None:
    value = {"a": [1, {"b": None}], "c": {}, "d": []}
    two = '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "c": {},\n  "d": []\n}'
    assert js_json(value, 2) == two
    assert js_json(value, "  ") == two
    assert js_json([1], "\t") == "[\n\t1\n]"
    # Clamped to ten characters, as JSON.stringify does.
    assert js_json([1], 20) == "[\n" + " " * 10 + "1\n]"
    assert js_json([1], "abcdefghijkl") == "[\nabcdefghij1\n]"
    # 0, negative numbers and "" mean no indentation.
    for compact in (0, -3, ""):
        assert js_json({"a": [1, 2]}, compact) == '{"a":[1,2]}'


def test_js_trim_strips_javascript_whitespace_only() -> None:
    assert js_trim("\ufeff\u00a0 \t hi there \u3000\u2028\n") == "hi there"
    # U+0085 (NEL) and U+200B are not JavaScript whitespace (str.strip would remove NEL).
    assert js_trim("\u0085x\u200b") == "\u0085x\u200b"


def test_js_json_parse_is_strict_json() -> None:
    assert js_json_parse('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    for bad in ("NaN", "[Infinity]", "-Infinity"):
        with pytest.raises(ValueError, match="is not JSON"):
            js_json_parse(bad)
    with pytest.raises(ValueError):
        js_json_parse("{'a': 1}")


@pytest.mark.parametrize(
    ("result", "normalized"),
    [
        (HookResult("boom", is_error=True), {"error": "boom"}),
        (HookResult({"output": "x", "extra": 1, "gone": UNDEFINED}, provider_shaped=True),
         {"output": "x", "extra": 1}),
        (HookResult({"error": UNDEFINED}, provider_shaped=True), {}),
        (HookResult({"output": "x"}), {"output": {"output": "x"}}),
        (HookResult(UNDEFINED), {}),
        (HookResult(None), {"output": None}),
        (HookResult(0), {"output": 0}),
        (HookResult(""), {"output": ""}),
        (HookResult(False), {"output": False}),
        (HookResult(["a"], provider_shaped=True), {"output": ["a"]}),
    ],
)
def test_normalize_result(result: HookResult, normalized: dict[str, Any]) -> None:
    assert normalize_result(result) == normalized
