"""Stream a 2,000-event SSE body and accumulate its text.

    python tests/bench/bench_sse.py [--streams N] [--events 2000]

promptwire (asyncio, trio, sync bindings: ``.stream()``, joining the str
deltas) against httpx + httpx-sse (``aconnect_sse`` / ``connect_sse``,
joining ``choices[0].delta.content`` of each event up to ``[DONE]``), one
stream at a time on a keep-alive connection, in one run. The server is the
pre-built-response server (``_server.py``, mode ``sse:N``) on the other core.
Reports ms per stream, client CPU ms per stream, and both as ratios to
httpx + httpx-sse (asyncio for the async bindings, sync for the sync one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    from bindings.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        for _ in range(n):
            parts = [d async for d in target.stream(PROMPT) if isinstance(d, str)]
            assert "".join(parts) == expect
        await target.aclose()

    return measure("promptwire asyncio", 1, n, lambda: asyncio.run(main()))


def bench_pw_trio(port: int, n: int, expect: str) -> Result:
    import trio

    from bindings.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        for _ in range(n):
            parts = [d async for d in target.stream(PROMPT) if isinstance(d, str)]
            assert "".join(parts) == expect
        await target.aclose()

    return measure("promptwire trio", 1, n, lambda: trio.run(main))


def bench_pw_sync(port: int, n: int, expect: str) -> Result:
    from bindings.api import Target

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


def report(results: list[tuple[Result, str]]) -> str:
    by_name = {r.name: r for r, _ in results}
    lines = [f"{'client':<22}{'ms/stream':>11}{'cpu ms/stream':>15}{'vs':>22}{'time ×':>8}{'cpu ×':>8}"]
    for r, base_name in results:
        base = by_name.get(base_name, r)
        ms, cpu = r.wall_s / r.requests * 1e3, r.cpu_s / r.requests * 1e3
        base_ms, base_cpu = base.wall_s / base.requests * 1e3, base.cpu_s / base.requests * 1e3
        lines.append(f"{r.name:<22}{ms:>11.2f}{cpu:>15.2f}{base_name:>22}{ms / base_ms:>8.2f}{cpu / base_cpu:>8.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=200, help="streams per client (default 200)")
    ap.add_argument("--events", type=int, default=2000, help="events per stream (default 2000)")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    args = ap.parse_args()
    pin_client()
    expect = expected_text(args.events)
    results: list[tuple[Result, str]] = []
    with prebuilt_server(f"sse:{args.events}") as port:
        for name in args.clients.split(","):
            run, baseline = CLIENTS[name]
            run(port, max(1, args.streams // 10), expect)  # warm-up
            results.append((run(port, args.streams, expect), baseline))
    print(f"{args.events} SSE events per stream, {args.streams} streams per client, one at a time")
    print(report(results))


if __name__ == "__main__":
    main()
