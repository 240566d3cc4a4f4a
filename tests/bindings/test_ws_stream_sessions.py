"""Concurrent streamed WebSocket calls through the public API: each call's JavaScript
accumulator (a live value between frames) stays its own, in every binding."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import trio
from promptwire.api import AsyncTarget, Target

# The accumulator holds a Map and a function between frames: live JavaScript values.
STREAM = """(acc, ev) => {
  const m = JSON.parse(ev.data);
  if (!(acc.parts instanceof Map)) acc = { parts: new Map(), join: (p) => [...p.values()].join('') };
  if (m.type === 'chunk') {
    acc.parts.set(acc.parts.size, m.content);
    acc.output = acc.join(acc.parts);
    return [acc, false];
  }
  if (m.type === 'done') return [{ output: acc.join(acc.parts) }, true];
  return [acc, false];
}"""
PROMPTS = [f"prompt number {i}" for i in range(12)]


def config(mock: Any) -> dict[str, Any]:
    return {"id": mock.ws_url + "/ws/stream?interval_ms=2",
            "config": {"messageTemplate": '{"prompt": {{ prompt | dump }}}', "streamResponse": STREAM,
                       "timeoutMs": 10000}}


def test_asyncio_calls_in_flight_together(mock: Any) -> None:
    target = AsyncTarget.from_config(config(mock))

    async def main() -> list[Any]:
        try:
            return list(await asyncio.gather(*(target.call(p) for p in PROMPTS)))
        finally:
            await target.aclose()

    assert [r.output for r in asyncio.run(main())] == [f"Echo: {p}" for p in PROMPTS]


def test_trio_calls_in_flight_together(mock: Any) -> None:
    target = AsyncTarget.from_config(config(mock))
    outputs: dict[str, Any] = {}

    async def one(prompt: str) -> None:
        outputs[prompt] = (await target.call(prompt)).output

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for p in PROMPTS:
                nursery.start_soon(one, p)
        await target.aclose()

    trio.run(main)
    assert outputs == {p: f"Echo: {p}" for p in PROMPTS}


def test_sync_calls_from_several_threads_and_streamed_deltas(mock: Any) -> None:
    target = Target.from_config(config(mock))
    outputs: dict[str, Any] = {}
    deltas: dict[str, str] = {}

    def worker(prompts: list[str]) -> None:
        for p in prompts:
            if len(p) % 2:
                outputs[p] = target.call(p).output
            else:
                parts = list(target.stream(p))
                deltas[p] = "".join(d for d in parts if isinstance(d, str))
                outputs[p] = parts[-1].output

    threads = [threading.Thread(target=worker, args=(PROMPTS[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target.close()
    assert outputs == {p: f"Echo: {p}" for p in PROMPTS}
    assert deltas == {p: f"Echo: {p}" for p in PROMPTS if len(p) % 2 == 0}
