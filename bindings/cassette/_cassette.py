"""``Cassette``: record a target's calls to a file, or replay them from it.

Record modes follow VCR.py:

* ``none``: replay only; a call that matches no recorded exchange raises
  ``CassetteError`` naming the closest one and how it differs.
* ``once``: a cassette file that exists is replayed as with ``none``; a missing
  one is recorded (every call goes to the live target and is written).
* ``new_episodes``: replay what matches, record what does not (appended).
* ``all``: never replay; every call is live and the file is rewritten with the
  calls of this session.

Each recorded exchange is played once (``allow_playback_repeats=True`` lifts
that). The file is saved after each recorded call, atomically.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call
from sansio_core.errors import Cancelled, PromptwireError
from sansio_core.response import ProviderResponse
from sansio_core.timebase import Instant

from .._async import driver as _async_driver
from .._sync import driver as _sync_driver
from ..pool import Pool
from ._model import CassetteError, Episode, build_episode, load_file, save_file
from ._player import DEFAULT_MATCH_ON, MATCHERS, Diverged, Matcher, abandon, explain, play
from ._redact import Redactor

RECORD_MODES = ("none", "once", "new_episodes", "all")


class RecordingCall:
    """Stands between a live driver and a ``Call`` and writes down each (action, event, instant).

    The instants fed to the call are the binding's, with the elapsed time
    rounded to the microsecond and the wall clock derived from it
    (``start.wall + elapsed``): a replay rebuilds them bit for bit from one
    short number per step.
    """

    __slots__ = ("_call", "_pending", "start", "steps")

    def __init__(self, call: Call, start: Instant) -> None:
        self._call = call
        self.start = start
        self.steps: list[tuple[A.Action, E.Event, Instant]] = []
        self._pending: A.Action | None = None

    @property
    def context(self) -> Any:
        return self._call.context

    @property
    def done(self) -> bool:
        return self._call.done

    def next_action(self) -> A.Action:
        action = self._call.next_action()
        self._pending = action if isinstance(action, A.NEEDS_REPLY) else None
        return action

    def feed(self, event: E.Event, now: Instant) -> None:
        elapsed = round(now.mono - self.start.mono, 6)
        now = Instant(self.start.mono + elapsed, self.start.wall + elapsed)
        if self._pending is not None and not isinstance(event, E.Cancelled):
            self.steps.append((self._pending, event, now))
        self._pending = None
        self._call.feed(event, now)


@dataclass
class _Played:
    deltas: list[str]
    end: A.Action

    def items(self) -> Iterator[str | ProviderResponse]:
        yield from self.deltas
        if isinstance(self.end, A.Fail):
            raise self.end.error
        assert isinstance(self.end, A.Complete)
        yield self.end.response


@dataclass
class _Miss:
    best: tuple[int, Diverged] | None = None
    tried: int = 0
    skipped: int = 0
    extra: list[str] = field(default_factory=list)


class Cassette:
    """A file of recorded exchanges attached to one or more targets.

    ``match_on``: which parts of each request must equal the recorded one
    (``method``, ``url``, ``scheme``, ``host``, ``path``, ``query``, ``body``,
    ``headers``; default method + URL + body); ``match_headers``: headers that
    must also match. ``filter_headers`` / ``filter_query_parameters`` /
    ``filter_post_data_parameters`` / ``redact`` (literal strings) add to the
    built-in redaction; ``before_record(episode)`` may edit an episode or
    return ``None`` to drop it.
    """

    def __init__(self, path: str | os.PathLike[str], *, record_mode: str = "none",
                 match_on: Iterable[str] = DEFAULT_MATCH_ON, match_headers: Iterable[str] = (),
                 filter_headers: Iterable[str] = (), filter_query_parameters: Iterable[str] = (),
                 filter_post_data_parameters: Iterable[str] = (), redact: Iterable[str] = (),
                 before_record: Callable[[Episode], Episode | None] | None = None,
                 allow_playback_repeats: bool = False, keep_alive: bool = True) -> None:
        if record_mode not in RECORD_MODES:
            raise CassetteError(f"record_mode must be one of {', '.join(RECORD_MODES)}, not {record_mode!r}")
        self.match_on = tuple(match_on)
        unknown = [m for m in self.match_on if m not in MATCHERS]
        if unknown:
            raise CassetteError(f"unknown matcher {unknown[0]!r}; choose from {', '.join(sorted(MATCHERS))}")
        self.path = Path(path)
        self.record_mode = record_mode
        self.match_headers = tuple(match_headers)
        self._filters = {"filter_headers": tuple(filter_headers),
                         "filter_query_parameters": tuple(filter_query_parameters),
                         "filter_post_data_parameters": tuple(filter_post_data_parameters)}
        self._redact = tuple(redact)
        self.before_record = before_record
        self.allow_playback_repeats = allow_playback_repeats
        # False: a recorded call's connections are closed when it ends instead of
        # pooled (tests whose event loop ends with the test want that).
        self.keep_alive = keep_alive
        self._lock = threading.RLock()
        self._loaded = False
        self._existed = False
        self._episodes: list[Episode] = []
        self._played: set[int] = set()
        self._recorded = 0
        self._replayed = 0
        self._redactors: dict[int, tuple[Any, Redactor]] = {}
        self._twins: dict[int, tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, record_mode={self.record_mode!r})"

    # -- state --------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._existed = self.path.exists()
        if self._existed and self.record_mode != "all":
            self._episodes = load_file(self.path)
        self._loaded = True

    @property
    def episodes(self) -> list[Episode]:
        with self._lock:
            self._ensure_loaded()
            return list(self._episodes)

    @property
    def play_count(self) -> int:
        """How many calls were answered from the cassette."""
        return self._replayed

    @property
    def record_count(self) -> int:
        """How many calls this cassette recorded (in this process)."""
        return self._recorded

    @property
    def all_played(self) -> bool:
        with self._lock:
            self._ensure_loaded()
            return len(self._played) >= len(self._episodes)

    def _may_record(self) -> bool:
        if self.record_mode == "none":
            return False
        if self.record_mode == "once":
            return not self._existed
        return True

    def _redactor(self, target: Any) -> Redactor:
        entry = self._redactors.get(id(target))
        if entry is not None and entry[0] is target:
            return entry[1]
        source = getattr(target, "_pw_source", None)
        if source is not None:
            pw_entry, env, _ = source
            redactor = Redactor.for_config(pw_entry.raw_config, env, pw_entry.env, **self._filters)
        else:
            redactor = Redactor(**self._filters)
        for s in self._redact:
            redactor.add(s)
        self._redactors[id(target)] = (target, redactor)
        return redactor

    def _replay_core(self, target: Any) -> Any:
        """A second core target built like ``target``'s: replays keep their state there
        (OAuth tokens from the cassette are redacted and on the recorded timeline;
        a live call must never use them)."""
        entry = self._twins.get(id(target))
        if entry is not None and entry[0] is target:
            return entry[1]
        source = getattr(target, "_pw_source", None)
        if source is None:
            return target._core
        from ..building import build_core_target

        pw_entry, env, base_dir = source
        core = build_core_target(pw_entry, base_dir, env)
        self._twins[id(target)] = (target, core)
        return core

    # -- replay -------------------------------------------------------------------------

    def _replay(self, target: Any, prompt: str, vars: Mapping[str, Any] | None,
                context: Mapping[str, Any] | None, timeout_ms: float | None) -> _Played | _Miss:
        with self._lock:
            self._ensure_loaded()
            matcher = Matcher(self.match_on, self.match_headers, self._redactor(target))
            core = self._replay_core(target)
            miss = _Miss()
            for idx, ep in enumerate(self._episodes):
                if idx in self._played and not self.allow_playback_repeats:
                    miss.skipped += 1
                    continue
                miss.tried += 1
                call = core.new_call(prompt, dict(vars or {}), context, now=ep.start, seed=ep.seed,
                                     timeout_ms=timeout_ms)
                deltas: list[str] = []
                try:
                    end = play(call, ep, matcher, deltas)
                except Diverged as d:
                    abandon(call)
                    if miss.best is None or (d.progress, -len(d.fields)) > (
                            miss.best[1].progress, -len(miss.best[1].fields)):
                        miss.best = (idx, d)
                    continue
                self._played.add(idx)
                self._replayed += 1
                return _Played(deltas, end)
            return miss

    def _mismatch(self, miss: _Miss) -> CassetteError:
        lines = [f"no recorded exchange in {self.path} matches this call (record mode {self.record_mode!r})"]
        if not self._existed and not self._episodes:
            lines[0] = (f"cassette {self.path} does not exist (record mode {self.record_mode!r} only replays; "
                        "record it with record_mode='once' or --promptwire-record-mode=once)")
            return CassetteError("\n".join(lines))
        if miss.best is None:
            if miss.skipped:
                lines.append(f"  all {miss.skipped} recorded exchanges were already played "
                             "(allow_playback_repeats=True replays them again)")
            else:
                lines.append("  the cassette holds no exchanges")
            return CassetteError("\n".join(lines))
        idx, d = miss.best
        if d.mine is not None:
            lines.append(f"  this call: {d.mine.summary()}")
        ep = self._episodes[idx]
        closest = d.recorded or ep.request
        lines.append(f"closest recorded exchange: #{idx + 1} of {len(self._episodes)}"
                     + (f" ({closest.summary()})" if closest is not None else ""))
        text = explain(d)
        lines.append(text)
        return CassetteError("\n".join(lines), closest=closest, diff=text)

    # -- record -------------------------------------------------------------------------

    def _store(self, target: Any, rec: RecordingCall, seed: int, result: ProviderResponse | PromptwireError) -> None:
        outcome: dict[str, Any]
        if isinstance(result, PromptwireError):
            outcome = {"thrown": f"{type(result).__name__}: {result}"}
        else:
            outcome = {k: result[k] for k in ("output", "error") if k in result}
        with self._lock:
            self._ensure_loaded()
            ep: Episode | None = build_episode(rec.steps, rec.start, seed, self._redactor(target),
                                               target.label, outcome)
            if self.before_record is not None and ep is not None:
                ep = self.before_record(ep)
            self._recorded += 1
            if ep is None:
                return
            self._episodes.append(ep)
            self._played.add(len(self._episodes) - 1)  # recorded now: not replayed again
            save_file(self.path, self._episodes)

    def _live_call(self, target: Any, now: Instant, prompt: str, vars: Mapping[str, Any] | None,
                   context: Mapping[str, Any] | None, timeout_ms: float | None) -> tuple[RecordingCall, int]:
        seed = target._draw_seed()
        call = target._core.new_call(prompt, dict(vars or {}), context, now=now, seed=seed, timeout_ms=timeout_ms)
        return RecordingCall(call, now), seed

    # -- what Target / AsyncTarget call -------------------------------------------------

    def stream_sync(self, target: Any, prompt: str, vars: Mapping[str, Any] | None,
                    context: Mapping[str, Any] | None, timeout_ms: float | None
                    ) -> Iterator[str | ProviderResponse]:
        miss = _Miss()
        if self.record_mode != "all":
            found = self._replay(target, prompt, vars, context, timeout_ms)
            if isinstance(found, _Played):
                yield from found.items()
                return
            miss = found
        if not self._may_record():
            raise self._mismatch(miss)
        rec, seed = self._live_call(target, target._backend.now(), prompt, vars, context, timeout_ms)
        pool = target._pool if self.keep_alive else Pool()
        try:
            for item in _sync_driver.run_call(rec, target._backend, pool):  # type: ignore[arg-type]
                if isinstance(item, ProviderResponse):
                    self._store(target, rec, seed, item)
                yield item
        except PromptwireError as exc:
            if not isinstance(exc, Cancelled):
                self._store(target, rec, seed, exc)
            raise
        finally:
            if not self.keep_alive:
                for stream in pool.drain():
                    stream.close()

    def call_sync(self, target: Any, prompt: str, vars: Mapping[str, Any] | None,
                  context: Mapping[str, Any] | None, timeout_ms: float | None) -> ProviderResponse:
        result: Any = None
        for item in self.stream_sync(target, prompt, vars, context, timeout_ms):
            result = item
        assert isinstance(result, ProviderResponse)
        return result

    async def stream_async(self, target: Any, prompt: str, vars: Mapping[str, Any] | None,
                           context: Mapping[str, Any] | None, timeout_ms: float | None
                           ) -> AsyncIterator[str | ProviderResponse]:
        miss = _Miss()
        if self.record_mode != "all":
            found = self._replay(target, prompt, vars, context, timeout_ms)
            if isinstance(found, _Played):
                for item in found.items():
                    yield item
                return
            miss = found
        if not self._may_record():
            raise self._mismatch(miss)
        backend, pool = target._backend_pool()
        if not self.keep_alive:
            pool = Pool()
        rec, seed = self._live_call(target, backend.now(), prompt, vars, context, timeout_ms)
        try:
            async for item in _async_driver.run_call(rec, backend, pool):  # type: ignore[arg-type]
                if isinstance(item, ProviderResponse):
                    self._store(target, rec, seed, item)
                yield item
        except PromptwireError as exc:
            if not isinstance(exc, Cancelled):
                self._store(target, rec, seed, exc)
            raise
        finally:
            if not self.keep_alive:
                for stream in pool.drain():
                    await stream.aclose()

    async def call_async(self, target: Any, prompt: str, vars: Mapping[str, Any] | None,
                         context: Mapping[str, Any] | None, timeout_ms: float | None) -> ProviderResponse:
        result: Any = None
        async for item in self.stream_async(target, prompt, vars, context, timeout_ms):
            result = item
        assert isinstance(result, ProviderResponse)
        return result

    # -- attaching ----------------------------------------------------------------------

    @contextmanager
    def use(self, *targets: Any) -> Iterator[Cassette]:
        """Attach this cassette to every target for the block, then restore what they had."""
        previous = [(t, t.cassette) for t in targets]
        for t in targets:
            t.cassette = self
        try:
            yield self
        finally:
            for t, old in previous:
                t.cassette = old


@contextmanager
def use_cassette(path: str | os.PathLike[str], *targets: Any, **options: Any) -> Iterator[Cassette]:
    """``with use_cassette("cassettes/chat.yaml", target_a, target_b, record_mode="once") as cassette:``"""
    cassette = Cassette(path, **options)
    with cassette.use(*targets):
        yield cassette
