"""Failing servers through the public API (``Target`` / ``AsyncTarget``), in every binding.

Each test talks to the mock server's fault endpoints (``docs/mock-server.md``)
with its own script id, so the per-id counters never interfere, and counts the
requests the server saw. ``PROMPTFOO_REQUEST_BACKOFF_MS`` is small, so a retry
waits milliseconds; only the Retry-After test waits the second the server asks for.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import DeadlineExceeded, HttpStatusError, PromptwireError, RetriesExhausted
from sansio_core.response import ProviderResponse

BINDINGS = ["sync", "asyncio", "trio"]
# The env mapping replaces os.environ for a target: nothing from the machine leaks in.
FAST = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}


class Api:
    """One binding behind the public API: a fresh target per call, closed afterwards."""

    def __init__(self, name: str) -> None:
        self.name = name

    def call(self, entry: Mapping[str, Any], prompt: str = "hi", *, env: Mapping[str, str] = FAST,
             timeout_ms: float | None = None) -> ProviderResponse:
        if self.name == "sync":
            with Target.from_config(dict(entry), env=env, seed=7) as target:
                return target.call(prompt, timeout_ms=timeout_ms)

        async def main() -> ProviderResponse:
            target = AsyncTarget.from_config(dict(entry), env=env, seed=7)
            try:
                return await target.call(prompt, timeout_ms=timeout_ms)
            finally:
                await target.aclose()

        return self.run(main)

    def run(self, main: Callable[[], Awaitable[Any]]) -> Any:
        if self.name == "trio":
            return trio.run(main)
        return asyncio.run(main())  # type: ignore[arg-type]


@pytest.fixture(params=BINDINGS)
def api(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)


@pytest.fixture
def sid(request: pytest.FixtureRequest) -> str:
    """A script id no other test (or rerun) shares."""
    return f"{request.node.name}-{uuid.uuid4().hex[:8]}"


def entry(mock: MockServer, target: str, **config: Any) -> dict[str, Any]:
    return {"id": mock.base_url + target,
            "config": {"method": "POST", "body": {"prompt": "{{prompt}}"}, **config}}


def seen(mock: MockServer, path: str, sid: str) -> int:
    """How many requests for ``path`` with ``?id=sid`` reached the server."""
    return sum(1 for r in mock.snapshot() if r.path == path and ("id", sid) in r.query)


def timeout_of(err: BaseException) -> DeadlineExceeded:
    """The ``DeadlineExceeded`` behind an error (itself, or the last attempt's cause)."""
    cause = err if isinstance(err, DeadlineExceeded) else err.__cause__
    assert isinstance(cause, DeadlineExceeded), repr(err)
    return cause


# -- status codes ----------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(api: Api, mock: MockServer, sid: str) -> None:
    t0 = time.monotonic()
    r = api.call(entry(mock, f"/script/429-then-200?id={sid}&retry_after=1"))
    elapsed = time.monotonic() - t0
    assert r.output == {"output": "ok", "attempt": 2, "script": "429-then-200", "id": sid}
    assert r.metadata["http"]["status"] == 200
    assert seen(mock, "/script/429-then-200", sid) == 2
    # The second request's answer arrived no sooner than Retry-After: 1 after the call began
    # (the first attempt is a few ms), and the wait was not much longer (jitter is 10 ms here).
    assert r.timing["firstByteMs"] >= 1000
    assert r.timing["attempts"] == 2
    assert 1.0 <= elapsed < 1.5


def test_429_with_retries_used_up_is_a_rate_limit_error(api: Api, mock: MockServer, sid: str) -> None:
    with pytest.raises(HttpStatusError) as info:
        api.call(entry(mock, f"/script/429-then-200?id={sid}&retry_after=0&fail=5", maxRetries=2))
    assert info.value.status == 429
    assert str(info.value) == ("Rate limit exceeded: HTTP 429 Too Many Requests (code: rate_limit) "
                               "after 3 attempts [retry after 0s]")
    assert seen(mock, "/script/429-then-200", sid) == 3


def test_503_service_unavailable_succeeds_on_the_second_attempt(api: Api, mock: MockServer, sid: str) -> None:
    r = api.call(entry(mock, f"/script/503-then-200?id={sid}", transformResponse="json.attempt"))
    assert r.output == 2
    assert r.metadata["http"]["status"] == 200
    assert r.timing["attempts"] == 2
    assert seen(mock, "/script/503-then-200", sid) == 2


def test_503_with_another_reason_is_returned_not_retried(api: Api, mock: MockServer, sid: str) -> None:
    r = api.call(entry(mock, f"/script/503-other?id={sid}"))
    assert seen(mock, "/script/503-other", sid) == 1
    assert r.metadata["http"]["status"] == 503
    assert r.metadata["http"]["statusText"] == "Overloaded"
    assert r.timing["attempts"] == 1
    assert "error" not in r  # the response is handed on as is; validateStatus did not reject it


def test_max_retries_0_makes_one_attempt_for_a_transient_status(api: Api, mock: MockServer, sid: str) -> None:
    r = api.call(entry(mock, f"/script/503-then-200?id={sid}", maxRetries=0))
    assert r.metadata["http"]["status"] == 503
    assert r.metadata["http"]["statusText"] == "Service Unavailable"
    assert seen(mock, "/script/503-then-200", sid) == 1


# -- connection failures -------------------------------------------------------------------


def test_drop_mid_body_is_retried_then_succeeds(api: Api, mock: MockServer, sid: str) -> None:
    r = api.call(entry(mock, f"/script/drop-then-200?id={sid}"))
    assert r.output == {"output": "ok", "attempt": 2, "script": "drop-then-200", "id": sid}
    assert r.timing["attempts"] == 2
    assert seen(mock, "/script/drop-then-200", sid) == 2


@pytest.mark.parametrize("script", ["close-then-200", "reset-then-200"])
def test_failure_before_any_byte_is_retried(api: Api, mock: MockServer, sid: str, script: str) -> None:
    r = api.call(entry(mock, f"/script/{script}?id={sid}", transformResponse="json.attempt"))
    assert r.output == 2
    assert seen(mock, f"/script/{script}", sid) == 2


def test_max_retries_0_makes_one_attempt_for_a_drop(api: Api, mock: MockServer, sid: str) -> None:
    with pytest.raises(PromptwireError) as info:
        api.call(entry(mock, f"/script/drop-then-200?id={sid}", maxRetries=0))
    assert "closed the connection before the response was complete" in str(info.value)
    assert seen(mock, "/script/drop-then-200", sid) == 1


def test_exhausted_retries_say_how_many_attempts_and_why(api: Api, mock: MockServer, sid: str) -> None:
    with pytest.raises(RetriesExhausted) as info:
        api.call(entry(mock, f"/script/drop-then-200?id={sid}&fail=9", maxRetries=2))
    message = str(info.value)
    assert message.startswith("Request failed after 2 retries: connection closed by the server "
                              "in the middle of the response")
    assert "(3 attempts: #1 connection closed by the server in the middle of the response" in message
    assert "#2 " in message and "#3 " in message and "#4 " not in message
    assert seen(mock, "/script/drop-then-200", sid) == 3


# -- timeouts ----------------------------------------------------------------------------------


def test_slow_drip_past_the_idle_timeout(api: Api, mock: MockServer, sid: str) -> None:
    env = {**FAST, "PROMPTWIRE_IDLE_TIMEOUT_MS": "100"}
    t0 = time.monotonic()
    with pytest.raises(PromptwireError) as info:
        api.call(entry(mock, f"/drip?interval_ms=400&chunks=3&id={sid}", method="GET", body=None,
                       maxRetries=0), env=env)
    assert time.monotonic() - t0 < 0.35  # the first chunk came at once; 100 ms of silence ended it
    assert "Idle timed out after 100 ms (idle timeout, while waiting for the response)" in str(info.value)
    assert timeout_of(info.value).which == "idle"
    assert seen(mock, "/drip", sid) == 1


def test_idle_timeout_is_retried_like_a_network_failure(api: Api, mock: MockServer, sid: str) -> None:
    env = {**FAST, "PROMPTWIRE_IDLE_TIMEOUT_MS": "80"}
    with pytest.raises(RetriesExhausted) as info:
        api.call(entry(mock, f"/drip?interval_ms=300&chunks=2&id={sid}", method="GET", body=None,
                       maxRetries=1), env=env)
    assert str(info.value).startswith("Request failed after 1 retry: idle timeout")
    assert "(2 attempts: #1 idle timeout" in str(info.value)
    assert timeout_of(info.value).which == "idle"
    assert seen(mock, "/drip", sid) == 2


def test_silent_server_past_the_first_byte_timeout(api: Api, mock: MockServer, sid: str) -> None:
    env = {**FAST, "PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS": "100"}
    with pytest.raises(PromptwireError) as info:
        api.call(entry(mock, f"/slow?delay_ms=400&id={sid}", maxRetries=0), env=env)
    assert "First-byte timed out after 100 ms (first_byte timeout" in str(info.value)
    assert timeout_of(info.value).which == "first_byte"
    assert seen(mock, "/slow", sid) == 1


def test_first_byte_timeout_is_retried_then_succeeds(api: Api, mock: MockServer, sid: str) -> None:
    env = {**FAST, "PROMPTWIRE_FIRST_BYTE_TIMEOUT_MS": "100"}
    r = api.call(entry(mock, f"/script/slow-then-200?id={sid}&delay_ms=400", transformResponse="json.attempt"),
                 env=env)
    assert r.output == 2
    assert r.timing["attempts"] == 2
    assert seen(mock, "/script/slow-then-200", sid) == 2


def test_total_timeout_ends_the_call_without_retrying(api: Api, mock: MockServer, sid: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        api.call(entry(mock, f"/slow?delay_ms=400&id={sid}"), timeout_ms=100)
    assert time.monotonic() - t0 < 0.35
    assert info.value.which == "total"
    assert "Request timed out after 100 ms (total timeout" in str(info.value)
    assert seen(mock, "/slow", sid) == 1


def test_request_timeout_ms_env_is_the_total_timeout(api: Api, mock: MockServer, sid: str) -> None:
    with pytest.raises(DeadlineExceeded) as info:
        api.call(entry(mock, f"/slow?delay_ms=400&id={sid}"), env={**FAST, "REQUEST_TIMEOUT_MS": "100"})
    assert info.value.which == "total"
    assert seen(mock, "/slow", sid) == 1
