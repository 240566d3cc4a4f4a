"""``jsvalue``: the JSON nesting limit every parse of server data goes through (issue 9 item 3)."""

from __future__ import annotations

import pytest

from sansio_core.errors import LimitExceeded
from sansio_core.js.jsvalue import check_json_depth, js_json_parse, json_depth
from sansio_core.limits import MAX_JSON_DEPTH

DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: a raw RecursionError before the limit


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ('"[[["', 0), ("[]", 1), ('{"a": [1, {"b": "]]]]"}]}', 3), ('["\\"[[", [[]]]', 3), (DEEP, 100_000),
])
def test_json_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_deep_json_is_a_limit_error_not_a_recursion_error() -> None:
    with pytest.raises(LimitExceeded, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        js_json_parse(DEEP)
    with pytest.raises(LimitExceeded):
        js_json_parse("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert js_json_parse("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None


def test_many_brackets_that_do_not_nest_are_fine() -> None:
    flat = "[" + ",".join(["[1]"] * 10_000) + "]"
    check_json_depth(flat)
    check_json_depth("not json " + "[" * 10_000)  # a parser would stop at the first character
    check_json_depth('{"s": "' + "[" * 10_000 + '"}')
