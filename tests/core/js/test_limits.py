"""JsLimits: the defaults, and each limit stopping hostile JavaScript with its own error."""

from __future__ import annotations

import pytest

from sansio_core import limits as L
from sansio_core.js import JsEngine, JsError, JsLimits
from sansio_core.js.source_forms import candidates


def run(src: str, limits: JsLimits) -> object:
    engine = JsEngine(limits=limits)
    fn, _ = engine.compile_first([(c.form, c.code) for c in candidates(src, ("json",))], "t")
    return engine.call(fn, {}).value


def test_defaults_come_from_sansio_core_limits() -> None:
    limits = JsLimits()
    assert (limits.memory, limits.time_s, limits.stack, limits.max_pending_jobs, limits.max_contexts) == (
        L.JS_MEMORY_LIMIT, L.JS_TIME_LIMIT_S, L.JS_STACK_LIMIT, L.JS_MAX_PENDING_JOBS, L.JS_MAX_CONTEXTS)


def test_time_limit() -> None:
    with pytest.raises(JsError, match=r"JavaScript ran longer than the time limit \(0.05 s of CPU\)") as info:
        run("(() => { while (true) {} })()", JsLimits(time_s=0.05))
    assert info.value.kind == "timeout"


def test_memory_limit() -> None:
    with pytest.raises(JsError, match=r"JavaScript exceeded the memory limit \(8 MiB\)") as info:
        # One allocation past the limit. (Many small ones that exhaust the heap can
        # crash the quickjs extension itself, a known defect noted in docs/transforms.md.)
        run("(() => 'x'.repeat(64 * 1024 * 1024).length)()", JsLimits(memory=8 * 1024 * 1024))
    assert info.value.kind == "memory"


def test_pending_job_limit() -> None:
    src = "(async () => { for (let i = 0; i < 1000; i++) await null; return 'late'; })()"
    with pytest.raises(JsError, match="promise did not settle within the job limit"):
        run(src, JsLimits(max_pending_jobs=10))
    assert run(src, JsLimits(max_pending_jobs=5000)) == "late"

