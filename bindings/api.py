"""The Python API: build a target once from a config, call it many times.

    from .api import Target
    target = Target.from_file("promptfooconfig.yaml", provider="my-api")
    response = target.call("Hello", vars={"name": "Ada"})
    print(response.output)

``AsyncTarget`` is the same for asyncio and trio (detected at call time).
Everything expensive (config validation, template and transform compilation,
TLS contexts) happens when the target is built; a call only renders, sends
and parses.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from sansio_core.call import Call
from sansio_core.config.provider import ProviderEntry
from sansio_core.response import ProviderResponse
from sansio_core.targets import CoreTarget
from sansio_core.timebase import Instant

from ._async import driver as _async_driver
from ._sync import driver as _sync_driver
from .backends.base import AsyncBackend, AsyncStream, SyncStream
from .backends.sync_backend import SyncBackend
from .building import build_core_target, select_entry
from .loader import read_document
from .pool import Pool, limit_from

_system_random = random.SystemRandom()


class _Base:
    # A ``promptwire.Cassette`` that records or replays this target's calls
    # (``use_cassette``, docs/replay.md); ``None``: every call is live.
    cassette: Any = None
    # (provider entry, env, base_dir) the target was built from, when known: a
    # cassette redacts the secrets the configuration holds, and replays on a twin
    # core target so that replayed state (OAuth tokens) never reaches live calls.
    _pw_source: tuple[ProviderEntry, Mapping[str, str], str] | None = None

    def __init__(self, core: CoreTarget, seed: int | None = None, *,
                 max_connections_per_origin: int | None = None, env: Mapping[str, str] | None = None) -> None:
        # Open connections per origin (queued FIFO beyond it); idle ones kept up to the same number.
        self._limit = limit_from(env, max_connections_per_origin)
        self._core = core
        if core.rate_limiter is not None:
            # Calls of one target may run on many threads (the sync Target).
            core.rate_limiter.use_lock(threading.Lock())
        self._rng = random.Random(seed) if seed is not None else _system_random
        self._seed_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str, *, provider: str | None = None,
                    base_dir: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None,
                    seed: int | None = None, max_connections_per_origin: int | None = None) -> Any:
        """Build from a provider entry (``{"id": ..., "config": {...}}``), a list, a
        promptfoo config with ``providers:``, or a bare id string."""
        entry = select_entry(config, provider)
        target = cls(build_core_target(entry, base_dir, env), seed,
                     max_connections_per_origin=max_connections_per_origin, env=env)
        target._pw_source = (entry, dict(os.environ if env is None else env), str(base_dir))
        return target

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, provider: str | None = None,
                  env: Mapping[str, str] | None = None, seed: int | None = None,
                  max_connections_per_origin: int | None = None) -> Any:
        """Build from a YAML or JSON file; ``file://`` paths resolve from its directory."""
        doc = read_document(path)
        entry = select_entry(doc, provider)
        base_dir = Path(path).resolve().parent
        target = cls(build_core_target(entry, base_dir, env), seed,
                     max_connections_per_origin=max_connections_per_origin, env=env)
        target._pw_source = (entry, dict(os.environ if env is None else env), str(base_dir))
        return target

    def share_rate_limit(self, parts: int) -> None:
        """This process is one of ``parts`` that share the target's rate limit."""
        if self._core.rate_limiter is not None:
            self._core.rate_limiter.split(parts)

    def use_cassette(self, cassette: Any, **options: Any) -> Any:
        """Record or replay this target's calls with a cassette (a path or a ``Cassette``;
        ``options`` as ``Cassette``'s); ``None`` detaches it. Returns the cassette."""
        from .cassette import Cassette

        if cassette is not None and not isinstance(cassette, Cassette):
            cassette = Cassette(cassette, **options)
        self.cassette = cassette
        return cassette

    def _draw_seed(self) -> int:
        with self._seed_lock:
            return self._rng.getrandbits(64)

    @property
    def label(self) -> str:
        return self._core.label

    def redact(self, text: str) -> str:
        """``text`` with every secret of this target replaced by ``[REDACTED]``
        (for your own logs; promptwire's errors, labels and metadata already are)."""
        return self._core.secrets.redact(text)

    def _new_call(self, now: Instant, prompt: str, vars: Mapping[str, Any] | None,
                  context: Mapping[str, Any] | None, timeout_ms: float | None) -> Call:
        with self._seed_lock:
            seed = self._rng.getrandbits(64)
        return self._core.new_call(prompt, dict(vars or {}), context, now=now, seed=seed,
                                   timeout_ms=timeout_ms)


class Target(_Base):
    """Blocking calls on plain sockets, with a keep-alive pool per origin.

    A target may be shared by threads: the pool is locked, and each thread
    gets its own JavaScript context for transforms (QuickJS contexts are
    single-threaded). A ``Call`` itself has one owner.
    """

    def __init__(self, core: CoreTarget, seed: int | None = None, *,
                 max_connections_per_origin: int | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(core, seed, max_connections_per_origin=max_connections_per_origin, env=env)
        self._backend = SyncBackend()
        self._pool: Pool[SyncStream] = Pool(self._limit)

    def call(self, prompt: str, vars: Mapping[str, Any] | None = None,
             context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None) -> ProviderResponse:
        """Send one prompt; returns the ProviderResponse or raises a PromptwireError."""
        if self.cassette is not None:
            return self.cassette.call_sync(self, prompt, vars, context, timeout_ms)  # type: ignore[no-any-return]
        call = self._new_call(self._backend.now(), prompt, vars, context, timeout_ms)
        return _sync_driver.drive(call, self._backend, self._pool)

    def stream(self, prompt: str, vars: Mapping[str, Any] | None = None,
               context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
               ) -> Iterator[str | ProviderResponse]:
        """Yield text deltas while the response streams, then the ProviderResponse."""
        if self.cassette is not None:
            yield from self.cassette.stream_sync(self, prompt, vars, context, timeout_ms)
            return
        call = self._new_call(self._backend.now(), prompt, vars, context, timeout_ms)
        yield from _sync_driver.run_call(call, self._backend, self._pool)

    def close(self) -> None:
        """Close the idle connections; a kept WebSocket conversation gets its close frame first."""
        for stream, farewell in self._pool.drain_entries():
            if farewell:
                _sync_driver.say_goodbye(stream, farewell, self._backend)
            else:
                stream.force_close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _async_backend() -> AsyncBackend:
    import sniffio

    library = sniffio.current_async_library()
    if library == "trio":
        from .backends.trio_backend import TrioBackend

        return TrioBackend()
    if library == "asyncio":
        from .backends.asyncio_backend import AsyncioBackend

        return AsyncioBackend()
    raise RuntimeError(f"promptwire supports asyncio and trio, not {library}")


class AsyncTarget(_Base):
    """``await target.call(...)`` under asyncio or trio (one pool per event-loop library)."""

    def __init__(self, core: CoreTarget, seed: int | None = None, *,
                 max_connections_per_origin: int | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(core, seed, max_connections_per_origin=max_connections_per_origin, env=env)
        self._loops: dict[str, tuple[object, AsyncBackend, Pool[AsyncStream]]] = {}

    def _backend_pool(self) -> tuple[AsyncBackend, Pool[AsyncStream]]:
        """The backend and pool of the running event loop.

        Pooled connections belong to the loop that opened them: a target used
        from a second ``asyncio.run`` (or trio run) starts a fresh pool and
        drops the old one's sockets without touching their dead loop.
        """
        import sniffio

        library = sniffio.current_async_library()
        loop = _current_loop(library)
        current = self._loops.get(library)
        if current is None or current[0] is not loop:
            self._loops[library] = current = (loop, _async_backend(), Pool(self._limit))
        return current[1], current[2]

    async def call(self, prompt: str, vars: Mapping[str, Any] | None = None,
                   context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
                   ) -> ProviderResponse:
        if self.cassette is not None:
            return await self.cassette.call_async(self, prompt, vars, context, timeout_ms)  # type: ignore[no-any-return]
        backend, pool = self._backend_pool()
        call = self._new_call(backend.now(), prompt, vars, context, timeout_ms)
        return await _async_driver.drive(call, backend, pool)

    async def stream(self, prompt: str, vars: Mapping[str, Any] | None = None,
                     context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
                     ) -> AsyncIterator[str | ProviderResponse]:
        """Yield text deltas while the response streams, then the ProviderResponse."""
        if self.cassette is not None:
            async for recorded in self.cassette.stream_async(self, prompt, vars, context, timeout_ms):
                yield recorded
            return
        backend, pool = self._backend_pool()
        call = self._new_call(backend.now(), prompt, vars, context, timeout_ms)
        async for item in _async_driver.run_call(call, backend, pool):
            yield item

    async def aclose(self) -> None:
        """Close the idle connections of the running loop's pool (kept WebSocket
        conversations get their close frame first)."""
        import sniffio

        library = sniffio.current_async_library()
        current = self._loops.pop(library, None)
        if current is not None and current[0] is _current_loop(library):
            for stream, farewell in current[2].drain_entries():
                if farewell:
                    await _async_driver.say_goodbye(stream, farewell, current[1])
                else:
                    stream.force_close()


def _current_loop(library: str) -> object:
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    import asyncio

    return asyncio.get_running_loop()
