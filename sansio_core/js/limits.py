"""The limits one target's JavaScript runs under (defaults live in ``sansio_core.limits``)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import limits as _L


@dataclass(frozen=True, slots=True)
class JsLimits:
    """Per-target overrides; every evaluation (one call, one module load) is checked.

    ``time_s`` is CPU time per evaluation, ``memory`` the whole context's heap,
    ``stack`` the native stack QuickJS may use.
    """

    memory: int = _L.JS_MEMORY_LIMIT
    time_s: float = _L.JS_TIME_LIMIT_S
    stack: int = _L.JS_STACK_LIMIT
    max_pending_jobs: int = _L.JS_MAX_PENDING_JOBS
    debug_log_lines: int = _L.JS_DEBUG_LOG_LINES
    debug_log_line_chars: int = _L.JS_DEBUG_LOG_LINE_CHARS
    max_contexts: int = _L.JS_MAX_CONTEXTS


__all__ = ["JsLimits"]
