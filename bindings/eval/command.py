"""``promptwire eval -c CONFIG``: promptfoo's eval for HTTP and WebSocket targets.

Exit codes: 0 every test passed; 100 a test failed (promptfoo's code); 1 a row
errored (the target failed or raised); 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from sansio_core.errors import ConfigError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 100


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value:g}")
    return value


def add_parser(sub: Any) -> None:
    e = sub.add_parser(
        "eval", help="run a promptfoo config's prompts x tests x providers and grade the answers",
        description="Run every prompt with every test's vars against every HTTP/WebSocket provider of a "
                    "promptfoo config, grade the answers with the tests' assertions, and write the results.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  promptwire eval -c promptfooconfig.yaml -o results.jsonl -o report.html\n"
               "  promptwire eval -c promptfooconfig.yaml -o results.jsonl --resume results.jsonl -j 50\n\n"
               "exit status: 0 all tests passed, 100 a test failed, 1 a row errored, 2 usage or "
               "configuration error (docs/eval.md).")
    e.add_argument("-c", "--config", required=True, metavar="FILE", help="the promptfoo config (YAML or JSON)")
    e.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                   help="write results; format by extension: .jsonl (appended per row), .json, .csv, .html "
                        "(repeatable)")
    e.add_argument("-j", "--max-concurrency", type=_positive, default=4, metavar="N",
                   help="rows in flight at once (default 4, as promptfoo)")
    e.add_argument("--repeat", type=_positive, default=1, metavar="N", help="run every test N times")
    e.add_argument("--delay", type=_non_negative, default=0.0, metavar="MS",
                   help="pause after each row, per concurrent worker (ms)")
    e.add_argument("--filter-pattern", metavar="RE", help="only tests whose description matches RE")
    e.add_argument("--filter-first-n", type=_positive, metavar="N", help="only the first N tests")
    e.add_argument("--filter-providers", metavar="RE", help="only providers whose id or label matches RE")
    e.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    e.add_argument("--resume", metavar="FILE",
                   help="a JSONL results file of an earlier run: run only the rows missing from it and "
                        "append them to it")
    e.add_argument("--binding", choices=("asyncio", "trio"), default="asyncio",
                   help="event loop library (default asyncio)")
    e.add_argument("--workers", type=_positive, default=1, metavar="N",
                   help="spread rows over N processes (one event loop each) and merge their results")


def cmd_eval(args: argparse.Namespace) -> int:
    from .config import load_plan
    from .outputs import JsonlSink, check_outputs, read_resume, status, write_final
    from .report import Progress, summary_table
    from .runner import RowRunner, RunOptions, WorkerFailed, layout, row_key, run_in_workers, run_specs

    outputs: list[str] = list(args.output)
    check_outputs(outputs)
    if args.resume and not args.resume.lower().endswith(".jsonl"):
        raise ConfigError(f"--resume {args.resume}: expected a .jsonl results file")
    plan = load_plan(args.config)
    opts = RunOptions(args.max_concurrency, args.repeat, args.delay, args.filter_pattern, args.filter_first_n,
                      args.filter_providers, args.binding)
    specs = layout(plan, opts)
    runner = RowRunner(plan)  # builds every target and compiles every assertion: config errors exit 2 here

    previous = read_resume(args.resume) if args.resume else []
    done = {row_key(r["promptIdx"], r["testIdx"], r.get("provider") or {}) for r in previous}
    wanted = {row_key(s.prompt_idx, s.test_idx, plan.providers[s.provider_idx]) for s in specs}
    previous = [r for r in previous if row_key(r["promptIdx"], r["testIdx"], r.get("provider") or {}) in wanted]
    todo = [i for i, s in enumerate(specs)
            if row_key(s.prompt_idx, s.test_idx, plan.providers[s.provider_idx]) not in done]

    jsonl_paths = [p for p in outputs if p.lower().endswith(".jsonl")]
    sinks = []
    resume_real = os.path.realpath(args.resume) if args.resume else None
    for p in jsonl_paths:
        if os.path.realpath(p) != resume_real:
            open(p, "w").close()  # a fresh run starts its JSONL empty
    if args.resume:
        sinks.append(JsonlSink(args.resume))
    sinks += [JsonlSink(p) for p in jsonl_paths if os.path.realpath(p) != resume_real]

    show = not args.no_progress and sys.stderr.isatty()
    progress = Progress(len(specs), len(specs) - len(todo), show)
    for r in previous:
        progress.tally.add(r)
    rows: list[dict[str, Any]] = list(previous)

    def on_row(row: dict[str, Any]) -> None:
        for sink in sinks:
            sink.write(row)
        rows.append(row)
        progress.advance(row)

    t0 = time.perf_counter()
    interrupted = False
    try:
        if args.workers > 1 and len(todo) > 1:
            run_in_workers(args.config, opts, todo, args.workers, on_row)
        else:
            run_specs(runner, [specs[i] for i in todo], opts, on_row)
    except KeyboardInterrupt:
        interrupted = True
    except WorkerFailed as exc:
        progress.stop()
        print(f"promptwire: a worker process failed: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    finally:
        progress.stop()
        for sink in sinks:
            sink.close()
    elapsed = time.perf_counter() - t0
    prompts = [{"raw": p.raw, "label": p.label} for p in plan.prompts]
    write_final([p for p in outputs if not p.lower().endswith(".jsonl")], rows, args.config, prompts)

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(summary_table(rows))
    statuses = [status(r) for r in rows]
    skipped = sum(int((r.get("gradingResult") or {}).get("skipped", 0)) for r in rows)
    ran = len(rows) - len(previous)
    line = (f"{len(rows)} rows: [green]{statuses.count('pass')} passed[/], [red]{statuses.count('fail')} failed[/], "
            f"[yellow]{statuses.count('error')} errors[/]")
    if skipped:
        line += f", {skipped} model-graded assertions skipped"
    line += f" — ran {ran} in {elapsed:.2f} s ({ran / elapsed if elapsed > 0 else 0:.0f} rows/s)"
    if previous:
        line += f", {len(previous)} resumed"
    console.print(line, highlight=False, soft_wrap=True)
    for p in outputs:
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)
    if interrupted:
        console.print(f"interrupted: {len(specs) - len(rows)} rows not run (--resume to finish)", highlight=False)
        return 130
    if "error" in statuses:
        return EXIT_ERRORS
    if "fail" in statuses:
        return EXIT_FAILED
    return EXIT_OK


__all__ = ["add_parser", "cmd_eval"]
