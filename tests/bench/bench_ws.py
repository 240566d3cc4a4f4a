"""WebSocket calls with a streamed answer: one message out, 20 delta frames and a done frame back.

    python tests/bench/bench_ws.py [--calls N] [--rounds 3] [--concurrency 1,50] [--deltas 20]
    python tests/bench/bench_ws.py --section frames      # only the per-frame core cost

Two sections, in one run:

* ``frames``: what one frame costs in the core, without sockets: canned
  messages through the ``streamResponse`` loop with the same accumulating
  handler as JavaScript in a ``js.stream`` session (how promptwire runs it),
  as JavaScript with the accumulator, the event and the context sent as JSON
  every frame (``call_loop``, how it ran before), and as a Python callable.
  Median µs per frame.
* ``calls``: calls/s and client CPU µs per call, a new connection per call
  (as promptfoo's provider does). promptwire (asyncio, trio, sync bindings;
  ``Target.call`` with a JavaScript ``streamResponse`` that accumulates the
  deltas) against the ``websockets`` library (``websockets.asyncio.client``,
  and ``websockets.sync.client`` in threads) accumulating the same in Python.
  The ``[json frames]`` rows run promptwire's handler the old way, for the
  before/after comparison. The server (``_server.py``, mode ``ws:N``) writes
  pre-built frames from the other core. Rounds interleave the clients; the
  best round is reported (the least disturbed on a shared machine), with the
  median, and ratios to websockets (asyncio bindings to the asyncio client,
  the sync binding to the sync client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from _harness import Result, measure, pin_client, prebuilt_server

PROMPT = "Tell me a story."
STREAM_JS = """(acc, event) => {
  const m = JSON.parse(event.data);
  const previous = typeof acc.output === 'string' ? acc.output : '';
  if (m.type === 'done') return [{ output: previous }, true];
  return [{ output: previous + m.delta }, false];
}"""


def stream_py(acc: dict[str, Any], event: dict[str, Any], context: Any) -> list[Any]:
    m = json.loads(event["data"])
    previous = acc.get("output") if isinstance(acc.get("output"), str) else ""
    if m["type"] == "done":
        return [{"output": previous}, True]
    return [{"output": previous + m["delta"]}, False]


def expected_text(deltas: int) -> str:
    return "".join(f"tok{i} " for i in range(deltas))


def split(total: int, conc: int) -> list[int]:
    return [total // conc + (1 if i < total % conc else 0) for i in range(conc)]


# -- frames: the core alone ------------------------------------------------------------------

def bench_frames(deltas: int, rounds: int = 7, calls: int = 300) -> None:
    from sansio_core.sources import Sources
    from sansio_core.ws import stream_response
    from sansio_core.ws.flow import WsTarget
    from sansio_core.ws.wire import WsMessage

    frames = [WsMessage(b"", False, json.dumps({"type": "delta", "delta": f"tok{i} "})) for i in range(deltas)]
    frames.append(WsMessage(b"", False, '{"type":"done"}'))
    expect = expected_text(deltas)

    def runner(handler: Any, loop: Callable[..., Any]) -> Callable[[], None]:
        target = WsTarget.compile("ws://127.0.0.1:1/", {"messageTemplate": "{{prompt}}", "streamResponse": handler},
                                  Sources(), {})
        hook = target._stream
        assert hook is not None

        def one() -> None:
            flow = loop(hook, None, list(frames), {"vars": {}, "prompt": PROMPT})
            out = []
            try:
                action = next(flow)
                while True:
                    out.append(action.delta)
                    action = flow.send(None)
            except StopIteration as stop:
                assert stop.value["output"] == expect
            assert "".join(out) == expect
        return one

    cases = {
        "JavaScript, accumulator kept in QuickJS (session_loop)": runner(STREAM_JS, stream_response.session_loop),
        "JavaScript, JSON round trip per frame (call_loop, before)": runner(STREAM_JS, stream_response.call_loop),
        "Python callable (call_loop)": runner(stream_py, stream_response.call_loop),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - t0) / calls / len(frames) * 1e6)
    print(f"core, canned frames ({deltas} deltas + done per call, no sockets): µs per frame, median of {rounds}")
    for name, values in samples.items():
        print(f"  {name:<60}{statistics.median(values):7.2f}  (best {min(values):.2f})")


# -- calls: sockets ----------------------------------------------------------------------------

def promptwire_config(port: int) -> dict[str, object]:
    return {"id": f"ws://127.0.0.1:{port}/", "config": {"messageTemplate": "{{prompt}}", "streamResponse": STREAM_JS}}


@contextlib.contextmanager
def json_frames(enabled: bool) -> Iterator[None]:
    """Run JavaScript stream handlers the way they ran before ``js.stream`` (JSON per frame)."""
    if not enabled:
        yield
        return
    from sansio_core.ws import flow, stream_response

    flow.stream_loop = stream_response.call_loop  # type: ignore[assignment]
    try:
        yield
    finally:
        flow.stream_loop = stream_response.stream_loop  # type: ignore[assignment]


def bench_websockets_async(port: int, n: int, conc: int, expect: str) -> Result:
    from websockets.asyncio.client import connect

    uri = f"ws://127.0.0.1:{port}/"

    async def one() -> None:
        parts: list[str] = []
        async with connect(uri) as ws:
            await ws.send(PROMPT)
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "done":
                    break
                parts.append(m["delta"])
        assert "".join(parts) == expect

    async def main() -> None:
        async def worker(k: int) -> None:
            for _ in range(k):
                await one()
        await asyncio.gather(*(worker(k) for k in split(n, conc)))

    return measure("websockets (asyncio)", conc, n, lambda: asyncio.run(main()))


def threaded(n: int, conc: int, one: Callable[[], None]) -> Callable[[], None]:
    def worker(k: int) -> None:
        for _ in range(k):
            one()

    def run() -> None:
        threads = [threading.Thread(target=worker, args=(k,)) for k in split(n, conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return run


def bench_websockets_sync(port: int, n: int, conc: int, expect: str) -> Result:
    from websockets.sync.client import connect

    uri = f"ws://127.0.0.1:{port}/"

    def one() -> None:
        parts: list[str] = []
        with connect(uri) as ws:
            ws.send(PROMPT)
            while True:
                m = json.loads(ws.recv())
                if m["type"] == "done":
                    break
                parts.append(m["delta"])
        assert "".join(parts) == expect

    return measure("websockets (sync)", conc, n, threaded(n, conc, one))


def _pw_async(name: str, flavour: str, old: bool) -> Callable[[int, int, int, str], Result]:
    def bench(port: int, n: int, conc: int, expect: str) -> Result:
        from promptwire.api import AsyncTarget

        target = AsyncTarget.from_config(promptwire_config(port))

        async def worker(k: int) -> None:
            for _ in range(k):
                r = await target.call(PROMPT)
                assert r.output == expect, r

        async def main_asyncio() -> None:
            await asyncio.gather(*(worker(k) for k in split(n, conc)))
            await target.aclose()

        async def main_trio() -> None:
            import trio

            async with trio.open_nursery() as nursery:
                for k in split(n, conc):
                    nursery.start_soon(worker, k)
            await target.aclose()

        def run() -> None:
            if flavour == "trio":
                import trio

                trio.run(main_trio)
            else:
                asyncio.run(main_asyncio())

        with json_frames(old):
            return measure(name, conc, n, run)
    return bench


def _pw_sync(name: str, old: bool) -> Callable[[int, int, int, str], Result]:
    def bench(port: int, n: int, conc: int, expect: str) -> Result:
        from promptwire.api import Target

        target = Target.from_config(promptwire_config(port))

        def one() -> None:
            r = target.call(PROMPT)
            assert r.output == expect, r

        with json_frames(old):
            result = measure(name, conc, n, threaded(n, conc, one))
        target.close()
        return result
    return bench


# key -> (runner, the baseline it is compared with)
CLIENTS: dict[str, tuple[Callable[[int, int, int, str], Result], str]] = {
    "websockets-async": (bench_websockets_async, "websockets (asyncio)"),
    "websockets-sync": (bench_websockets_sync, "websockets (sync)"),
    "asyncio": (_pw_async("promptwire asyncio", "asyncio", False), "websockets (asyncio)"),
    "trio": (_pw_async("promptwire trio", "trio", False), "websockets (asyncio)"),
    "sync": (_pw_sync("promptwire sync", False), "websockets (sync)"),
    "asyncio-json": (_pw_async("promptwire asyncio [json frames]", "asyncio", True), "websockets (asyncio)"),
    "sync-json": (_pw_sync("promptwire sync [json frames]", True), "websockets (sync)"),
}


def report(results: dict[tuple[str, int], list[Result]], baselines: dict[str, str]) -> str:
    lines = [f"{'client':<34}{'conc':>5}{'calls/s':>9}{'median':>8}{'cpu µs/call':>12}"
             f"{'vs':>22}{'calls/s x':>10}{'cpu x':>7}"]
    best = {key: max(rounds, key=lambda r: r.rps) for key, rounds in results.items()}
    for conc in sorted({c for _, c in results}):
        for (name, c), r in best.items():
            if c != conc:
                continue
            base = best.get((baselines[name], conc), r)
            median = statistics.median(x.rps for x in results[(name, c)])
            lines.append(f"{name:<34}{conc:>5}{r.rps:>9.0f}{median:>8.0f}{r.cpu_us:>12.0f}"
                         f"{baselines[name]:>22}{r.rps / base.rps:>10.2f}{r.cpu_us / base.cpu_us:>7.2f}")
    return "\n".join(lines)


def bench_calls(args: argparse.Namespace) -> None:
    expect = expected_text(args.deltas)
    names = args.clients.split(",")
    per_round = max(1, args.calls // args.rounds)
    results: dict[tuple[str, int], list[Result]] = {}
    baselines: dict[str, str] = {}
    with prebuilt_server(f"ws:{args.deltas}") as port:
        for conc in [int(c) for c in args.concurrency.split(",")]:
            for name in names:
                CLIENTS[name][0](port, max(conc, per_round // 5), conc, expect)  # warm-up
            for _ in range(args.rounds):
                for name in names:
                    run, baseline = CLIENTS[name]
                    result = run(port, per_round, conc, expect)
                    results.setdefault((result.name, conc), []).append(result)
                    baselines[result.name] = baseline
    print(f"WebSocket calls: a new connection per call, one message out, {args.deltas} delta frames + done back; "
          f"{args.rounds} rounds of {per_round} calls per client and concurrency")
    print("calls/s and cpu: the best round; median: of the rounds; x: against the named baseline's best round")
    print(report(results, baselines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", choices=["all", "frames", "calls"], default="all")
    ap.add_argument("--calls", type=int, default=1500, help="calls per client and concurrency (all rounds)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", default="1,50")
    ap.add_argument("--deltas", type=int, default=20)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    args = ap.parse_args()
    pin_client()
    if args.section in ("all", "frames"):
        bench_frames(args.deltas)
    if args.section in ("all", "calls"):
        bench_calls(args)


if __name__ == "__main__":
    main()
