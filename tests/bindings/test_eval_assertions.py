"""The deterministic assertions, one by one, through the real grader (QuickJS, Python, jsonschema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from promptwire.eval.assertions import Grader, check_assertion, levenshtein
from promptwire.eval.config import expand_vars, expected_to_assert, read_tests

from sansio_core.errors import ConfigError


@pytest.fixture(scope="module")
def grader(tmp_path_factory: pytest.TempPathFactory) -> Grader:
    base = tmp_path_factory.mktemp("grader")
    (base / "checks.py").write_text(
        "def get_assert(output, context):\n    return {'pass': 'ok' in output, 'score': 0.7, 'reason': 'py file'}\n"
        "def short(output, context):\n    return len(output) < 5\n")
    (base / "check.js").write_text("module.exports = (output, context) => output.includes(context.vars.x);\n")
    (base / "schema.json").write_text('{"type": "object", "required": ["a"]}')
    return Grader(base, {})


def grade(grader: Grader, assertion: dict[str, Any], output: Any, **kw: Any) -> dict[str, Any]:
    check_assertion(assertion, "assert[0]")
    vars_ = kw.pop("vars", {"x": "ok"})
    result = grader.grade([assertion], output, vars=vars_, prompt="p", latency_ms=kw.pop("latency", 10),
                          cost=kw.pop("cost", None), context={"vars": vars_, "prompt": "p"}, **kw)
    return result


CASES = [
    ({"type": "equals", "value": "Hello"}, "Hello", True),
    ({"type": "equals", "value": "Hello"}, "hello", False),
    ({"type": "equals", "value": {"a": 1}}, '{"a": 1}', True),
    ({"type": "equals", "value": "{{x}}"}, "ok", True),
    ({"type": "contains", "value": "ell"}, "Hello", True),
    ({"type": "icontains", "value": "HELLO"}, "hello there", True),
    ({"type": "contains-any", "value": ["x", "ell"]}, "Hello", True),
    ({"type": "contains-any", "value": "x, y"}, "Hello", False),
    ({"type": "contains-all", "value": ["H", "o"]}, "Hello", True),
    ({"type": "contains-all", "value": ["H", "z"]}, "Hello", False),
    ({"type": "icontains-any", "value": ["HE"]}, "hello", True),
    ({"type": "icontains-all", "value": "he, LO"}, "hello", True),
    ({"type": "starts-with", "value": "He"}, "Hello", True),
    ({"type": "regex", "value": r"^\d{3}$"}, "123", True),
    ({"type": "regex", "value": r"^\d{3}$"}, "12a", False),
    ({"type": "is-json"}, '{"a": 1}', True),
    ({"type": "is-json"}, "{a: 1}", False),
    ({"type": "is-json", "value": {"type": "object", "required": ["b"]}}, '{"a": 1}', False),
    ({"type": "is-json", "value": "file://schema.json"}, '{"a": 1}', True),
    ({"type": "contains-json"}, 'text {"a": [1, 2]} more', True),
    ({"type": "contains-json", "value": {"required": ["a"]}}, 'x {"b": 1} y {"a": 2}', True),
    ({"type": "contains-json"}, "no json here {", False),
    ({"type": "javascript", "value": "output.length === 5"}, "Hello", True),
    ({"type": "javascript", "value": "const n = output.length;\nreturn n > 10;"}, "Hello", False),
    ({"type": "javascript", "value": "({pass: true, score: 0.5, reason: 'half'})"}, "x", True),
    ({"type": "javascript", "value": "file://check.js"}, "it is ok", True),
    ({"type": "python", "value": "output.upper() == 'HELLO'"}, "Hello", True),
    ({"type": "python", "value": "n = len(output)\nreturn n > 10"}, "Hello", False),
    ({"type": "python", "value": "file://checks.py"}, "ok!", True),
    ({"type": "python", "value": "file://checks.py:short"}, "Hello", False),
    ({"type": "latency", "threshold": 100}, "x", True),
    ({"type": "levenshtein", "value": "Hallo", "threshold": 1}, "Hello", True),
    ({"type": "levenshtein", "value": "Howdy"}, "Hello there friend", False),
    ({"type": "word-count", "value": 2}, "two words", True),
    ({"type": "word-count", "value": {"min": 3, "max": 5}}, "two words", False),
    ({"type": "not-contains", "value": "bad"}, "good", True),
    ({"type": "not-equals", "value": "a"}, "a", False),
    ({"type": "not-regex", "value": "[0-9]"}, "abc", True),
    ({"type": "not-is-json"}, "plain", True),
    ({"type": "not-javascript", "value": "output === 'x'"}, "x", False),
]


@pytest.mark.parametrize(("assertion", "output", "expected"), CASES,
                         ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(CASES)])
def test_assertion(grader: Grader, assertion: dict[str, Any], output: Any, expected: bool) -> None:
    result = grade(grader, assertion, output)
    assert result["pass"] is expected, result["componentResults"][0]["reason"]
    assert result["componentResults"][0]["pass"] is expected


def test_cost_and_latency_need_measurements(grader: Grader) -> None:
    assert grade(grader, {"type": "cost", "threshold": 0.01}, "x", cost=0.001)["pass"] is True
    assert grade(grader, {"type": "cost", "threshold": 0.01}, "x", cost=0.5)["pass"] is False
    no_cost = grade(grader, {"type": "cost", "threshold": 0.01}, "x")
    assert no_cost["pass"] is False and "no cost" in no_cost["reason"]
    assert grade(grader, {"type": "latency", "threshold": 5}, "x", latency=50)["pass"] is False


def test_weights_thresholds_and_metrics(grader: Grader) -> None:
    asserts = [{"type": "contains", "value": "a", "weight": 3, "metric": "m"},
               {"type": "contains", "value": "z", "weight": 1, "metric": "m"}]
    r = grader.grade(asserts, "abc", vars={}, prompt="", latency_ms=1, cost=None, context={})
    assert r["pass"] is False and r["score"] == pytest.approx(0.75)
    assert r["namedScores"] == {"m": 0.5}
    r = grader.grade(asserts, "abc", vars={}, prompt="", latency_ms=1, cost=None, context={}, test_threshold=0.7)
    assert r["pass"] is True
    # A weight-0 assertion is informational: it is scored but does not fail the test.
    r = grader.grade([{"type": "contains", "value": "z", "weight": 0}], "abc", vars={}, prompt="",
                     latency_ms=1, cost=None, context={})
    assert r["pass"] is True
    # A numeric JavaScript score passes against the assertion's threshold.
    js = {"type": "javascript", "value": "0.4", "threshold": 0.5}
    assert grade(grader, js, "x")["pass"] is False
    assert grade(grader, {**js, "threshold": 0.3}, "x")["pass"] is True


def test_model_graded_assertions_are_skipped_never_passed(grader: Grader) -> None:
    r = grade(grader, {"type": "llm-rubric", "value": "is polite"}, "x")
    component = r["componentResults"][0]
    assert component["pass"] is None and component["skipped"] is True and "grading model" in component["reason"]
    assert r["skipped"] == 1
    mixed = grader.grade([{"type": "llm-rubric", "value": "v"}, {"type": "contains", "value": "q"}], "x",
                         vars={}, prompt="", latency_ms=1, cost=None, context={})
    assert mixed["pass"] is False


def test_a_failing_code_assertion_is_an_assertion_error_not_a_crash(grader: Grader) -> None:
    r = grade(grader, {"type": "javascript", "value": "output.nope.deeper"}, "x")
    assert r["pass"] is False and "javascript assertion error" in r["reason"]
    r = grade(grader, {"type": "not-python", "value": "1/0"}, "x")
    assert r["pass"] is False and "ZeroDivisionError" in r["reason"]


def test_load_time_checks() -> None:
    with pytest.raises(ConfigError, match="not supported"):
        check_assertion({"type": "perplexity-score"}, "a")
    with pytest.raises(ConfigError, match="threshold"):
        check_assertion({"type": "latency"}, "a")
    with pytest.raises(ConfigError, match="regular expression"):
        check_assertion({"type": "regex", "value": "("}, "a")
    with pytest.raises(ConfigError, match="needs `value`"):
        check_assertion({"type": "contains"}, "a")


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3


def test_var_arrays_expand_and_csv_expected_columns(tmp_path: Path) -> None:
    assert expand_vars({"a": [1, 2], "b": ["x", "y"], "c": 0}) == [
        {"a": 1, "b": "x", "c": 0}, {"a": 1, "b": "y", "c": 0}, {"a": 2, "b": "x", "c": 0}, {"a": 2, "b": "y", "c": 0}]
    assert expected_to_assert("contains: foo") == {"type": "contains", "value": "foo"}
    assert expected_to_assert("plain answer") == {"type": "equals", "value": "plain answer"}
    (tmp_path / "t.csv").write_text('q,__expected,__expected2,__description\n"a, b",icontains: A,is-json,first\n')
    tests = read_tests(tmp_path, "file://t.csv", {"vars": {"d": 1}, "assert": [{"type": "contains", "value": "z"}]})
    assert len(tests) == 1
    t = tests[0]
    assert t.vars == {"d": 1, "q": "a, b"} and t.description == "first"
    assert [a["type"] for a in t.asserts] == ["contains", "icontains", "is-json"]
    (tmp_path / "t.yaml").write_text("- vars: {q: [1, 2]}\n  assert: [{type: equals, value: '1'}]\n")
    assert [t.vars for t in read_tests(tmp_path, ["file://t.yaml"], None)] == [{"q": 1}, {"q": 2}]
