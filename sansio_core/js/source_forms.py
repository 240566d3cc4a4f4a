"""Which JavaScript a config string is: a function, an expression, or a statement body.

promptfoo decides with a regex (``^(\\(.*?\\)\\s*=>|function\\s*\\(.*?\\))``)
that misses ``x => ...`` and ``async (...) => ...`` and mistakes an object
literal containing ``(l) =>`` for a function. Here the leading parenthesis is
matched properly (strings, template literals and comments skipped), so the
decision follows the syntax; the engine then confirms it, falling back to the
next form when a guess does not compile or does not yield a function.

Every form becomes one JavaScript *expression that evaluates to a function*,
so the engine compiles each option the same way, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_IDENT = r"[A-Za-z_$][\w$]*"
_FUNCTION_KEYWORD = re.compile(r"^(?:async\s+)?function\b")
_BARE_ARROW = re.compile(rf"^(?:async\s+)?{_IDENT}\s*=>")
_PAREN_START = re.compile(r"^(?:async\s*)?\(")
_RETURN_WORD = re.compile(r"(?<![\w$.])return\b")
_OPEN = "([{"
_CLOSE = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One reading of the source: ``code`` is a JS expression giving a function."""

    form: str  # "function", "expression" or "body"
    code: str


def _skip_string(src: str, i: int, quote: str) -> int:
    """Index just past the string literal starting at ``i`` (its opening quote)."""
    i += 1
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            return i + 1
        if quote == "`" and ch == "$" and src.startswith("${", i):
            i = _match_from(src, i + 1)
            continue
        i += 1
    return len(src)


def _match_from(src: str, start: int) -> int:
    """Index just past the bracket group opening at ``start``; ``len(src)`` if unbalanced."""
    stack: list[str] = []
    i = start
    while i < len(src):
        ch = src[i]
        if ch in "'\"`":
            i = _skip_string(src, i, ch)
            continue
        if src.startswith("//", i):
            nl = src.find("\n", i)
            i = len(src) if nl < 0 else nl
            continue
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = len(src) if end < 0 else end + 2
            continue
        if ch in _OPEN:
            stack.append(ch)
        elif ch in _CLOSE:
            if not stack or stack[-1] != _CLOSE[ch]:
                return len(src)
            stack.pop()
            if not stack:
                return i + 1
        i += 1
    return len(src)


def looks_like_function(src: str) -> bool:
    """True when ``src`` starts with a function expression of any form."""
    if _FUNCTION_KEYWORD.match(src) or _BARE_ARROW.match(src):
        return True
    m = _PAREN_START.match(src)
    if not m:
        return False
    end = _match_from(src, m.end() - 1)
    return src[end:].lstrip().startswith("=>")


def strip_trailing_semicolons(src: str) -> str:
    """``json.a;`` and ``(x) => x;`` are accepted: promptfoo's newer releases strip it too."""
    out = src.strip()
    while out.endswith(";"):
        out = out[:-1].rstrip()
    return out


def has_return(src: str) -> bool:
    return _RETURN_WORD.search(src) is not None


def candidates(src: str, params: Sequence[str], *, allow_body: bool = True) -> list[Candidate]:
    """The readings of ``src`` to try, most specific first.

    A function form is called with the option's arguments; an expression is
    evaluated with them bound by name; a statement body (anything containing
    ``return``) runs as a function body over the same names.
    """
    text = strip_trailing_semicolons(src)
    names = ", ".join(params)
    found: list[Candidate] = []
    if looks_like_function(text):
        found.append(Candidate("function", f"({text}\n)"))
    found.append(Candidate("expression", f"(function ({names}) {{ return ({text}\n); }})"))
    if allow_body and has_return(src):
        found.append(Candidate("body", f"(function ({names}) {{ {src.strip()}\n}})"))
    return found


__all__ = ["Candidate", "candidates", "has_return", "looks_like_function", "strip_trailing_semicolons"]
