"""JSON text that can always be written as UTF-8, lone surrogates included.

A server's JSON may carry an escaped lone surrogate (``"\\ud83d"``); Python
keeps it in the ``str``, and ``json.dumps(..., ensure_ascii=False)`` then
writes it raw, which no UTF-8 file or terminal accepts (the write fails and
the row is lost). ``dumps`` writes what ``JSON.stringify`` writes in Node:
readable non-ASCII text, and a lone surrogate as its ``\\uXXXX`` escape.
"""

from __future__ import annotations

import json
from typing import Any

from sansio_core.js.jsvalue import escape_surrogates


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, safe to write as UTF-8."""
    return escape_surrogates(json.dumps(value, ensure_ascii=False, **options))


__all__ = ["dumps"]
