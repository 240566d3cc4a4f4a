"""Per-origin connection limit: FIFO waiters under their own deadlines, idle connections kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
from promptwire.api import Target
from promptwire.backends.sync_backend import ThreadWaiter
from promptwire.mock import MockServer
from promptwire.pool import Pool, limit_from

from sansio_core.errors import ConfigError


def test_slots_pass_to_waiters_in_order_and_abandoned_waiters_leave_the_line() -> None:
    pool: Pool[object] = Pool(limit=1)
    key = ("http", "h", 80, None)
    assert pool.acquire(key, ThreadWaiter) is None
    first = pool.acquire(key, ThreadWaiter)
    second = pool.acquire(key, ThreadWaiter)
    third = pool.acquire(key, ThreadWaiter)
    assert first and second and third
    assert not second.wait(time.monotonic() + 0.01)  # times out in line
    pool.abandon(key, second)
    pool.release(key)
    assert first.wait(None) and not third.wait(time.monotonic())
    pool.claimed(first)
    pool.release(key)
    assert third.wait(None)
    pool.claimed(third)
    pool.release(key)
    assert pool.active(key) == 0


def test_the_limit_comes_from_the_target_then_the_environment() -> None:
    assert limit_from({}, None) == 100
    assert limit_from({"PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN": "7"}, None) == 7
    assert limit_from({"PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN": "7"}, 3) == 3
    with pytest.raises(ConfigError, match="PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN"):
        limit_from({"PROMPTWIRE_MAX_CONNECTIONS_PER_ORIGIN": "0"}, None)


def test_threads_share_at_most_the_limit_and_keep_that_many_idle(mock: MockServer) -> None:
    target = Target.from_config({"id": mock.base_url + "/text?delay_ms=20", "config": {"method": "GET"}},
                                env={}, max_connections_per_origin=4)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                target.call("hi")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    idle = target._pool.drain()
    assert 1 <= len(idle) <= 4
    for s in idle:
        s.force_close()


SCRIPT = textwrap.dedent("""
    import asyncio, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    from promptwire.api import AsyncTarget
    from promptwire.mock import MockServer

    async def main(url):
        target = AsyncTarget.from_config({"id": url, "config": {"method": "GET"}}, env={})
        results = await asyncio.gather(*(target.call("hi") for _ in range(COUNT)), return_exceptions=True)
        await target.aclose()
        bad = [r for r in results if isinstance(r, BaseException) or r.get("error")]
        print(len(results), len(bad), repr(bad[:3]))

    with MockServer() as server:
        asyncio.run(main(server.base_url + "/text"))
""")


@pytest.mark.slow
def test_10000_concurrent_calls_under_ulimit_1024() -> None:
    r = subprocess.run([sys.executable, "-c", SCRIPT.replace("COUNT", "10000")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    total, bad, sample = r.stdout.split(" ", 2)
    assert (total, bad) == ("10000", "0"), sample
