"""``promptwire bench``: load-test one target, closed loop (-j C) or open loop (--rate R).

Closed loop keeps C requests in flight; open loop starts R requests a second
on a fixed schedule and measures each latency from its *intended* start, so
a slow server cannot hide its queueing (no coordinated omission). The report
is oha/k6-like; ``--json`` prints one object: ``requests``, ``errors``,
``rps``, ``latency_ms`` {min, p50, p90, p99, max} and, for streamed answers,
``ttft_ms`` (time to first token) with the same keys.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sansio_core.errors import ConfigError, PromptwireError

from . import workpool
from .eval.report import percentile


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)  # ms, successful requests
    ttfts: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    elapsed: float = 0.0

    def merge(self, other: Samples) -> None:
        self.latencies += other.latencies
        self.ttfts += other.ttfts
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.requests += other.requests
        self.elapsed = max(self.elapsed, other.elapsed)


@dataclass(frozen=True)
class BenchOptions:
    config: str
    provider: str | None
    requests: int | None
    duration: float | None
    concurrency: int
    rate: float | None
    prompts: tuple[str, ...]
    binding: str
    timeout_ms: float | None
    workers: int = 1  # processes sharing the target's rate limit


def add_parser(sub: Any) -> None:
    from .eval.command import _positive

    def positive_float(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not v > 0 or math.isinf(v):
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        return v

    b = sub.add_parser(
        "bench", help="load-test a target: closed loop (-j) or open loop (--rate)",
        description="Send many requests to one provider of a config and report throughput, errors, "
                    "latency percentiles, time to first token and a latency histogram.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  promptwire bench -c promptfooconfig.yaml -n 2000 -j 50\n"
               "  promptwire bench -c promptfooconfig.yaml --duration 30 --rate 200 --json\n\n"
               "exit status: 0 done (even with errors: they are in the report), 2 usage or configuration "
               "error (docs/bench.md).")
    b.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML or JSON config with the target")
    b.add_argument("--provider", metavar="ID_OR_LABEL", help="which provider, when the file holds several")
    how_long = b.add_mutually_exclusive_group(required=True)
    how_long.add_argument("-n", "--requests", type=_positive, metavar="N", help="send N requests")
    how_long.add_argument("--duration", type=positive_float, metavar="S", help="send for S seconds")
    load = b.add_mutually_exclusive_group()
    load.add_argument("-j", "--concurrency", type=_positive, default=10, metavar="C",
                      help="closed loop: C requests in flight (default 10)")
    load.add_argument("--rate", type=positive_float, metavar="R",
                      help="open loop: start R requests per second, latency from the intended start")
    what = b.add_mutually_exclusive_group()
    what.add_argument("--prompt", metavar="TEXT", help="the prompt (default: the config's first prompt, or Hello)")
    what.add_argument("--prompts", metavar="FILE", help="prompts, one per line, used round robin")
    b.add_argument("--workers", type=_positive, default=1, metavar="N",
                   help="spread the load over N processes and merge their measurements")
    b.add_argument("--binding", choices=("asyncio", "trio"), default="asyncio", help="event loop library")
    b.add_argument("--timeout-ms", type=float, metavar="MS", help="override the request timeout")
    b.add_argument("--no-progress", action="store_true", help="no live progress (it only shows on a terminal)")
    b.add_argument("--json", action="store_true", help="print one JSON object instead of the report")


def _prompts(args: argparse.Namespace) -> tuple[str, ...]:
    if args.prompt is not None:
        return (args.prompt,)
    if args.prompts:
        try:
            lines = [ln for ln in Path(args.prompts).read_text(encoding="utf-8").splitlines() if ln.strip()]
        except OSError as exc:
            raise ConfigError(f"cannot read --prompts {args.prompts}: {exc.strerror or exc}") from None
        if not lines:
            raise ConfigError(f"--prompts {args.prompts} holds no prompt")
        return tuple(lines)
    from .loader import read_document

    doc = read_document(args.config)
    prompts = doc.get("prompts") if isinstance(doc, dict) else None
    if isinstance(prompts, list) and prompts and isinstance(prompts[0], str) and not prompts[0].startswith("file://"):
        return (prompts[0],)
    if isinstance(prompts, str) and not prompts.startswith("file://"):
        return (prompts,)
    return ("Hello",)


def _error_kind(outcome: Any) -> str:
    if isinstance(outcome, PromptwireError):
        status = getattr(outcome, "status", None)
        if isinstance(status, int):
            return f"HTTP {status}"
        kind = getattr(outcome, "kind", None)
        name = type(outcome).__name__
        return f"{name} ({kind.value if hasattr(kind, 'value') else kind})" if kind else name
    http = outcome.metadata.get("http") if isinstance(outcome.metadata, dict) else None
    if isinstance(http, dict) and isinstance(http.get("status"), int) and http["status"] >= 400:
        return f"HTTP {http['status']}"
    text = str(outcome.get("error"))
    return "response error: " + (text if len(text) <= 60 else text[:57] + "...")


def run_bench(opts: BenchOptions, on_done: Any = None) -> Samples:
    """Run the load in this process on a fresh event loop."""
    from .api import AsyncTarget

    target = AsyncTarget.from_file(opts.config, provider=opts.provider)
    target.share_rate_limit(opts.workers)
    samples = Samples()
    counter = iter(range(sys.maxsize))

    async def one(intended: float | None) -> None:
        i = next(counter)
        start = time.perf_counter()
        origin = intended if intended is not None else start
        try:
            outcome: Any = await target.call(opts.prompts[i % len(opts.prompts)], timeout_ms=opts.timeout_ms)
        except PromptwireError as exc:
            outcome = exc
        end = time.perf_counter()
        samples.requests += 1
        if isinstance(outcome, PromptwireError) or outcome.get("error") not in (None, ""):
            kind = _error_kind(outcome)
            samples.errors[kind] = samples.errors.get(kind, 0) + 1
        else:
            samples.latencies.append((end - origin) * 1000)
            timing = getattr(outcome, "timing", None) or {}
            first = timing.get("firstTokenMs")
            if isinstance(first, (int, float)):
                samples.ttfts.append(first + (start - origin) * 1000)
        if on_done is not None:
            on_done()

    async def main() -> None:
        t0 = time.perf_counter()
        try:
            if opts.rate is not None:
                await workpool.open_loop(opts.requests, opts.duration, opts.rate, one)
            else:
                deadline = None if opts.duration is None else t0 + opts.duration

                def jobs() -> Any:
                    n = 0
                    while (opts.requests is None or n < opts.requests) and (
                            deadline is None or time.perf_counter() < deadline):
                        n += 1
                        yield None

                await workpool.closed_loop(jobs(), opts.concurrency, one)
        finally:
            samples.elapsed = time.perf_counter() - t0
            await target.aclose()

    workpool.run(main, opts.binding)
    return samples


def _worker(opts: BenchOptions, queue: Any) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        queue.put(("ok", run_bench(opts)))
    except BaseException as exc:
        queue.put(("fatal", f"{type(exc).__name__}: {exc}"))


def _split(opts: BenchOptions, workers: int, w: int) -> BenchOptions:
    from dataclasses import replace

    reqs = None if opts.requests is None else opts.requests // workers + (1 if w < opts.requests % workers else 0)
    return replace(opts, requests=reqs, concurrency=max(1, -(-opts.concurrency // workers)),
                   rate=None if opts.rate is None else opts.rate / workers, workers=workers)


def run_workers(opts: BenchOptions, workers: int) -> Samples:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    shares = [_split(opts, workers, w) for w in range(workers)]
    procs = [ctx.Process(target=_worker, args=(s, queue), daemon=True) for s in shares
             if s.requests is None or s.requests > 0]
    for p in procs:
        p.start()
    total = Samples()
    try:
        for _ in procs:
            kind, payload = queue.get()
            if kind != "ok":
                raise ConfigError(f"a bench worker failed: {payload}")
            total.merge(payload)
    finally:
        for p in procs:
            p.join(timeout=5)
    return total


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values, default=0.0), 3), "p50": round(percentile(values, 50), 3),
            "p90": round(percentile(values, 90), 3), "p99": round(percentile(values, 99), 3),
            "max": round(max(values, default=0.0), 3)}


def document(s: Samples) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "requests": s.requests,
        "errors": sum(s.errors.values()),
        "rps": round(s.requests / s.elapsed, 3) if s.elapsed > 0 else 0.0,
        "latency_ms": _stats(s.latencies),
    }
    if s.ttfts:
        doc["ttft_ms"] = _stats(s.ttfts)
    return doc


def histogram(values: list[float], buckets: int = 10, width: int = 40) -> list[tuple[float, int, str]]:
    """(upper bound ms, count, bar) per bucket, linear between min and max."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    step = (hi - lo) / buckets or 1.0
    counts = [0] * buckets
    for v in values:
        counts[min(buckets - 1, int((v - lo) / step))] += 1
    top = max(counts)
    return [(lo + step * (i + 1), c, "■" * max(1 if c else 0, round(c / top * width))) for i, c in enumerate(counts)]


def print_report(s: Samples, opts: BenchOptions, out: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False)
    doc = document(s)
    ok = s.requests - doc["errors"]
    mode = f"open loop at {opts.rate:g} req/s" if opts.rate is not None else f"closed loop at -j {opts.concurrency}"
    console.print(f"[bold]Summary[/] ({mode})")
    console.print(f"  Success rate:  {ok / s.requests * 100 if s.requests else 0:.2f}%")
    console.print(f"  Requests:      {s.requests} ({ok} ok, {doc['errors']} errors)")
    console.print(f"  Total:         {s.elapsed:.4f} s")
    console.print(f"  Requests/sec:  {doc['rps']:.2f}")
    lat = doc["latency_ms"]
    if s.latencies:
        console.print(f"  Fastest:       {lat['min']:.2f} ms")
        console.print(f"  Slowest:       {lat['max']:.2f} ms")
        console.print(f"  Average:       {sum(s.latencies) / len(s.latencies):.2f} ms")
    table = Table("", "min", "p50", "p90", "p99", "max", title="Latency (ms)", title_justify="left")
    table.add_row("latency", *(f"{lat[k]:.2f}" for k in ("min", "p50", "p90", "p99", "max")))
    if "ttft_ms" in doc:
        t = doc["ttft_ms"]
        table.add_row("time to first token", *(f"{t[k]:.2f}" for k in ("min", "p50", "p90", "p99", "max")))
    console.print(table)
    rows = histogram(s.latencies)
    if rows:
        console.print("[bold]Response time histogram[/] (ms)")
        for bound, count, bar in rows:
            console.print(f"  {bound:10.3f} [{count:>7}] |{bar}")
    if s.errors:
        console.print("[bold]Errors[/]")
        for kind, count in sorted(s.errors.items(), key=lambda kv: -kv[1]):
            console.print(f"  [{count:>7}] {kind}")


def cmd_bench(args: argparse.Namespace) -> int:
    from .api import AsyncTarget

    opts = BenchOptions(args.config, args.provider, args.requests, args.duration, args.concurrency, args.rate,
                        _prompts(args), args.binding, args.timeout_ms)
    AsyncTarget.from_file(args.config, provider=args.provider)  # validate before any load: exit 2 on a bad config
    show = not args.no_progress and sys.stderr.isatty() and args.workers == 1
    bar: Any = None
    on_done = None
    if show:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("[bold]bench"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=True)
        task = bar.add_task("bench", total=args.requests)
        bar.start()

        def on_done() -> None:
            bar.update(task, advance=1)
    try:
        samples = run_workers(opts, args.workers) if args.workers > 1 else run_bench(opts, on_done)
    finally:
        if bar is not None:
            bar.stop()
    if args.json:
        sys.stdout.write(json.dumps(document(samples)) + "\n")
    else:
        print_report(samples, opts)
    return 0


__all__ = ["Samples", "add_parser", "cmd_bench", "document", "histogram", "run_bench"]
