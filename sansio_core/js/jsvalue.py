"""JavaScript value semantics, in one place, for every part of the core that shows a
Python value the way JavaScript would: ``String()``, truthiness, ``JSON.stringify``
and ``JSON.parse``, ``trim``, and the normalisation of a hook's result into a
response (promptfoo's ``normalizeResponseTransformResult``).

Values cross from QuickJS as JSON data, so these helpers see Python's JSON types
plus ``UNDEFINED`` (JavaScript's ``undefined``) and, from templates, jinja's
``Undefined``; both are undefined here.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any, Final, Protocol

from jinja2 import Undefined

from ..errors import LimitExceeded
from ..limits import MAX_JSON_DEPTH


class _Undefined:
    """JavaScript ``undefined``: the value is absent. Falsy; a singleton."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()




def js_number(value: float | int) -> str:
    """ECMAScript ``Number::toString`` (shortest round-trip digits, JS exponent rules)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    # Integral doubles below 1e16 print as their integer (Python's repr would
    # add ".0"); from 1e16 on, repr switches to an exponent, handled below.
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    magnitude = abs(value)
    if 1e-4 <= magnitude < 1e16:
        # Python's repr is already plain decimal here, with the same shortest digits as JS.
        return repr(value)
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    stripped_int = int_part.lstrip("0")
    if stripped_int:
        point = len(stripped_int) + exponent
    else:
        point = exponent - (len(frac_part) - len(frac_part.lstrip("0")))
    digits = (int_part + frac_part).strip("0")
    k = len(digits)
    n = point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def is_undefined(value: Any) -> bool:
    """JavaScript ``undefined``: the engine's ``UNDEFINED`` or an undefined template variable."""
    return value is UNDEFINED or isinstance(value, Undefined)


def js_string(value: Any) -> str:
    """JavaScript ``String(value)``: ``null`` and ``undefined`` print as such, arrays join
    their items with ``,`` (null/undefined items empty), objects are ``[object Object]``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if is_undefined(value):
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if item is None or is_undefined(item) else _array_item(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, (_dt.datetime, _dt.date)):
        return js_iso(value)
    return str(value)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: ``[]`` and ``{}`` are true; ``0``, ``""``, NaN, null, undefined false."""
    if value is None or is_undefined(value):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, (dict, list, tuple)):
        return True
    return bool(value)


def _array_item(value: Any) -> str:
    # Array.prototype.join prints nested arrays flattened the same way.
    return js_string(value)


def js_iso(value: _dt.date) -> str:
    """``Date.prototype.toJSON`` for YAML timestamps (UTC, milliseconds, ``Z``)."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT00:00:00.000Z")


def js_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    return js_string(key)


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_items(obj: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """Own enumerable properties in JavaScript order: array indexes ascending, then insertion order."""
    items = [(js_key(k), v) for k, v in obj.items()]
    if any(k[:1].isdigit() for k, _ in items):
        index = sorted(((k, v) for k, v in items if _is_array_index(k)), key=lambda kv: int(kv[0]))
        if index:
            items = index + [(k, v) for k, v in items if not _is_array_index(k)]
    return items


_dump_str = json.JSONEncoder(ensure_ascii=False).encode


def _omitted(value: Any) -> bool:
    """Values JSON.stringify drops from objects (undefined, functions)."""
    return is_undefined(value) or (callable(value) and not isinstance(value, type))


def _encode(value: Any, out: list[str], indent: str | None, level: int) -> None:
    if isinstance(value, str):
        out.append(_dump_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(js_number(value) if math.isfinite(value) else "null")
    elif isinstance(value, Mapping):
        items = [(k, v) for k, v in _js_items(value) if not _omitted(v)]
        if not items:
            out.append("{}")
            return
        if indent is None:
            out.append("{")
            first = True
            for k, v in items:
                if not first:
                    out.append(",")
                first = False
                out.append(_dump_str(k))
                out.append(":")
                _encode(v, out, None, 0)
            out.append("}")
        else:
            inner = "\n" + indent * (level + 1)
            out.append("{")
            first = True
            for k, v in items:
                out.append(inner if first else "," + inner)
                first = False
                out.append(_dump_str(k))
                out.append(": ")
                _encode(v, out, indent, level + 1)
            out.append("\n" + indent * level + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "" if indent is None else "\n" + indent * (level + 1)
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            out.append(inner)
            if _omitted(item):
                out.append("null")
            else:
                _encode(item, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]")
    elif isinstance(value, (_dt.datetime, _dt.date)):
        out.append(_dump_str(js_iso(value)))
    elif isinstance(value, bytes):
        out.append(_dump_str(value.decode("utf-8", "replace")))
    else:
        out.append(_dump_str(str(value)))


_dump_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _plain(value: Any) -> bool:
    """True when ``json.dumps`` prints ``value`` exactly as ``JSON.stringify`` would:
    only str keys that are not array indexes, no undefined, and floats in the
    range where Python's repr and JavaScript's number printing coincide."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return True
    if t is float:
        a = abs(value)
        return (1e-4 <= a < 1e16 and not value.is_integer())
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or (k[:1].isdigit() and _is_array_index(k)) or not _plain(v):
                return False
        return True
    if t is list:
        return all(_plain(v) for v in value)
    return False


def js_json(value: Any, indent: int | str | None = None) -> str:
    """``JSON.stringify(value, null, indent)``: compact, key order kept, non-ASCII unescaped.

    Numbers print as JavaScript prints them (``1.0`` -> ``1``, NaN -> ``null``),
    integer-like object keys come first as in JS objects, undefined values are
    dropped from objects and become ``null`` in arrays. A top-level undefined
    gives ``""`` (JSON.stringify returns undefined, which renders empty).
    """
    if indent is None and _plain(value):
        # Hot path (every JSON request body): when Python's C encoder and
        # JSON.stringify agree on every value, use the C encoder.
        return _dump_compact(value)
    if _omitted(value):
        return ""
    pad: str | None
    if indent is None or indent == 0 or indent == "":
        pad = None
    elif isinstance(indent, str):
        pad = indent[:10]
    else:
        pad = " " * max(0, min(10, int(indent)))
        if not pad:
            pad = None
    out: list[str] = []
    _encode(value, out, pad, 0)
    return "".join(out)


def js_trim(text: str) -> str:
    """``String.prototype.trim`` (JS whitespace, which differs from ``str.strip`` at the edges)."""
    return text.strip(JS_WHITESPACE)


JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
# Bytes that are not a bracket, deleted in one C pass; then +1/-1 per bracket.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_JSON_SPACE = " \t\n\r"


def json_depth(text: str) -> int:
    """How deep ``text``'s brackets nest outside string literals, found without
    recursion (for text that is not JSON, at least what a parser would recurse
    through before failing)."""
    outside = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass")
    brackets = outside.translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_depth(text: str, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> None:
    """Raise ``LimitExceeded`` when parsing ``text`` would nest deeper than ``max_depth``.

    Cheap for everyday text: fewer brackets than the limit cannot nest deeper,
    and text that does not start with a bracket never makes a parser recurse.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return
    if not text.lstrip(_JSON_SPACE).startswith(("[", "{")):
        return
    if json_depth(text) > max_depth:
        raise LimitExceeded(f"{what} nested deeper than {max_depth} levels (limits.MAX_JSON_DEPTH)")


def js_json_parse(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``JSON.parse``: raises ValueError on anything JSON does not allow (no NaN/Infinity),
    ``LimitExceeded`` when it nests deeper than ``max_depth``."""
    check_json_depth(text, max_depth)
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class HookOutcome(Protocol):
    """What a hook returned (``hooks.HookResult``)."""

    @property
    def value(self) -> Any: ...
    @property
    def provider_shaped(self) -> bool: ...
    @property
    def is_error(self) -> bool: ...


def normalize_result(result: HookOutcome) -> dict[str, Any]:
    """promptfoo's ``normalizeResponseTransformResult``, with ``Error`` values as errors.

    An object with ``output`` or ``error`` (even undefined) is the response,
    anything else becomes ``{output}``. Undefined members are dropped, as
    serialising the JavaScript object would, so an absent output stays absent
    and callers can tell "nothing" from ``null``/``0``/``false``/``""``.
    """
    if result.is_error:
        return {"error": result.value}
    if result.provider_shaped and isinstance(result.value, dict):
        return {k: v for k, v in result.value.items() if not is_undefined(v)}
    if is_undefined(result.value):
        return {}
    return {"output": result.value}


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point (only a lone one can be in a ``str``
    decoded from UTF-8): it cannot be written as UTF-8, nor cross into QuickJS."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def escape_surrogates(json_text: str) -> str:
    """JSON text with its surrogates (only possible inside its strings) as ``\\uXXXX``
    escapes: what ``JSON.stringify`` writes, and safe as UTF-8."""
    if not has_surrogate(json_text):
        return json_text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


__all__ = [
    "escape_surrogates",
    "has_surrogate",
    "JS_WHITESPACE",
    "UNDEFINED",
    "HookOutcome",
    "check_json_depth",
    "json_depth",
    "is_undefined",
    "js_iso",
    "js_json",
    "js_key",
    "js_json_parse",
    "js_number",
    "js_string",
    "js_trim",
    "js_truthy",
    "normalize_result",
]
