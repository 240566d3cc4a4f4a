"""JSON text that can always be written as UTF-8, lone surrogates included.

A server's JSON may carry an escaped lone surrogate (``"\\ud83d"``); Python
keeps it in the ``str``, and ``json.dumps(..., ensure_ascii=False)`` then
writes it raw, which no UTF-8 file or terminal accepts (the write fails and
the row is lost). ``dumps`` writes what ``JSON.stringify`` writes in Node:
readable non-ASCII text, and a lone surrogate as its ``\\uXXXX`` escape.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A surrogate not part of a pair (a valid pair cannot occur in a Python str
# decoded from UTF-8; one written as two code points is kept as two escapes).
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` (JSON) with every surrogate code point as a ``\\uXXXX`` escape."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, safe to write as UTF-8."""
    return escape_surrogates(json.dumps(value, ensure_ascii=False, **options))


__all__ = ["dumps", "escape_surrogates"]
