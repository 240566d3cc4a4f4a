"""Shared fixtures: the mock server on 127.0.0.1 and a runner per binding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
from promptwire._async import driver as async_driver
from promptwire._sync import driver as sync_driver
from promptwire.backends.asyncio_backend import AsyncioBackend
from promptwire.backends.sync_backend import SyncBackend
from promptwire.backends.trio_backend import TrioBackend
from promptwire.mock import MockServer
from promptwire.pool import Pool

from sansio_core.call import Call

BINDINGS = ["sync", "asyncio", "trio"]


@pytest.fixture(scope="session")
def mock() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


class Runner:
    """Runs calls through one binding's real driver and backend, sharing one pool."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pool: Pool[Any] = Pool()

    def backend(self) -> Any:
        return {"sync": SyncBackend, "asyncio": AsyncioBackend, "trio": TrioBackend}[self.name]()

    def run(self, make_calls: Callable[[Any], list[Call]]) -> list[Any]:
        """Drive every call made by ``make_calls(backend)`` in order; results or exceptions."""
        backend = self.backend()
        if self.name == "sync":
            out: list[Any] = []
            for call in make_calls(backend):
                try:
                    out.append(sync_driver.drive(call, backend, self.pool))
                except Exception as exc:
                    out.append(exc)
            return out

        async def main() -> list[Any]:
            results: list[Any] = []
            for call in make_calls(backend):
                try:
                    results.append(await async_driver.drive(call, backend, self.pool))
                except Exception as exc:
                    results.append(exc)
            return results

        if self.name == "trio":
            return trio.run(main)
        return asyncio.run(main())


@pytest.fixture(params=BINDINGS)
def runner(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)
