"""Reading a promptfoo eval config: prompts, providers, tests, defaultTest.

Everything here is file reading and shaping; nothing is sent. The result is
an ``EvalPlan``: the prompts, the provider entries (HTTP and WebSocket only),
and the test cases after ``defaultTest`` was merged and array-valued vars were
expanded into their combinations, as promptfoo does.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sansio_core.config.provider import ProviderEntry, parse_provider_entry
from sansio_core.errors import ConfigError

from ..loader import read_document
from .assertions import check_assertion

FILE = "file://"


@dataclass(frozen=True, slots=True)
class Prompt:
    raw: str
    label: str


@dataclass(frozen=True, slots=True)
class Provider:
    entry: ProviderEntry
    id: str
    label: str


@dataclass(slots=True)
class TestCase:
    vars: dict[str, Any]
    description: str | None = None
    asserts: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vars": self.vars, "assert": self.asserts}
        if self.description is not None:
            out["description"] = self.description
        if self.metadata:
            out["metadata"] = self.metadata
        if self.options:
            out["options"] = self.options
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(slots=True)
class EvalPlan:
    path: Path
    base_dir: Path
    prompts: list[Prompt]
    providers: list[Provider]
    tests: list[TestCase]
    description: str | None = None


# -- files ---------------------------------------------------------------------------


def _resolve(base: Path, ref: str) -> Path:
    path = Path(ref[len(FILE):] if ref.startswith(FILE) else ref).expanduser()
    return path if path.is_absolute() else base / path


def _read_text(base: Path, ref: str, what: str) -> tuple[Path, str]:
    path = _resolve(base, ref)
    try:
        return path, path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {ref} (resolved to {path}): {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {ref} is not UTF-8 text") from None


def _parse_structured(path: Path, text: str, what: str) -> Any:
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{what} {path} is not valid {path.suffix.lstrip('.').upper()}: {exc}") from None


# -- prompts -------------------------------------------------------------------------


def _split_prompts(text: str) -> list[str]:
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    return [p for p in ("\n".join(lines).strip() for lines in parts) if p]


def _file_prompts(base: Path, ref: str, label: str | None) -> list[Prompt]:
    path, text = _read_text(base, ref, "prompt file")
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        # A chat prompt: the JSON text is the template (rendered, then sent as a string).
        return [Prompt(text.strip(), label or ref)]
    if suffix in (".yaml", ".yml"):
        doc = _parse_structured(path, text, "prompt file")
        return [Prompt(json.dumps(doc, ensure_ascii=False), label or ref)]
    if suffix in (".py", ".js", ".ts", ".mjs", ".cjs"):
        raise ConfigError(f"prompt {ref}: prompt functions are not supported by promptwire eval; "
                          "use a text, JSON or YAML prompt file", "prompts")
    parts = _split_prompts(text)
    if label is not None and len(parts) == 1:
        return [Prompt(parts[0], label)]
    return [Prompt(p, f"{ref}: {p[:50]}") for p in parts]


def _one_prompt(base: Path, item: Any, where: str) -> list[Prompt]:
    if isinstance(item, str):
        if item.startswith(FILE):
            return _file_prompts(base, item, None)
        return [Prompt(item, item)]
    if isinstance(item, Mapping):
        label = item.get("label")
        if label is not None and not isinstance(label, str):
            raise ConfigError("a prompt label must be a string", f"{where}.label")
        raw = item.get("raw", item.get("id"))
        if isinstance(raw, str) and raw.startswith(FILE) and "raw" not in item:
            return _file_prompts(base, raw, label)
        if isinstance(raw, str):
            return [Prompt(raw, label or raw)]
        if isinstance(raw, (list, dict)):
            text = json.dumps(raw, ensure_ascii=False)
            return [Prompt(text, label or text)]
        raise ConfigError("a prompt object needs `raw` (the prompt text) or `id` (file://...)", where)
    if isinstance(item, list):  # inline chat messages
        text = json.dumps(item, ensure_ascii=False)
        return [Prompt(text, text)]
    raise ConfigError(f"a prompt must be a string or an object, not {type(item).__name__}", where)


def read_prompts(base: Path, raw: Any) -> list[Prompt]:
    if raw is None:
        raise ConfigError("the config has no `prompts`", "prompts")
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, Mapping):  # {file://path: label}
        raw = [{"id": k, "label": v} for k, v in raw.items()]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("expected a non-empty list of prompts", "prompts")
    out: list[Prompt] = []
    for i, item in enumerate(raw):
        out.extend(_one_prompt(base, item, f"prompts[{i}]"))
    if not out:
        raise ConfigError("no prompts found", "prompts")
    return out


# -- providers -----------------------------------------------------------------------


def read_providers(doc: Mapping[str, Any]) -> list[Provider]:
    key = "providers" if "providers" in doc else "targets" if "targets" in doc else None
    if key is None:
        raise ConfigError("the config has no `providers` (or `targets`)")
    raw = doc[key]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError("no providers configured", key)
    out = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        provider_id = item if isinstance(item, str) else item.get("id") if isinstance(item, Mapping) else None
        if isinstance(provider_id, str) and not _is_ours(provider_id):
            raise ConfigError(
                f"provider {provider_id!r} is not an HTTP or WebSocket target: promptwire runs "
                "http/https and ws/wss targets (or URL ids) only", f"{where}.id")
        entry = parse_provider_entry(item, where)
        out.append(Provider(entry, entry.id, entry.label or entry.id))
    return out


def _is_ours(provider_id: str) -> bool:
    low = provider_id.strip().lower()
    return low in ("http", "https", "ws", "wss", "websocket") or low.startswith(
        ("http:", "https:", "ws:", "wss:", "websocket:"))


# -- tests ---------------------------------------------------------------------------

_EXPECTED_PREFIXES = [  # __expected column shorthand, as promptfoo's CSV reader
    ("not-icontains-any:", "not-icontains-any"), ("not-icontains-all:", "not-icontains-all"),
    ("not-contains-any:", "not-contains-any"), ("not-contains-all:", "not-contains-all"),
    ("icontains-any:", "icontains-any"), ("icontains-all:", "icontains-all"),
    ("contains-any:", "contains-any"), ("contains-all:", "contains-all"),
    ("not-icontains:", "not-icontains"), ("not-contains:", "not-contains"),
    ("icontains:", "icontains"), ("contains:", "contains"), ("not-equals:", "not-equals"),
    ("equals:", "equals"), ("not-regex:", "not-regex"), ("regex:", "regex"),
    ("starts-with:", "starts-with"), ("not-starts-with:", "not-starts-with"),
    ("levenshtein:", "levenshtein"), ("word-count:", "word-count"),
    ("javascript:", "javascript"), ("fn:", "javascript"), ("eval:", "javascript"),
    ("python:", "python"), ("grade:", "llm-rubric"), ("llm-rubric:", "llm-rubric"),
    ("contains-json", "contains-json"), ("is-json", "is-json"), ("not-is-json", "not-is-json"),
]


def expected_to_assert(text: str) -> dict[str, Any]:
    stripped = text.strip()
    for prefix, kind in sorted(_EXPECTED_PREFIXES, key=lambda p: -len(p[0])):
        if stripped.startswith(prefix):
            value = stripped[len(prefix):].strip()
            out: dict[str, Any] = {"type": kind}
            if value:
                if kind in ("levenshtein", "word-count"):
                    try:
                        out["value" if kind == "word-count" else "threshold"] = float(value)
                    except ValueError:
                        out["value"] = value
                else:
                    out["value"] = value
            return out
    return {"type": "equals", "value": text}


def _csv_tests(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    tests = []
    for row in reader:
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for col, value in row.items():
            if col is None:
                continue
            value = value or ""
            if col.startswith("__expected"):
                if value.strip():
                    test["assert"].append(expected_to_assert(value))
            elif col == "__description":
                test["description"] = value
            elif col.startswith("__metadata:"):
                test.setdefault("metadata", {})[col.split(":", 1)[1]] = value
            elif col.startswith("__"):
                continue
            else:
                test["vars"][col] = value
        tests.append(test)
    return tests


def _file_tests(base: Path, ref: str) -> list[Any]:
    path, text = _read_text(base, ref, "tests file")
    if path.suffix.lower() == ".csv":
        return _csv_tests(text)
    if path.suffix.lower() == ".jsonl":
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise ConfigError(f"tests file {path} is not valid JSONL: {exc}") from None
    doc = _parse_structured(path, text, "tests file")
    return doc if isinstance(doc, list) else [doc]


def _raw_tests(base: Path, raw: Any) -> list[Any]:
    if raw is None:
        return [{}]
    if isinstance(raw, str):
        if not raw.startswith(FILE):
            raise ConfigError("`tests` must be a list or a file:// path", "tests")
        return _file_tests(base, raw)
    if not isinstance(raw, list):
        raise ConfigError("`tests` must be a list or a file:// path", "tests")
    out: list[Any] = []
    for item in raw:
        if isinstance(item, str) and item.startswith(FILE):
            out.extend(_file_tests(base, item))
        else:
            out.append(item)
    return out


def _load_var(base: Path, value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FILE):
        path = _resolve(base, value)
        suffix = path.suffix.lower()
        if suffix in (".py", ".js", ".ts", ".mjs", ".cjs"):
            raise ConfigError(f"var {value}: script-generated vars are not supported by promptwire eval")
        _, text = _read_text(base, value, "var file")
        if suffix in (".json", ".yaml", ".yml"):
            return _parse_structured(path, text, "var file")
        return text
    return value


def expand_vars(vars_: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of array-valued vars (promptfoo's expansion); scalars stay put."""
    keys = list(vars_)
    choices = [v if isinstance(v, list) and v else [v] for v in vars_.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}", where)
    return dict(value)


def _assert_list(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError("expected a list of assertions", where)
    for i, a in enumerate(value):
        check_assertion(a, f"{where}[{i}]")
    return [dict(a) for a in value]


_TEST_KEYS = {"vars", "description", "assert", "metadata", "options", "threshold", "provider", "providers",
              "prompts", "providerOutput"}


def read_tests(base: Path, raw: Any, default: Any) -> list[TestCase]:
    if isinstance(default, str) and default.startswith(FILE):
        path, text = _read_text(base, default, "defaultTest file")
        default = _parse_structured(path, text, "defaultTest file")
    dflt = _mapping(default, "defaultTest")
    d_vars = _mapping(dflt.get("vars"), "defaultTest.vars")
    d_asserts = _assert_list(dflt.get("assert"), "defaultTest.assert")
    d_meta = _mapping(dflt.get("metadata"), "defaultTest.metadata")
    d_opts = _mapping(dflt.get("options"), "defaultTest.options")
    _check_options(d_opts, "defaultTest.options")
    out: list[TestCase] = []
    for i, item in enumerate(_raw_tests(base, raw)):
        where = f"tests[{i}]"
        if item is None:
            item = {}
        if not isinstance(item, Mapping):
            raise ConfigError(f"a test must be a mapping, not {type(item).__name__}", where)
        for key in item:
            if key not in _TEST_KEYS:
                raise ConfigError(f"unknown test key {key!r}", f"{where}.{key}")
            if key in ("provider", "providers", "prompts", "providerOutput"):
                raise ConfigError(f"`{key}` in a test is not supported by promptwire eval yet", f"{where}.{key}")
        vars_ = {**d_vars, **_mapping(item.get("vars"), f"{where}.vars")}
        vars_ = {k: _load_var(base, v) for k, v in vars_.items()}
        opts = {**d_opts, **_mapping(item.get("options"), f"{where}.options")}
        _check_options(opts, f"{where}.options")
        threshold = item.get("threshold", dflt.get("threshold"))
        if threshold is not None and not isinstance(threshold, (int, float)):
            raise ConfigError("threshold must be a number", f"{where}.threshold")
        description = item.get("description")
        asserts = d_asserts + _assert_list(item.get("assert"), f"{where}.assert")
        meta = {**d_meta, **_mapping(item.get("metadata"), f"{where}.metadata")}
        for combo in expand_vars(vars_):
            out.append(TestCase(combo, None if description is None else str(description), asserts, meta,
                                opts, threshold))
    return out


def _check_options(opts: Mapping[str, Any], where: str) -> None:
    for key in ("transform", "postprocess"):
        if opts.get(key) is not None:
            raise ConfigError(f"`options.{key}` is not supported by promptwire eval yet", f"{where}.{key}")


# -- the whole config ----------------------------------------------------------------


def load_plan(config_path: str | os.PathLike[str]) -> EvalPlan:
    path = Path(config_path)
    doc = read_document(path)
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path} must hold a promptfoo config (a mapping with prompts, providers, tests)")
    base = path.resolve().parent
    prompts = read_prompts(base, doc.get("prompts"))
    providers = read_providers(doc)
    tests = read_tests(base, doc.get("tests"), doc.get("defaultTest"))
    description = doc.get("description")
    return EvalPlan(path, base, prompts, providers, tests, None if description is None else str(description))


__all__ = ["EvalPlan", "Prompt", "Provider", "TestCase", "expand_vars", "expected_to_assert", "load_plan"]
