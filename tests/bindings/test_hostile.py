"""Hostile servers, every binding: each call ends cleanly within its deadline + 1 s.

The server (``hostile_server.py``) runs in its own process, so the file
descriptors counted here are the client's alone. Each scenario is one target
whose URL carries ``?m={{m}}``: the first call (``m=hostile``) meets the
misbehaviour and must end in a ``PromptwireError`` (or the right output)
within ``timeoutMs`` + 1 s; the second call on the same target (``m=ok``) must
work; after the target is closed the open files are back to their baseline.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target

from sansio_core.errors import PromptwireError
from sansio_core.response import ProviderResponse

BINDINGS = ["sync", "asyncio", "trio"]
TIMEOUT_MS = 1000
SLACK_S = 1.0
ENV = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}


@dataclass(frozen=True)
class Scenario:
    name: str
    expect: str  # regex the error message must match, or "=<output>" for a correct answer
    ws: bool = False
    retries: int = 0


S = Scenario
TIMEOUT = r"timed out|timeout"
PROTOCOL = r"invalid|protocol|malformed|response"
SCENARIOS = [
    S("silent", TIMEOUT),
    S("slowloris_head", TIMEOUT + "|exceeds|too (long|large)"),
    S("slowloris_headers", TIMEOUT + "|exceeds|too (long|large)"),
    S("slow_body", TIMEOUT),
    S("continue_flood", TIMEOUT + "|exceeds|too many"),
    S("continue_drip", TIMEOUT + "|too many"),
    S("processing_then_ok", "=fine"),
    S("huge_header", r"exceed|too (long|large)|invalid"),
    S("many_headers", r"exceed|too (long|large)|invalid"),
    S("huge_status_line", r"exceed|too (long|large)|invalid"),
    S("bad_chunk_size", PROTOCOL),
    S("overflow_chunk_size", PROTOCOL + "|exceeds"),
    S("endless_chunk_ext", PROTOCOL + "|exceeds|" + TIMEOUT),
    S("negative_length", PROTOCOL),
    S("conflicting_lengths", PROTOCOL),
    S("bad_status", PROTOCOL),
    S("garbage", PROTOCOL),
    S("bad_header_bytes", PROTOCOL),
    S("gzip_bomb", r"exceeds|larger than"),
    S("deflate_bomb", r"exceeds|larger than"),
    S("bad_gzip", r"gzip|decod|compress"),
    S("body_too_large", r"exceeds|" + TIMEOUT),
    S("endless_chunked", r"exceeds|" + TIMEOUT),
    S("truncated_length", r"closed|before the response was complete|incomplete"),
    S("truncated_chunked", r"closed|incomplete"),
    S("reset_mid_body", r"reset|closed"),
    S("reset_before_answer", r"reset|closed"),
    S("close_before_answer", r"closed|reset"),
    S("half_close", r"closed"),
    S("longer_than_length", "=fine"),
    S("keepalive_then_close", "=fine"),
    S("unsolicited_after", "=fine"),
    S("status_500", "=boom"),
    S("retry_after_huge", r"rate limit", retries=2),
    S("sse_flood", r"exceeds|" + TIMEOUT),
    S("sse_drip", TIMEOUT),
    S("sse_huge_event", r"exceeds|event"),
    S("sse_comment_flood", r"exceeds|" + TIMEOUT),
    S("ndjson_flood", r"exceeds|" + TIMEOUT),
    S("redirect_loop", r"redirect"),
    S("redirect_chain", r"redirect"),
    S("redirect_to_ok", "=fine"),
    S("redirect_307_echo", "=POST {\"prompt\":\"hi\"}"),
    S("redirect_bad_location", r"redirect"),
    S("redirect_to_closed_port", r"refused"),
    S("redirect_ftp", r"redirect"),
    S("ws_ping_flood", TIMEOUT, ws=True),
    S("ws_fragment_flood", TIMEOUT + "|exceeds", ws=True),
    S("ws_silent", TIMEOUT, ws=True),
    S("ws_huge_frame", r"exceeds|too (large|big)|limit|" + TIMEOUT, ws=True),
    S("ws_bad_frame", r"websocket|protocol|reserved", ws=True),
    S("ws_close_at_once", r"websocket|closed|1011", ws=True),
    S("ws_bad_accept", r"websocket|accept|handshake", ws=True),
    S("ws_slow_handshake", TIMEOUT + r"|websocket", ws=True),
]
SLOW = {"slowloris_headers", "continue_drip", "sse_drip", "ws_silent", "silent", "slow_body"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, int]]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("hostile_server.py"))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    port, closed = map(int, proc.stdout.readline().split())
    try:
        yield port, closed
    finally:
        proc.stdin.close()
        proc.wait(5)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def entry(port: int, s: Scenario) -> dict[str, Any]:
    if s.ws:
        return {"id": f"ws://127.0.0.1:{port}/{s.name}?m={{{{m}}}}",
                "config": {"messageTemplate": "{{prompt}}", "timeoutMs": TIMEOUT_MS}}
    return {"id": f"http://127.0.0.1:{port}/{s.name}?m={{{{m}}}}",
            "config": {"method": "POST", "body": {"prompt": "{{prompt}}"}, "maxRetries": s.retries,
                       "timeoutMs": TIMEOUT_MS}}


def run_pair(binding: str, config: dict[str, Any]) -> tuple[Any, float, Any]:
    """(first outcome, its duration, second outcome) on one target, then closed."""
    def timed_sync(target: Target, m: str) -> tuple[Any, float]:
        t0 = time.monotonic()
        try:
            out: Any = target.call("hi", vars={"m": m})
        except PromptwireError as exc:
            out = exc
        return out, time.monotonic() - t0

    if binding == "sync":
        with Target.from_config(config, env=ENV, seed=1) as target:
            first, took = timed_sync(target, "hostile")
            second, _ = timed_sync(target, "ok")
        return first, took, second

    async def main() -> tuple[Any, float, Any]:
        target = AsyncTarget.from_config(config, env=ENV, seed=1)

        async def one(m: str) -> tuple[Any, float]:
            t0 = time.monotonic()
            try:
                out: Any = await target.call("hi", vars={"m": m})
            except PromptwireError as exc:
                out = exc
            return out, time.monotonic() - t0

        try:
            first, took = await one("hostile")
            second, _ = await one("ok")
        finally:
            await target.aclose()
        return first, took, second

    if binding == "trio":
        return trio.run(main)
    return asyncio.run(main())


def settle_fds(baseline: int) -> int:
    for _ in range(40):
        gc.collect()
        now = open_fds()
        if now <= baseline:
            return now
        time.sleep(0.05)
    return open_fds()


def check(s: Scenario, outcome: Any) -> None:
    if s.expect.startswith("="):
        assert isinstance(outcome, ProviderResponse), f"{s.name}: {outcome!r}"
        assert outcome.output == s.expect[1:], outcome.output
        if s.name == "redirect_to_ok":  # metadata names the final URL, as fetch's response.url
            assert outcome["metadata"]["http"]["url"].endswith("/final?m=ok")
            assert outcome["metadata"]["http"]["redirected"] is True
    else:
        assert isinstance(outcome, PromptwireError), f"{s.name}: expected an error, got {outcome!r}"
        assert re.search(s.expect, str(outcome), re.IGNORECASE), f"{s.name}: {outcome}"


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("s", [pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.name in SLOW else [])
                               for s in SCENARIOS])
def test_hostile(server: tuple[int, int], binding: str, s: Scenario) -> None:
    port, _ = server
    baseline = open_fds()
    first, took, second = run_pair(binding, entry(port, s))
    check(s, first)
    assert took <= TIMEOUT_MS / 1000 + SLACK_S, f"{s.name} took {took:.2f}s"
    assert isinstance(second, ProviderResponse), f"next call failed: {second!r}"
    assert second.output == "fine", second.output
    assert settle_fds(baseline) <= baseline, "file descriptors leaked"


def test_scenario_count() -> None:
    assert len(SCENARIOS) >= 40


@pytest.fixture
def unanswering() -> Iterator[int]:
    """A listening socket whose accept queue is full: a new connect is never answered."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers: list[socket.socket] = []
    for _ in range(16):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
        time.sleep(0.02)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
        filled = False
    except (TimeoutError, OSError):
        filled = True
    finally:
        probe.close()
    if not filled:
        pytest.skip("the kernel accepted past a full backlog")
    try:
        yield port
    finally:
        for c in fillers:
            c.close()
        srv.close()


@pytest.mark.parametrize("binding", BINDINGS)
def test_connect_never_answers(unanswering: int, binding: str) -> None:
    config = {"id": f"http://127.0.0.1:{unanswering}/x?m={{{{m}}}}",
              "config": {"method": "POST", "body": {"prompt": "{{prompt}}"}, "maxRetries": 0,
                         "timeoutMs": TIMEOUT_MS}}
    baseline = open_fds()
    first, took, _ = run_pair(binding, config)
    assert isinstance(first, PromptwireError), first
    assert "connect timeout" in str(first), str(first)
    assert took <= TIMEOUT_MS / 1000 + SLACK_S
    assert settle_fds(baseline) <= baseline
