"""Running an eval plan: one row per (prompt, test, provider), graded, handed to a sink.

The rows to run are laid out deterministically from the plan and the
filters (so ``--resume`` and ``--workers`` processes agree on them); each is
rendered with its vars (the core's Nunjucks sandbox), sent through an
``AsyncTarget`` per provider, graded, and passed to ``on_row`` as soon as it
is finished.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sansio_core.errors import ConfigError, PromptwireError
from sansio_core.templating import TemplateEngine

from .. import workpool
from ..api import AsyncTarget
from ..building import build_core_target
from .assertions import Grader
from .config import EvalPlan, TestCase, load_plan


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 4
    repeat: int = 1
    delay_ms: float = 0.0
    filter_pattern: str | None = None
    filter_first_n: int | None = None
    filter_providers: str | None = None
    binding: str = "asyncio"
    workers: int = 1  # processes sharing each target's rate limit


@dataclass(frozen=True, slots=True)
class RowSpec:
    prompt_idx: int
    test_idx: int
    provider_idx: int
    test: TestCase


def row_key(prompt_idx: int, test_idx: int, provider: Any) -> tuple[Any, ...]:
    if isinstance(provider, dict):
        return (prompt_idx, test_idx, provider.get("id"), provider.get("label"))
    return (prompt_idx, test_idx, provider.id, provider.label)


def _compile(pattern: str | None, flag: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{flag}: invalid regular expression: {exc}") from None


def layout(plan: EvalPlan, opts: RunOptions) -> list[RowSpec]:
    """Every row of the run, in promptfoo's order (test, then prompt, then provider)."""
    pattern = _compile(opts.filter_pattern, "--filter-pattern")
    providers_re = _compile(opts.filter_providers, "--filter-providers")
    tests = list(enumerate(plan.tests))
    if pattern is not None:
        tests = [(i, t) for i, t in tests if t.description is not None and pattern.search(t.description)]
    if opts.filter_first_n is not None:
        tests = tests[: opts.filter_first_n]
    providers = [i for i, p in enumerate(plan.providers)
                 if providers_re is None or providers_re.search(p.id) or providers_re.search(p.label)]
    if providers_re is not None and not providers:
        raise ConfigError(f"--filter-providers {opts.filter_providers!r} matches no provider")
    n_tests = len(plan.tests)
    specs = []
    for r in range(max(1, opts.repeat)):
        for i, test in tests:
            for p in range(len(plan.prompts)):
                for v in providers:
                    specs.append(RowSpec(p, r * n_tests + i, v, test))
    return specs


class RowRunner:
    """Builds the targets once and turns a ``RowSpec`` into a finished result row."""

    def __init__(self, plan: EvalPlan, env: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.env = dict(os.environ if env is None else env)
        self.templates = TemplateEngine.from_env(self.env)
        self.grader = Grader(plan.base_dir, self.env)
        self.targets = [AsyncTarget(build_core_target(p.entry, plan.base_dir, self.env))
                        for p in plan.providers]
        for prompt in plan.prompts:
            self.templates.check_syntax(prompt.raw)
        seen: set[int] = set()
        for test in plan.tests:
            if id(test.asserts) not in seen:
                seen.add(id(test.asserts))
                self.grader.prepare(test.asserts)

    async def run(self, spec: RowSpec) -> dict[str, Any]:
        plan = self.plan
        prompt = plan.prompts[spec.prompt_idx]
        provider = plan.providers[spec.provider_idx]
        test = spec.test
        row: dict[str, Any] = {
            "promptIdx": spec.prompt_idx, "testIdx": spec.test_idx,
            "provider": {"id": provider.id, "label": provider.label},
            "prompt": {"raw": prompt.raw, "label": prompt.label},
            "vars": test.vars, "testCase": test.as_json(),
            "response": None, "success": False, "score": 0, "namedScores": {},
            "gradingResult": None, "latencyMs": 0, "cost": 0, "error": None, "failureReason": 2,
            "metadata": test.metadata,
        }
        try:
            rendered = self.templates.render(prompt.raw, test.vars)
        except PromptwireError as exc:
            row["error"] = f"cannot render the prompt: {exc}"
            return row
        row["prompt"]["raw"] = rendered
        context = {"vars": test.vars, "prompt": {"raw": rendered, "label": prompt.label}}
        t0 = time.perf_counter()
        try:
            response = await self.targets[spec.provider_idx].call(rendered, test.vars, context)
        except PromptwireError as exc:
            row["latencyMs"] = round((time.perf_counter() - t0) * 1000)
            row["error"] = str(exc)
            return row
        latency = (time.perf_counter() - t0) * 1000
        reported = response.latency_ms
        row["latencyMs"] = round(reported if reported is not None else latency)
        row["response"] = dict(response)
        cost = response.get("cost")
        row["cost"] = cost if isinstance(cost, (int, float)) else 0
        if response.get("error") not in (None, ""):
            row["error"] = str(response["error"])
            return row
        output = response.get("output")
        grading = self.grader.grade(
            test.asserts, output, vars=test.vars, prompt=rendered, latency_ms=row["latencyMs"],
            cost=cost if isinstance(cost, (int, float)) else None, test_threshold=test.threshold,
            context={"prompt": rendered, "vars": test.vars, "test": test.as_json(),
                     "provider": {"id": provider.id, "label": provider.label}, "providerResponse": dict(response)},
        )
        row.update(success=grading["pass"], score=grading["score"], namedScores=grading["namedScores"],
                   gradingResult=grading, failureReason=0 if grading["pass"] else 1)
        return row

    async def aclose(self) -> None:
        for t in self.targets:
            await t.aclose()


def run_specs(runner: RowRunner, specs: Iterable[RowSpec], opts: RunOptions,
              on_row: Callable[[dict[str, Any]], None]) -> None:
    """Run ``specs`` on a fresh event loop at ``opts.concurrency``; ``on_row`` per finished row."""

    async def main() -> None:
        async def work(spec: RowSpec) -> None:
            on_row(await runner.run(spec))

        try:
            await workpool.closed_loop(iter(specs), opts.concurrency, work, delay_s=opts.delay_ms / 1000)
        finally:
            await runner.aclose()

    workpool.run(main, opts.binding)


# -- worker processes -------------------------------------------------------------------


def worker_main(config: str, opts: RunOptions, indices: list[int], queue: Any) -> None:
    """One ``--workers`` process: load the plan itself, run its share, send rows back."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        plan = load_plan(config)
        specs = layout(plan, opts)
        runner = RowRunner(plan)
        for target in runner.targets:
            target.share_rate_limit(opts.workers)
        batch: list[dict[str, Any]] = []
        last = time.perf_counter()

        def on_row(row: dict[str, Any]) -> None:
            nonlocal last
            batch.append(row)
            now = time.perf_counter()
            if len(batch) >= 64 or now - last > 0.05:
                queue.put(("rows", list(batch)))
                batch.clear()
                last = now

        run_specs(runner, [specs[i] for i in indices], opts, on_row)
        if batch:
            queue.put(("rows", batch))
        queue.put(("done", None))
    except PromptwireError as exc:
        queue.put(("fatal", str(exc)))
    except BaseException as exc:
        queue.put(("fatal", f"{type(exc).__name__}: {exc}"))


def run_in_workers(config: str, opts: RunOptions, indices: list[int], workers: int,
                   on_row: Callable[[dict[str, Any]], None]) -> None:
    """Spread ``indices`` over ``workers`` processes; rows reach ``on_row`` in this process."""
    import multiprocessing as mp
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    per = max(1, -(-opts.concurrency // workers))
    shares = [indices[w::workers] for w in range(workers)]
    wopts = RunOptions(per, opts.repeat, opts.delay_ms, opts.filter_pattern, opts.filter_first_n,
                       opts.filter_providers, opts.binding, workers=sum(1 for share in shares if share))
    procs = [ctx.Process(target=worker_main, args=(config, wopts, share, queue), daemon=True)
             for share in shares if share]
    for p in procs:
        p.start()
    running = len(procs)
    fatal: str | None = None
    clean = False
    try:
        while running:
            try:
                kind, payload = queue.get(timeout=0.5)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    try:
                        kind, payload = queue.get(timeout=0.5)
                    except queue_mod.Empty:
                        fatal = fatal or "a worker process died"
                        break
                else:
                    continue
            if kind == "rows":
                for row in payload:
                    on_row(row)
            elif kind == "done":
                running -= 1
            else:
                fatal = payload
                running -= 1
        clean = fatal is None
    finally:
        for p in procs:
            if p.is_alive() and not clean:  # a failure or Ctrl-C: stop the others now
                p.terminate()
            p.join(timeout=5)
    if fatal is not None:
        raise WorkerFailed(fatal)


class WorkerFailed(Exception):
    pass


__all__ = ["RowRunner", "RowSpec", "RunOptions", "WorkerFailed", "layout", "row_key", "run_in_workers",
           "run_specs"]
