"""Stream a 2,000-event SSE body and accumulate its text.

    python tests/bench/bench_sse.py [--streams N] [--events 2000]

promptwire (asyncio, trio, sync bindings: ``.stream()``, joining the str
deltas) against httpx + httpx-sse (``aconnect_sse`` / ``connect_sse``,
joining ``choices[0].delta.content`` of each event up to ``[DONE]``), one
stream at a time on a keep-alive connection, in one run. The server is the
pre-built-response server (``_server.py``, mode ``sse:N``) on the other core.
Reports ms per stream (best and median of interleaved rounds), client CPU ms
per stream, and both as ratios to httpx + httpx-sse (asyncio for the async
bindings, sync for the sync one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections.abc import Callable

from _harness import Result, measure, pin_client, prebuilt_server

PROMPT = "Tell me a long story."
BODY = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
HEADERS = {"Content-Type": "application/json"}


def expected_text(events: int) -> str:
    return "".join(f"tok{i} " for i in range(events))


def promptwire_config(port: int) -> dict[str, object]:
    return {
        "id": f"http://127.0.0.1:{port}/v1/chat/completions",
        "config": {
            "method": "POST",
            "headers": HEADERS,
            "body": {"model": "bench", "stream": True,
                     "messages": [{"role": "user", "content": "{{prompt}}"}]},
        },
    }


def _content(data: str) -> str:
    choices = json.loads(data).get("choices") or [{}]
    return choices[0].get("delta", {}).get("content") or ""


def bench_httpx_async(port: int, n: int, expect: str) -> Result:
    import httpx
    from httpx_sse import aconnect_sse

    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(n):
                parts: list[str] = []
                async with aconnect_sse(client, "POST", url, json=BODY, headers=HEADERS) as source:
                    async for sse in source.aiter_sse():
                        if sse.data == "[DONE]":
                            break
                        parts.append(_content(sse.data))
                assert "".join(parts) == expect

    return measure("httpx-sse (asyncio)", 1, n, lambda: asyncio.run(main()))


def bench_httpx_sync(port: int, n: int, expect: str) -> Result:
    import httpx
    from httpx_sse import connect_sse

    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    def run() -> None:
        with httpx.Client() as client:
            for _ in range(n):
                parts: list[str] = []
                with connect_sse(client, "POST", url, json=BODY, headers=HEADERS) as source:
                    for sse in source.iter_sse():
                        if sse.data == "[DONE]":
                            break
                        parts.append(_content(sse.data))
                assert "".join(parts) == expect

    return measure("httpx-sse (sync)", 1, n, run)


def bench_pw_asyncio(port: int, n: int, expect: str) -> Result:
    from promptwire.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        for _ in range(n):
            parts = [d async for d in target.stream(PROMPT) if isinstance(d, str)]
            assert "".join(parts) == expect
        await target.aclose()

    return measure("promptwire asyncio", 1, n, lambda: asyncio.run(main()))


def bench_pw_trio(port: int, n: int, expect: str) -> Result:
    import trio
    from promptwire.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        for _ in range(n):
            parts = [d async for d in target.stream(PROMPT) if isinstance(d, str)]
            assert "".join(parts) == expect
        await target.aclose()

    return measure("promptwire trio", 1, n, lambda: trio.run(main))


def bench_pw_sync(port: int, n: int, expect: str) -> Result:
    from promptwire.api import Target

    target = Target.from_config(promptwire_config(port))

    def run() -> None:
        for _ in range(n):
            parts = [d for d in target.stream(PROMPT) if isinstance(d, str)]
            assert "".join(parts) == expect

    result = measure("promptwire sync", 1, n, run)
    target.close()
    return result


# name -> (runner, the baseline it is compared with)
CLIENTS: dict[str, tuple[Callable[[int, int, str], Result], str]] = {
    "httpx-async": (bench_httpx_async, "httpx-sse (asyncio)"),
    "httpx-sync": (bench_httpx_sync, "httpx-sse (sync)"),
    "asyncio": (bench_pw_asyncio, "httpx-sse (asyncio)"),
    "trio": (bench_pw_trio, "httpx-sse (asyncio)"),
    "sync": (bench_pw_sync, "httpx-sse (sync)"),
}


def report(results: dict[str, list[Result]], baselines: dict[str, str]) -> str:
    """Best round per client (the least disturbed by other load), and the median round."""
    def per_stream(r: Result) -> tuple[float, float]:
        return r.wall_s / r.requests * 1e3, r.cpu_s / r.requests * 1e3

    best = {name: min((per_stream(r) for r in rounds), key=lambda t: t[0]) for name, rounds in results.items()}
    median = {name: statistics.median(per_stream(r)[0] for r in rounds) for name, rounds in results.items()}
    lines = [f"{'client':<22}{'ms/stream':>11}{'median':>9}{'cpu ms':>8}{'vs':>22}{'time/base':>11}{'cpu/base':>10}"]
    for name, (ms, cpu) in best.items():
        base_name = baselines[name]
        base_ms, base_cpu = best.get(base_name, (ms, cpu))
        lines.append(f"{name:<22}{ms:>11.2f}{median[name]:>9.2f}{cpu:>8.2f}{base_name:>22}"
                     f"{ms / base_ms:>11.2f}{cpu / base_cpu:>10.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=200, help="streams per client (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds the streams are split into")
    ap.add_argument("--events", type=int, default=2000, help="events per stream (default 2000)")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    args = ap.parse_args()
    pin_client()
    expect = expected_text(args.events)
    names = args.clients.split(",")
    per_round = max(1, args.streams // args.rounds)
    results: dict[str, list[Result]] = {}
    baselines: dict[str, str] = {}
    with prebuilt_server(f"sse:{args.events}") as port:
        for name in names:
            CLIENTS[name][0](port, max(1, per_round // 4), expect)  # warm-up
        # Rounds interleave the clients, so a burst of load from elsewhere on
        # the machine hits all of them rather than one.
        for _ in range(args.rounds):
            for name in names:
                run, baseline = CLIENTS[name]
                result = run(port, per_round, expect)
                results.setdefault(result.name, []).append(result)
                baselines[result.name] = baseline
    print(f"{args.events} SSE events per stream; {args.rounds} rounds of {per_round} streams per client, "
          "one stream at a time on a keep-alive connection")
    print("ms/stream and cpu ms: the best round; time/base and cpu/base: against the named baseline's best round")
    print(report(results, baselines))


if __name__ == "__main__":
    main()
