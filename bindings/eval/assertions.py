"""promptfoo's deterministic assertions, their ``not-`` forms, weights, thresholds and metrics.

``check_assertion`` validates one assertion when the config is read (an
unknown type is a configuration error, before anything is sent);
``Grader`` compiles the JavaScript and Python ones once and grades a
response into promptfoo's ``GradingResult`` shape. Assertions that need a
grading model are *skipped* with the reason: they never count as passes.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import re
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from sansio_core.errors import ConfigError, PromptwireError
from sansio_core.js.engine import UNDEFINED, JsEngine, JsFunction
from sansio_core.js.modules import module_function_source
from sansio_core.js.source_forms import candidates
from sansio_core.templating import TemplateEngine

DETERMINISTIC = frozenset({
    "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all",
    "starts-with", "regex", "is-json", "contains-json", "javascript", "python", "latency", "cost",
    "levenshtein", "word-count",
})
MODEL_GRADED = frozenset({
    "llm-rubric", "model-graded-closedqa", "model-graded-factuality", "factuality", "answer-relevance",
    "context-faithfulness", "context-recall", "context-relevance", "similar", "select-best", "g-eval",
    "classifier", "moderation", "pi", "is-refusal", "conversation-relevance", "search-rubric",
    "max-score", "human", "trajectory:goal-success",
})
_NO_VALUE_OK = frozenset({"is-json", "contains-json", "latency", "cost"})


def _base(kind: str) -> tuple[bool, str]:
    return (True, kind[4:]) if kind.startswith("not-") else (False, kind)


def check_assertion(raw: Any, where: str) -> None:
    """Load-time validation of one assertion mapping."""
    if not isinstance(raw, Mapping):
        raise ConfigError("an assertion must be a mapping with a `type`", where)
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ConfigError("an assertion needs a `type` string", f"{where}.type")
    _, base = _base(kind)
    if base in MODEL_GRADED or kind in MODEL_GRADED:
        return
    if base not in DETERMINISTIC:
        raise ConfigError(f"assertion type {kind!r} is not supported by promptwire eval "
                          f"(supported: {', '.join(sorted(DETERMINISTIC))}, their not- forms, and "
                          "model-graded types, which are reported as skipped)", f"{where}.type")
    for key in ("weight", "threshold"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"`{key}` must be a number", f"{where}.{key}")
    if raw.get("weight") is not None and raw["weight"] < 0:
        raise ConfigError("`weight` must not be negative", f"{where}.weight")
    if base in ("latency", "cost") and raw.get("threshold") is None:
        raise ConfigError(f"a {base} assertion needs `threshold`", f"{where}.threshold")
    if base not in _NO_VALUE_OK and "value" not in raw:
        raise ConfigError(f"a {kind} assertion needs `value`", f"{where}.value")
    if base == "regex":
        try:
            re.compile(str(raw["value"]))
        except re.error as exc:
            raise ConfigError(f"invalid regular expression: {exc}", f"{where}.value") from None
    if raw.get("transform") is not None:
        raise ConfigError("assertion `transform` is not supported by promptwire eval yet", f"{where}.transform")


# -- helpers -------------------------------------------------------------------------


def output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if output is None:
        return ""
    return json.dumps(output, ensure_ascii=False)


def _list_value(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    return [v.strip() for v in (rows[0] if rows else [])]


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _json_candidates(text: str) -> list[Any]:
    """Every JSON object or array embedded in ``text`` (first parse at each opening bracket)."""
    found = []
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def _schema_errors(value: Any, schema: Any) -> str | None:
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        return str(exc.message)
    except jsonschema.SchemaError as exc:
        return f"invalid JSON schema: {exc.message}"
    return None


def _as_result(value: Any, threshold: float | None, what: str) -> tuple[bool, float, str]:
    """A JavaScript / Python assertion's return value as (pass, score, reason)."""
    if isinstance(value, bool):
        return value, 1.0 if value else 0.0, f"{what} returned {str(value).lower()}"
    if isinstance(value, (int, float)):
        score = float(value)
        ok = score >= threshold if threshold is not None else score > 0
        return ok, score, f"{what} returned score {score:g}"
    if isinstance(value, Mapping) and "pass" in value:
        ok = bool(value.get("pass"))
        given = value.get("score")
        score = float(given) if isinstance(given, (int, float)) and not isinstance(given, bool) else (
            1.0 if ok else 0.0)
        if threshold is not None and "score" in value:
            ok = ok and score >= threshold
        return ok, score, str(value.get("reason") or f"{what} returned a grading result")
    raise _AssertionFailure(f"{what} must return a boolean, a number or a GradingResult object, "
                            f"not {type(value).__name__ if value is not UNDEFINED else 'undefined'}")


class _AssertionFailure(Exception):
    pass


# -- the grader ----------------------------------------------------------------------


class Grader:
    """Grades outputs. Compiles each code assertion once; single-owner (one event loop)."""

    def __init__(self, base_dir: Path, env: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.templates = TemplateEngine.from_env(env)
        self._js: JsEngine | None = None
        self._env = env
        self._js_fns: dict[str, JsFunction] = {}
        self._py_fns: dict[str, Callable[..., Any]] = {}

    # compile ---------------------------------------------------------------------------

    def _engine(self) -> JsEngine:
        if self._js is None:
            self._js = JsEngine(env=self._env)
        return self._js

    def _js_function(self, source: str) -> JsFunction:
        fn = self._js_fns.get(source)
        if fn is not None:
            return fn
        engine = self._engine()
        text = source.strip()
        if text.startswith("file://"):
            ref = text[len("file://"):]
            path, _, name = ref.partition(":")
            if not path.endswith((".js", ".cjs", ".mjs")):
                name, path = "", ref
            full = self._path(path)
            try:
                module = full.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read javascript assertion {text}: {exc.strerror or exc}") from None
            fn = engine.compile(module_function_source(module, name or None, path, "assert"), text)
        else:
            fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(text, ["output", "context"])],
                                         "javascript assertion")
        self._js_fns[source] = fn
        return fn

    def _path(self, ref: str) -> Path:
        p = Path(ref).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def _py_function(self, source: str) -> Callable[..., Any]:
        cached = self._py_fns.get(source)
        if cached is not None:
            return cached
        fn: Callable[..., Any]
        text = source.strip()
        if text.startswith("file://"):
            ref = text[len("file://"):]
            path, _, name = ref.partition(":")
            if not path.endswith(".py"):
                path, name = ref, ""
            full = self._path(path)
            spec = importlib.util.spec_from_file_location(f"promptwire_assert_{abs(hash(str(full)))}", full)
            if spec is None or spec.loader is None or not full.is_file():
                raise ConfigError(f"cannot import python assertion {text} (resolved to {full})")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise ConfigError(f"python assertion {text} failed to import: {type(exc).__name__}: {exc}") from None
            found = getattr(module, name or "get_assert", None)
            if not callable(found):
                raise ConfigError(f"python assertion {text} has no function {name or 'get_assert'}")
            fn = found
        else:
            body = text if "\n" in text else f"return {text}"
            code = "def __pw_assert(output, context):\n" + textwrap.indent(body, "    ") + "\n"
            scope: dict[str, Any] = {"json": json, "re": re, "math": math}
            try:
                exec(compile(code, "<python assertion>", "exec"), scope)
            except SyntaxError as exc:
                raise ConfigError(f"python assertion does not compile: {exc.msg} (line {exc.lineno})") from None
            fn = scope["__pw_assert"]
        self._py_fns[source] = fn
        return fn

    def prepare(self, asserts: list[dict[str, Any]]) -> None:
        """Compile the code assertions now, so a broken one is a config error before any call."""
        for a in asserts:
            _, base = _base(a["type"])
            if base == "javascript":
                try:
                    self._js_function(str(a["value"]))
                except PromptwireError as exc:
                    if isinstance(exc, ConfigError):
                        raise
                    raise ConfigError(f"javascript assertion does not compile: {exc}") from None
            elif base == "python":
                self._py_function(str(a["value"]))

    # grade -----------------------------------------------------------------------------

    def grade(self, asserts: list[dict[str, Any]], output: Any, *, vars: Mapping[str, Any],
              prompt: str, latency_ms: float | None, cost: float | None, context: dict[str, Any],
              test_threshold: float | None = None) -> dict[str, Any]:
        """promptfoo's GradingResult for one row (``componentResults`` per assertion)."""
        components: list[dict[str, Any]] = []
        total_weight = 0.0
        weighted = 0.0
        all_pass = True
        named: dict[str, list[float]] = {}
        reasons: list[str] = []
        skipped = 0
        for a in asserts:
            kind = a["type"]
            weight = float(a.get("weight", 1.0))
            negate, base = _base(kind)
            if base in MODEL_GRADED or kind in MODEL_GRADED:
                skipped += 1
                components.append({"pass": None, "score": None, "skipped": True, "assertion": a,
                                   "reason": f"skipped: {kind} needs a grading model, which promptwire "
                                             "does not run"})
                continue
            try:
                ok, score, reason = self._one(base, a, output, vars, latency_ms, cost, context)
            except (_AssertionFailure, PromptwireError) as exc:
                ok, score, reason = False, 0.0, f"{kind} assertion error: {exc}"
                negate = False  # an error never passes, not even negated
            else:
                if negate:
                    ok = not ok
                    score = 1.0 - score if 0.0 <= score <= 1.0 else (0.0 if score > 0 else 1.0)
                    reason = reason if ok else f"{kind} failed: {reason}"
            components.append({"pass": ok, "score": score, "reason": reason, "assertion": a})
            total_weight += weight
            weighted += score * weight
            if not ok and weight > 0:
                all_pass = False
                reasons.append(reason)
            metric = a.get("metric")
            if isinstance(metric, str):
                named.setdefault(metric, []).append(score)
        score = weighted / total_weight if total_weight > 0 else (1.0 if all_pass else 0.0)
        passed = all_pass
        if test_threshold is not None:
            passed = score >= test_threshold
            if not passed:
                reasons.insert(0, f"score {score:.3g} is below the test threshold {test_threshold:g}")
        result: dict[str, Any] = {
            "pass": passed, "score": score,
            "reason": "; ".join(reasons) if reasons else (
                "All assertions passed" if components else "No assertions"),
            "namedScores": {k: sum(v) / len(v) for k, v in named.items()},
            "tokensUsed": {"total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0},
            "componentResults": components,
            "assertion": None,
        }
        if skipped:
            result["skipped"] = skipped
        return result

    def _render(self, value: Any, vars: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            return self.templates.render(value, vars)
        if isinstance(value, list):
            return [self._render(v, vars) for v in value]
        return value

    def _one(self, base: str, a: Mapping[str, Any], output: Any, vars: Mapping[str, Any],
             latency_ms: float | None, cost: float | None, context: dict[str, Any]) -> tuple[bool, float, str]:
        threshold = a.get("threshold")
        text = output_text(output)

        def verdict(ok: bool, reason: str) -> tuple[bool, float, str]:
            return ok, 1.0 if ok else 0.0, reason

        if base == "javascript":
            source = str(a["value"])
            fn = self._js_function(source)
            # Serialising the context (it holds the whole response) is most of a call's cost:
            # skip it for inline code that never names it.
            wants_context = "context" in source or source.strip().startswith("file://")
            res = self._engine().call(fn, output if isinstance(output, (str, dict, list)) else text,
                                      context if wants_context else UNDEFINED)
            if res.is_error:
                raise _AssertionFailure(str(res.value))
            return _as_result(res.value, threshold, "javascript")
        if base == "python":
            try:
                value = self._py_function(str(a["value"]))(output, context)
            except PromptwireError:
                raise
            except Exception as exc:
                raise _AssertionFailure(f"{type(exc).__name__}: {exc}") from None
            return _as_result(value, threshold, "python")
        if base == "latency":
            if latency_ms is None:
                raise _AssertionFailure("no latency was measured")
            if threshold is None:
                raise _AssertionFailure("a latency assertion needs a threshold (ms)")
            return verdict(latency_ms <= threshold, f"latency {latency_ms:.0f} ms vs threshold {threshold:g} ms")
        if base == "cost":
            if cost is None:
                raise _AssertionFailure("the response reports no cost")
            if threshold is None:
                raise _AssertionFailure("a cost assertion needs a threshold")
            return verdict(cost <= threshold, f"cost {cost:g} vs threshold {threshold:g}")
        value = self._render(a.get("value"), vars)
        if base == "equals":
            if isinstance(value, (dict, list)):
                try:
                    got = output if isinstance(output, (dict, list)) else json.loads(text)
                except ValueError:
                    return verdict(False, "output is not JSON, expected a JSON value")
                return verdict(got == value, "output equals the expected JSON" if got == value else
                               f"expected {json.dumps(value)[:200]}")
            ok = text == str(value)
            return verdict(ok, f"output {'equals' if ok else 'does not equal'} {str(value)[:200]!r}")
        if base in ("contains", "icontains"):
            hay, needle = (text.lower(), str(value).lower()) if base == "icontains" else (text, str(value))
            ok = needle in hay
            return verdict(ok, f"output {'contains' if ok else 'does not contain'} {str(value)[:200]!r}")
        if base in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
            items = _list_value(value)
            fold = base.startswith("i")
            hay = text.lower() if fold else text
            hits = [v for v in items if (v.lower() if fold else v) in hay]
            if base.endswith("any"):
                ok = bool(hits)
                return verdict(ok, f"found {hits[0]!r}" if ok else f"none of {items} found")
            missing = [v for v in items if v not in hits]
            return verdict(not missing, "all found" if not missing else f"missing {missing}")
        if base == "starts-with":
            ok = text.startswith(str(value))
            return verdict(ok, f"output {'starts' if ok else 'does not start'} with {str(value)[:200]!r}")
        if base == "regex":
            try:
                ok = re.search(str(value), text) is not None
            except re.error as exc:
                raise _AssertionFailure(f"invalid regular expression: {exc}") from None
            return verdict(ok, f"output {'matches' if ok else 'does not match'} /{value}/")
        if base == "is-json":
            try:
                parsed = output if isinstance(output, (dict, list)) else json.loads(text)
            except ValueError:
                return verdict(False, "output is not valid JSON")
            if value is not None:
                err = _schema_errors(parsed, self._schema(value))
                if err:
                    return verdict(False, f"JSON does not match the schema: {err}")
            return verdict(True, "output is valid JSON")
        if base == "contains-json":
            found = [output] if isinstance(output, (dict, list)) else _json_candidates(text)
            if not found:
                return verdict(False, "output contains no JSON")
            if value is None:
                return verdict(True, "output contains JSON")
            schema = self._schema(value)
            errors = [_schema_errors(f, schema) for f in found]
            ok = any(e is None for e in errors)
            return verdict(ok, "output contains JSON matching the schema" if ok else
                           f"no JSON in the output matches the schema: {errors[0]}")
        if base == "levenshtein":
            limit = float(threshold) if threshold is not None else 5.0
            d = levenshtein(text, str(value))
            return verdict(d <= limit, f"Levenshtein distance {d} (threshold {limit:g})")
        if base == "word-count":
            n = len(text.split())
            if isinstance(value, Mapping):
                lo, hi = value.get("min"), value.get("max")
                ok = (lo is None or n >= lo) and (hi is None or n <= hi)
                bounds = ", ".join(f"{k} {v}" for k, v in (("min", lo), ("max", hi)) if v is not None)
                return verdict(ok, f"{n} words ({bounds})")
            try:
                want = int(float(str(value)))
            except ValueError:
                raise _AssertionFailure("word-count value must be a number or {min, max}") from None
            return verdict(n == want, f"{n} words, expected {want}")
        raise _AssertionFailure(f"unknown assertion type {base}")  # pragma: no cover - checked at load

    def _schema(self, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("file://"):
                path = self._path(value[len("file://"):])
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as exc:
                    raise _AssertionFailure(f"cannot read schema {value}: {exc.strerror or exc}") from None
                if path.suffix.lower() in (".yaml", ".yml"):
                    import yaml

                    return yaml.safe_load(text)
                value = text
            try:
                return json.loads(value)
            except ValueError:
                import yaml

                return yaml.safe_load(value)
        return value


__all__ = ["DETERMINISTIC", "MODEL_GRADED", "Grader", "check_assertion", "levenshtein", "output_text"]
