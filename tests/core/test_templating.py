"""Nunjucks-compatible templating: what a rendered template prints, and what it refuses."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from sansio_core.errors import TemplateError
from sansio_core.js.jsvalue import js_json, js_number, js_trim
from sansio_core.templating import TemplateEngine, print_value

ENGINE = TemplateEngine({"HOME_VAR": "from-env"}, config_env={"CFG": "from-config"})


def render(source: str, **vars: Any) -> str:
    return ENGINE.render(source, vars)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"a": 1}, "[object Object]"), ([1, 2], "1,2"), ([1, [2, 3], None], "1,2,3,"), (None, ""),
        (True, "true"), (False, "false"), (3.0, "3"), (0.1, "0.1"), (-0.0, "0"), (1e21, "1e+21"),
        (1e-7, "1e-7"), (123456789012345680000.0, "123456789012345680000"), (float("nan"), "NaN"),
        (math.inf, "Infinity"), ("s", "s"), (12, "12"),
    ],
)
def test_values_print_like_javascript_string(value: Any, text: str) -> None:
    assert print_value(value) == text
    assert render("{{ v }}", v=value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (1.5, "1.5"), (1e-6, "0.000001"), (1.5e-7, "1.5e-7"), (2.5e22, "2.5e+22"), (100.0, "100"),
     (1.2345678901234567e19, "12345678901234567000"), (-3e-5, "-0.00003"), (5e-324, "5e-324")],
)
def test_js_number(value: float, text: str) -> None:
    assert js_number(value) == text


def test_undefined_renders_empty_and_never_raises() -> None:
    assert render("[{{ missing }}|{{ missing.deep.er }}|{{ missing['k'] }}]") == "[||]"
    assert render("{% for x in missing %}x{% endfor %}{% if missing %}y{% else %}n{% endif %}") == "n"
    assert render("{{ missing | length }}{{ missing | default('d') }}{{ missing | dump }}") == "0d"


def test_mapping_keys_win_over_python_attributes() -> None:
    assert render("{{ d.items | dump }} {{ d.keys }} {{ d.get }}", d={"items": [1], "keys": "k"}) == "[1] k "
    assert render("{{ arr.length }} {{ s.length }}", arr=[1, 2, 3], s="ab") == "3 2"


def test_dump_is_json_stringify() -> None:
    value = {"b": [1.0, None, True], "s": 'q"\n', "u": "é"}
    assert render("{{ v | dump }}", v=value) == '{"b":[1,null,true],"s":"q\\"\\n","u":"é"}'
    assert render("{{ v | dump(2) }}", v={"a": [1], "e": []}) == '{\n  "a": [\n    1\n  ],\n  "e": []\n}'
    assert render("{{ s | dump }}", s="x") == '"x"'


def test_js_json_details() -> None:
    assert js_json({"z": 1, "10": 2, "2": 3, "01": 4}) == '{"2":3,"10":2,"z":1,"01":4}'
    assert js_json([float("nan"), math.inf]) == "[null,null]"
    assert js_json(dt.date(2024, 1, 2)) == '"2024-01-02T00:00:00.000Z"'
    assert js_json("\u2028") == '"\u2028"'


def test_nunjucks_filters() -> None:
    assert render("{{ s | upper }} {{ s | lower }} {{ s | capitalize }} {{ s | title }}", s="hEllo wOrld") == \
        "HELLO WORLD hello world Hello world Hello World"
    assert render("{{ s | trim }}|{{ s | replace('a', 'b') }}", s="  a a  ") == "a a|  b b  "
    assert render("{{ v | urlencode }} {{ d | urlencode }}", v="a b/c&é", d={"k y": "v/w"}) == \
        "a%20b%2Fc%26%C3%A9 k%20y=v%2Fw"
    assert render("{{ a | join('-') }} {{ a | first }} {{ a | last }} {{ a | length }}", a=[1, True, None]) == \
        "1-true- 1  3"
    assert render("{{ '<a href=\"x\">' | escape }}") == "&lt;a href=&quot;x&quot;&gt;"
    assert render("{{ '{\"a\": [1]}' | load | dump }}") == '{"a":[1]}'
    assert render("{{ 3.7 | round }} {{ '42' | int + 1 }} {{ -2 | abs }}") == "4 43 2"
    assert render("{{ s | nl2br }}", s="a\nb") == "a<br />\nb"


def test_env_global_and_switches() -> None:
    assert render("{{ env.HOME_VAR }} {{ env.CFG }} {{ env.NOPE }}.") == "from-env from-config ."
    hidden = TemplateEngine.from_env({"PROMPTFOO_DISABLE_TEMPLATE_ENV_VARS": "true", "X": "1"})
    assert hidden.render("[{{ env.X }}]", {}) == "[]"
    self_hosted = TemplateEngine.from_env({"PROMPTFOO_SELF_HOSTED": "yes", "X": "1"})
    assert self_hosted.render("[{{ env.X }}]", {}) == "[]"
    explicit = TemplateEngine.from_env({"PROMPTFOO_SELF_HOSTED": "1", "PROMPTFOO_DISABLE_TEMPLATE_ENV_VARS": "false",
                                        "X": "1"})
    assert explicit.render("[{{ env.X }}]", {}) == "[1]"
    disabled = TemplateEngine.from_env({"PROMPTFOO_DISABLE_TEMPLATING": "TRUE"})
    assert disabled.render("{{ prompt }}", {"prompt": "p"}) == "{{ prompt }}"
    assert disabled.compile_object({"a": "{{x}}"}).render({"x": 1}) == {"a": "{{x}}"}


def test_trailing_newline_and_whitespace_control_as_nunjucks() -> None:
    assert render("a {{ x }}\n", x=1) == "a 1\n"
    assert render("{%- if true -%}  x  {%- endif -%}") == "x"


def test_compile_is_cached_and_plain_text_is_a_fast_path() -> None:
    engine = TemplateEngine()
    first = engine.compile("Hi {{ name }}")
    assert engine.compile("Hi {{ name }}") is first and first.has_tags
    plain = engine.compile("no tags, { just braces }")
    assert not plain.has_tags and plain.render({}) == "no tags, { just braces }"
    assert engine.render("{# comment #}x", {}) == "x"


def test_compile_object_renders_values_not_keys() -> None:
    obj = ENGINE.compile_object({"{{k}}": "{{v}}", "n": 1, "l": ["{{v}}", {"d": "{{v}}"}], "s": "static"})
    assert obj.dynamic
    assert obj.render({"v": "V", "k": "K"}) == {"{{k}}": "V", "n": 1, "l": ["V", {"d": "V"}], "s": "static"}
    static = {"a": ["b"]}
    assert ENGINE.compile_object(static).render({}) is static


def test_errors_name_the_template() -> None:
    with pytest.raises(TemplateError, match=r"syntax error in '\{\{ x '"):
        ENGINE.compile("{{ x ")
    with pytest.raises(TemplateError, match="UndefinedError"):
        render("{{ nope() }}")
    with pytest.raises(TemplateError, match="load"):
        render("{{ 'not json' | load }}")


def test_sandbox_blocks_python_internals() -> None:
    with pytest.raises(TemplateError):
        render("{{ s.__class__.__mro__[1].__subclasses__() }}", s="x")
    with pytest.raises(TemplateError, match="No filter named 'random'"):
        ENGINE.compile("{{ [1, 2] | random }}")


def test_js_trim_uses_javascript_whitespace() -> None:
    assert js_trim("\ufeff\u00a0 x \n\u2028") == "x"
    assert js_trim("\x1cx\x1c") == "\x1cx\x1c"


@pytest.mark.parametrize(
    ("source", "vars"),
    [("{{ a.b }}", {"a": {"b": [1, 2]}}), ("x {{a.items}} y", {"a": {"items": 3}}), ("{{ s.length }}", {"s": "ab"}),
     ("{{ z.q }}", {"z": None}), ("{{ env.HOME_VAR }}/{{ env.NOPE }}", {}), ("{{ null }}{{ undefined }}", {}),
     ("{{ prompt }}", {"prompt": 1.0}), ("Bearer {{ t }}", {"t": {"a": 1}}), ("{{ m.x.y }}", {})],
)
def test_fast_path_renders_exactly_like_jinja(source: str, vars: dict[str, Any]) -> None:
    template = ENGINE.compile(source)
    assert template._simple is not None
    assert template.render(vars) == ENGINE._environment.from_string(source).render(vars)


@pytest.mark.parametrize(
    ("source", "vars", "text"),
    [
        ("{{ q | urlencode }}", {"q": "a b&c"}, "a%20b%26c"),
        ("{{ q | urlencode }}", {"q": {"a": "1 2", "b": 3}}, "a=1%202&b=3"),
        ("{{ q | urlencode }}", {"q": [["a", 1], ["b", "x y"], "solo"]}, "a=1&b=x%20y&solo="),
        ("{{ q | urlencode }}", {"q": 5}, "5"),
        ("{{ q | join(',', 'n') }}", {"q": [{"n": 1}, {"m": 2}, {"n": None}]}, "1,,"),
        ("{{ missing | join(',') }}", {}, ""),
        ("{{ q | join('-') }}", {"q": None}, ""),
        ("{{ s.length }} {{ l.length }} {{ s['length'] }} {{ l['length'] }}", {"s": "abc", "l": [1, 2]}, "3 2 3 2"),
        # Object keys are strings in JavaScript: m[1] reads m["1"].
        ("{{ m[1] }}|{{ m[2] }}|{{ m[true] }}", {"m": {"1": "one", "true": "T"}}, "one||T"),
        ("{{ missing ~ 'x' }}|{{ missing | length }}|{{ [missing] }}|{{ missing.a.b }}", {}, "x|0||"),
    ],
)
def test_filters_and_lookups_read_values_like_nunjucks(source: str, vars: dict[str, Any], text: str) -> None:
    assert render(source, **vars) == text


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 1 / 0 }}", "failed to render template '{{ 1 / 0 }}': ZeroDivisionError: division by zero"),
        ("{{ q.foo() }}", "failed to render template '{{ q.foo() }}': UndefinedError:"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "template recursion too deep in '{% macro f(n)"),
        ("{{ x", "template syntax error in '{{ x': unexpected end of template"),
        ("{% for %}", "template syntax error in '{% for %}': Expected an expression"),
    ],
)
def test_render_failures_are_template_errors_saying_where(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        ENGINE.render(source, {"q": {}})
    assert str(info.value).startswith(message)


def test_rendered_text_is_bounded() -> None:
    with pytest.raises(TemplateError, match=r"33554433 .*more than the limit of 33554432"):
        ENGINE.render("{{ 'x' * n }}", {"n": 32 * 1024 * 1024 + 1})


def test_only_strings_are_templates() -> None:
    with pytest.raises(TemplateError, match="a template must be a string, not int"):
        ENGINE.compile(5)  # type: ignore[arg-type]
    ENGINE.check_syntax("{{ ok }}")
    with pytest.raises(TemplateError, match="template syntax error"):
        ENGINE.check_syntax("{% if %}")


def test_referenced_names() -> None:
    assert ENGINE.referenced_names("{{ a }} and {{ c.d }} {{ prompt | upper }}") == {"a", "c", "prompt"}
    assert ENGINE.referenced_names("no tags") == frozenset()
    assert ENGINE.referenced_names("{{ broken") == frozenset()


def test_the_compile_cache_is_bounded_and_still_renders() -> None:
    engine = TemplateEngine({})
    for i in range(1100):
        assert engine.render("{{ n }}-" + str(i), {"n": i}) == f"{i}-{i}"
    assert engine.render("{{ n }}-0", {"n": 0}) == "0-0"
