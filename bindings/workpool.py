"""The one concurrency engine behind ``eval`` and ``bench``, on asyncio or trio.

Two shapes of load:

* ``closed_loop``: ``concurrency`` workers pull jobs from one shared iterator
  until it runs dry; a worker starts its next job when its last one ends.
* ``open_loop``: jobs start at fixed intended times (``rate`` per second)
  whatever happened to earlier ones; each job is told its intended start, so
  latency can be measured from it (no coordinated omission).

Only task spawning, sleeping and the clock differ between the two event-loop
libraries, and they are chosen once from the running library (sniffio).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _library() -> str:
    import sniffio

    return sniffio.current_async_library()


async def sleep(seconds: float) -> None:
    if seconds <= 0:
        return
    if _library() == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        import asyncio

        await asyncio.sleep(seconds)


async def _spawn_all(fns: list[Callable[[], Awaitable[None]]]) -> None:
    if _library() == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            for fn in fns:
                nursery.start_soon(fn)
        return
    import asyncio

    async with asyncio.TaskGroup() as group:
        for fn in fns:
            group.create_task(fn())  # type: ignore[arg-type]


async def closed_loop(jobs: Iterator[T], concurrency: int, work: Callable[[T], Awaitable[None]], *,
                      delay_s: float = 0.0) -> None:
    """Run ``work(job)`` for every job with at most ``concurrency`` in flight."""

    async def worker() -> None:
        for job in jobs:  # a shared iterator: each job is taken by exactly one worker
            await work(job)
            if delay_s:
                await sleep(delay_s)

    await _spawn_all([worker for _ in range(max(1, concurrency))])


async def open_loop(count: int | None, duration_s: float | None, rate: float,
                    work: Callable[[float], Awaitable[None]]) -> None:
    """Start ``work(intended_start)`` ``rate`` times a second, ``count`` times or for ``duration_s``."""
    interval = 1.0 / rate
    start = time.perf_counter()

    def jobs() -> Iterator[float]:
        i = 0
        while (count is None or i < count) and (duration_s is None or i * interval < duration_s):
            yield start + i * interval
            i += 1

    if _library() == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            for intended in jobs():
                await sleep(intended - time.perf_counter())
                nursery.start_soon(work, intended)
        return
    import asyncio

    async with asyncio.TaskGroup() as group:
        for intended in jobs():
            await sleep(intended - time.perf_counter())
            group.create_task(work(intended))  # type: ignore[arg-type]


def run(main: Callable[[], Awaitable[T]], binding: str) -> T:
    """Run ``main`` on a fresh asyncio or trio loop."""
    if binding == "trio":
        import trio

        return trio.run(main)
    import asyncio

    return asyncio.run(main())  # type: ignore[arg-type]


__all__ = ["closed_loop", "open_loop", "run", "sleep"]
