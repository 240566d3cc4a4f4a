"""Replay speed: calls answered from a cassette per second, and a recorded 5 s wait replayed.

    python tests/bench/bench_replay.py

Records a few calls against the mock server once (one of them a 429 with
``Retry-After: 5``, so its recording waits five seconds), then replays them
through ``Target.call`` / ``AsyncTarget.call`` / ``Target.stream`` with no
network and no clock. Numbers go to docs/replay.md.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from promptwire import AsyncTarget, Cassette, Target
from promptwire.mock import MockServer


def configs(mock: MockServer) -> dict[str, dict[str, Any]]:
    chat = {"method": "POST", "headers": {"Content-Type": "application/json"},
            "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]}}
    return {
        "chat (JSON, transform)": {"id": f"{mock.base_url}/v1/chat/completions",
                                   "config": {**chat, "transformResponse": "json.choices[0].message.content"}},
        "chat (SSE stream)": {"id": f"{mock.base_url}/v1/chat/completions",
                              "config": {**chat, "body": {**chat["body"], "stream": True}}},
        "websocket (streamed frames)": {"id": f"{mock.ws_url}/ws/stream", "config": {
            "messageTemplate": '{"prompt": {{ prompt | dump }}}',
            "streamResponse": "(acc, data) => { const m = JSON.parse(data.data);"
                              " return m.type === 'done' ? [acc, true]"
                              " : [{output: (acc.output || '') + m.content}, false]; }"}},
        "429, Retry-After: 5, then 200": {
            "id": f"{mock.base_url}/script/429-then-200?id={uuid.uuid4().hex}&retry_after=5",
            "config": {"method": "POST", "body": {"q": "{{prompt}}"}, "transformResponse": "json.output"}},
    }


PROMPT = "Tell me a short joke about sockets"


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        paths: dict[str, Path] = {}
        with MockServer() as mock:
            cfgs = configs(mock)
            for i, (name, cfg) in enumerate(cfgs.items()):
                paths[name] = Path(d) / f"c{i}.yaml"
                with Target.from_config(cfg, env={}) as t:
                    t.use_cassette(paths[name], record_mode="all")
                    started = time.perf_counter()
                    t.call(PROMPT)
                    print(f"recorded {name}: {time.perf_counter() - started:.3f} s live")
        # The server is gone from here on.
        print(f"\n{'cassette':32} {'sync calls/s':>13} {'asyncio calls/s':>16} {'median call':>12}")
        for name, cfg in cfgs.items():
            cassette = Cassette(paths[name], allow_playback_repeats=True)
            target = Target.from_config(cfg, env={})
            target.use_cassette(cassette)
            for _ in range(20):
                target.call(PROMPT)
            n = 300
            times = []
            started = time.perf_counter()
            for _ in range(n):
                t0 = time.perf_counter()
                target.call(PROMPT)
                times.append(time.perf_counter() - t0)
            sync_rate = n / (time.perf_counter() - started)

            atarget = AsyncTarget.from_config(cfg, env={})
            atarget.use_cassette(cassette)

            async def run(atarget: AsyncTarget = atarget, n: int = n) -> float:
                for _ in range(20):
                    await atarget.call(PROMPT)
                t0 = time.perf_counter()
                for _ in range(n):
                    await atarget.call(PROMPT)
                return n / (time.perf_counter() - t0)

            async_rate = asyncio.run(run())
            print(f"{name:32} {sync_rate:13.0f} {async_rate:16.0f} {statistics.median(times) * 1e3:9.2f} ms")
        # Loading a cassette (YAML) is paid once per file.
        t0 = time.perf_counter()
        for _ in range(50):
            Cassette(paths["chat (SSE stream)"]).episodes  # noqa: B018
        print(f"\nloading a one-call SSE cassette: {(time.perf_counter() - t0) / 50 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
