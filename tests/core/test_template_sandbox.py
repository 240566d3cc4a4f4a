"""Template bombs end fast in a clear TemplateError (issue 9 item 4): bounded operators,
output counted while rendering, work counted instead of time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import TemplateError
from sansio_core.http.target import HttpTarget
from sansio_core.limits import MAX_RENDERED_TEMPLATE
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

VARS = {"n": 999_999_999, "big": 2_000_000_000, "s": "x", "items": list(range(100_000))}
NS = "{% set ns = namespace(a='x') %}"

BOMBS = [
    ("{{ 7 ** 999999999 }}", "too large"),
    ("{{ 7 ** n }}", "too large"),
    ("{{ 'x' * 2000000000 }}", "repetition"),
    ("{{ s * big }}", "repetition"),
    ("{{ [1] * big }}", "repetition"),
    ("{{ (2 ** 4000) * (2 ** 4000) }}", "bits"),
    (NS + "{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}{{ ns.a }}", "concatenation"),
    (NS + "{% for i in range(40) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a }}", "concatenation"),
    ("{{ 'x'.ljust(big) }}", "ljust"),
    ("{{ 'x' | center(big) }}", "filter width"),
    ("{{ ('x' * 30000000) | replace('x', 'yy') }}", "replace"),
    ("{{ ('x' * 30000000).replace('x', 'yy') }}", "replace"),
    ("{{ '%999999999s' % s }}", "not available"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "steps"),
    ("{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}", "steps"),
    ("{% for a in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "rendered more than the limit"),
]


@pytest.mark.parametrize(("src", "message"), BOMBS)
def test_template_bombs_end_fast_in_a_template_error(src: str, message: str) -> None:
    engine = TemplateEngine()
    started = time.process_time()
    template = engine.compile(src)  # jinja folds constants while compiling: must not hang here
    with pytest.raises(TemplateError, match=message):
        template.render(VARS)
    assert time.process_time() - started < 3.0


def test_the_output_cap_is_enforced_while_rendering_not_after() -> None:
    """The render stops at the cap: it never builds the whole 100 MB it was asked for."""
    src = "{% for a in range(100000) %}{{ 'y' * 1000 }}{% endfor %}"
    with pytest.raises(TemplateError, match=f"more than the limit of {MAX_RENDERED_TEMPLATE}"):
        TemplateEngine().render(src, {})


@pytest.mark.parametrize(("src", "want"), [
    ("{{ 2 ** 10 }} {{ 3 * 4 }} {{ 'ab' ~ 1 }} {{ [1, 2] + [3] }} {{ 7 % 3 }} {{ 7 // 2 }}", "1024 12 ab1 1,2,3 1 3"),
    ("{% for m in msgs %}{{ loop.index }}:{{ m }};{% endfor %}", "1:a;2:b;"),
    ("{{ 'a b' | replace(' ', '-') }}|{{ 'x' | center(5) }}|{{ 'ab' * 3 }}", "a-b|  x  |ababab"),
    ("{% macro f(x) %}{% for i in range(3) %}{{ x }}{% endfor %}{% endmacro %}{{ f(1) }}", "111"),
    ("{{ 'line\nline' | indent(2) }}", "line\n  line"),
])
def test_ordinary_templates_are_unchanged(src: str, want: str) -> None:
    assert TemplateEngine().render(src, {"msgs": ["a", "b"]}) == want


def test_referenced_names_do_not_include_the_instrumentation() -> None:
    names = TemplateEngine().referenced_names("{% for m in msgs %}{{ m ~ x }}{% endfor %}")
    assert {"msgs", "x"} <= names and not {"__pw_budget", "__pw_concat"} & names


@pytest.mark.parametrize("body", ["{{ 7 ** 999999999 }}", "{{ 'x' * 2000000000 }}", "{{ 7 ** n }}"])
def test_a_target_with_a_bomb_in_its_body_fails_clearly_and_fast(body: Any) -> None:
    entry = parse_provider_entry({"id": "http://api.test/x", "config": {"method": "POST", "body": {"q": body}}})
    started = time.process_time()
    target = HttpTarget.compile(entry, Sources())

    def server(_: SeenRequest) -> ServerReply:
        return ServerReply(200, [], b"ok")

    end, _ = run_against(target.new_call("p", {"n": 999_999_999}, None, now=Instant(1.0, 1.0), seed=1), server)
    assert isinstance(end, A.Fail) and isinstance(end.error, TemplateError)
    assert time.process_time() - started < 2.0
