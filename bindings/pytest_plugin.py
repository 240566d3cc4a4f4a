"""The pytest plugin (registered through the ``pytest11`` entry point): cassettes for tests.

    def test_chat(promptwire_target, promptwire_mock):
        target = promptwire_target({"id": f"{promptwire_mock.base_url}/v1/chat/completions", ...})
        assert target.call("Hi").output == "Echo: Hi"

* ``promptwire_target(config, **kw)`` / ``promptwire_async_target(config, **kw)``:
  build a ``Target`` / ``AsyncTarget`` (``config`` as ``from_config`` takes it, or
  ``file=`` a config file) with the test's cassette attached; closed after the test.
* ``promptwire_cassette``: that ``Cassette``, stored beside the test module as
  ``cassettes/<module>/<test>.yaml`` (as pytest-recording does).
* ``--promptwire-record-mode`` (``none`` by default: CI replays, never calls out;
  ``once``, ``new_episodes``, ``all`` record).
* ``@pytest.mark.promptwire(**options)``: ``Cassette`` options for one test
  (``match_on``, ``filter_headers``, ``record_mode``, ``path``, ...).
* ``promptwire_mock``: the embedded mock server for the session. In ``none``
  mode it is not started (a replay must not need it): its URLs then point at
  a port where nothing listens.

Works the same for sync tests and for async ones under pytest-asyncio,
anyio's plugin and pytest-trio: the fixtures are synchronous and the targets
pick their event loop when called.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .api import AsyncTarget, Target
from .cassette import RECORD_MODES, Cassette

OFFLINE_PORT = 9  # "discard": nothing listens there, so a stray live call fails at once


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptwire", "promptwire cassettes")
    group.addoption("--promptwire-record-mode", choices=RECORD_MODES, default=None,
                    help="how promptwire cassettes record: none (default: replay only), once, "
                         "new_episodes, all")
    parser.addini("promptwire_record_mode", "default for --promptwire-record-mode", default="none")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "promptwire(**options): options of this test's promptwire cassette "
                   "(match_on, match_headers, filter_headers, filter_query_parameters, record_mode, path, ...)")


def _record_mode(config: pytest.Config) -> str:
    mode = config.getoption("--promptwire-record-mode") or config.getini("promptwire_record_mode") or "none"
    if mode not in RECORD_MODES:
        raise pytest.UsageError(f"promptwire_record_mode must be one of {', '.join(RECORD_MODES)}")
    return str(mode)


def cassette_path(node: pytest.Item) -> Path:
    """``<dir of the module>/cassettes/<module>/<test name>.yaml``."""
    module = Path(str(node.path))
    name = re.sub(r"[^\w.\-\[\]]+", "_", node.name)
    return module.parent / "cassettes" / module.stem / f"{name}.yaml"


@pytest.fixture
def promptwire_record_mode(request: pytest.FixtureRequest) -> str:
    return _record_mode(request.config)


@pytest.fixture
def promptwire_cassette(request: pytest.FixtureRequest, promptwire_record_mode: str) -> Cassette:
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("promptwire"))):
        options.update(marker.kwargs)
    path = options.pop("path", None) or cassette_path(request.node)
    if not Path(path).is_absolute():
        path = Path(str(request.node.path)).parent / path
    options.setdefault("record_mode", promptwire_record_mode)
    options.setdefault("keep_alive", False)  # an async test's event loop ends with the test
    return Cassette(path, **options)


@dataclass
class _Built:
    targets: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for t in self.targets:
            if isinstance(t, Target):
                t.close()
            else:  # the event loop has ended: drop its idle sockets without awaiting it
                for _, _, pool in list(t._loops.values()):
                    for stream in pool.drain():
                        try:
                            stream.force_close()
                        except Exception:  # pragma: no cover - a loop already gone
                            pass
                t._loops.clear()


def _factory(cls: type[Any], cassette: Cassette, built: _Built) -> Callable[..., Any]:
    def make(config: Any = None, *, file: str | Path | None = None, **kw: Any) -> Any:
        if (config is None) == (file is None):
            raise TypeError("pass a config (dict, list or id string) or file=")
        target = cls.from_file(file, **kw) if file is not None else cls.from_config(config, **kw)
        target.use_cassette(cassette)
        built.targets.append(target)
        return target

    return make


@pytest.fixture
def promptwire_target(promptwire_cassette: Cassette) -> Iterator[Callable[..., Target]]:
    """A factory: ``promptwire_target(config_or_None, file=None, provider=..., env=...)``."""
    built = _Built()
    yield _factory(Target, promptwire_cassette, built)
    built.close()


@pytest.fixture
def promptwire_async_target(promptwire_cassette: Cassette) -> Iterator[Callable[..., AsyncTarget]]:
    """Like ``promptwire_target`` for asyncio and trio tests (an ``AsyncTarget``)."""
    built = _Built()
    yield _factory(AsyncTarget, promptwire_cassette, built)
    built.close()


@dataclass(frozen=True)
class OfflineMock:
    """Stands in for the mock server in replay-only runs: the URLs lead nowhere."""

    base_url: str = f"http://127.0.0.1:{OFFLINE_PORT}"
    ws_url: str = f"ws://127.0.0.1:{OFFLINE_PORT}"
    running: bool = False


@pytest.fixture(scope="session")
def promptwire_mock(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The embedded mock server (``promptwire.MockServer``) on 127.0.0.1, for the session;
    not started when cassettes only replay (``--promptwire-record-mode=none``)."""
    if _record_mode(pytestconfig) == "none":
        yield OfflineMock()
        return
    from .mock import MockServer

    with MockServer() as server:
        yield server
