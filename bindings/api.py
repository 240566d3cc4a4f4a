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
from sansio_core.config.provider import ProviderEntry, provider_entries
from sansio_core.errors import ConfigError
from sansio_core.response import ProviderResponse
from sansio_core.targets import CoreTarget, build_target
from sansio_core.timebase import Instant

from ._async import driver as _async_driver
from ._sync import driver as _sync_driver
from .backends.base import AsyncBackend, AsyncStream, SyncStream
from .backends.sync_backend import SyncBackend
from .loader import load_sources, read_document
from .pool import Pool

_system_random = random.SystemRandom()


def select_entry(doc: Any, provider: str | None = None) -> ProviderEntry:
    """Pick one provider entry (by id or label) out of a config document."""
    entries = provider_entries(doc)
    if not entries:
        raise ConfigError("the config holds no provider entry")
    if provider is None:
        if len(entries) > 1:
            names = ", ".join(e.label or e.id for e in entries)
            raise ConfigError(f"the config holds {len(entries)} providers ({names}); choose one with provider=")
        return entries[0]
    for e in entries:
        if provider in (e.id, e.label):
            return e
    names = ", ".join(e.label or e.id for e in entries)
    raise ConfigError(f"no provider {provider!r} in the config (have: {names})")


def build_core_target(entry: ProviderEntry, base_dir: str | os.PathLike[str] = ".",
                      env: Mapping[str, str] | None = None) -> CoreTarget:
    sources = load_sources(entry, str(base_dir), env)
    # Each thread gets its own JavaScript context (QuickJS is single-threaded).
    target: CoreTarget = build_target(entry, sources, owner=threading.get_ident,
                                      http_codec=os.environ.get("PROMPTWIRE_HTTP_PARSER"))
    return target


class _Base:
    def __init__(self, core: CoreTarget, seed: int | None = None) -> None:
        self._core = core
        self._rng = random.Random(seed) if seed is not None else _system_random
        self._seed_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str, *, provider: str | None = None,
                    base_dir: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None,
                    seed: int | None = None) -> Any:
        """Build from a provider entry (``{"id": ..., "config": {...}}``), a list, a
        promptfoo config with ``providers:``, or a bare id string."""
        entry = select_entry(config, provider)
        return cls(build_core_target(entry, base_dir, env), seed)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, provider: str | None = None,
                  env: Mapping[str, str] | None = None, seed: int | None = None) -> Any:
        """Build from a YAML or JSON file; ``file://`` paths resolve from its directory."""
        doc = read_document(path)
        entry = select_entry(doc, provider)
        return cls(build_core_target(entry, Path(path).resolve().parent, env), seed)

    @property
    def label(self) -> str:
        return self._core.label

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

    def __init__(self, core: CoreTarget, seed: int | None = None) -> None:
        super().__init__(core, seed)
        self._backend = SyncBackend()
        self._pool: Pool[SyncStream] = Pool()

    def call(self, prompt: str, vars: Mapping[str, Any] | None = None,
             context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None) -> ProviderResponse:
        """Send one prompt; returns the ProviderResponse or raises a PromptwireError."""
        call = self._new_call(self._backend.now(), prompt, vars, context, timeout_ms)
        return _sync_driver.drive(call, self._backend, self._pool)

    def stream(self, prompt: str, vars: Mapping[str, Any] | None = None,
               context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
               ) -> Iterator[str | ProviderResponse]:
        """Yield text deltas while the response streams, then the ProviderResponse."""
        call = self._new_call(self._backend.now(), prompt, vars, context, timeout_ms)
        yield from _sync_driver.run_call(call, self._backend, self._pool)

    def close(self) -> None:
        for stream in self._pool.drain():
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

    def __init__(self, core: CoreTarget, seed: int | None = None) -> None:
        super().__init__(core, seed)
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
            self._loops[library] = current = (loop, _async_backend(), Pool())
        return current[1], current[2]

    async def call(self, prompt: str, vars: Mapping[str, Any] | None = None,
                   context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
                   ) -> ProviderResponse:
        backend, pool = self._backend_pool()
        call = self._new_call(backend.now(), prompt, vars, context, timeout_ms)
        return await _async_driver.drive(call, backend, pool)

    async def stream(self, prompt: str, vars: Mapping[str, Any] | None = None,
                     context: Mapping[str, Any] | None = None, *, timeout_ms: float | None = None
                     ) -> AsyncIterator[str | ProviderResponse]:
        """Yield text deltas while the response streams, then the ProviderResponse."""
        backend, pool = self._backend_pool()
        call = self._new_call(backend.now(), prompt, vars, context, timeout_ms)
        async for item in _async_driver.run_call(call, backend, pool):
            yield item

    async def aclose(self) -> None:
        """Close the idle connections of the running loop's pool."""
        import sniffio

        library = sniffio.current_async_library()
        current = self._loops.pop(library, None)
        if current is not None and current[0] is _current_loop(library):
            for stream in current[2].drain():
                stream.force_close()


def _current_loop(library: str) -> object:
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    import asyncio

    return asyncio.get_running_loop()
