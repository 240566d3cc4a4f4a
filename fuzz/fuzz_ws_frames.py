"""Fuzz the WebSocket client after a valid handshake: arbitrary server bytes.

Invariant (h11 ``fuzz/README.rst`` style): whatever the server sends once it
has accepted the upgrade, the call ends in ``Complete`` or in ``Fail`` with a
``PromptwireError`` (never a wsproto/h11 exception, never a hang), and how
the bytes are split into reads does not change the outcome. Input layout
(``_common.split_input``): byte 0 picks the message size limit, byte 1 where
to cut and whether ``streamResponse`` collects every message; the rest is
what the server sends.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from sansio_core import actions as A
    from sansio_core.errors import PromptwireError
    from sansio_core.limits import Limits
    from sansio_core.sources import Sources
    from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
    from sansio_core.timebase import Instant
    from sansio_core.ws.flow import WsTarget

from _common import Outcome, check_chunking, split_input


def _collect(acc: Any, event: Any, context: Any) -> Any:
    seen = (acc.get("output") or []) if isinstance(acc, dict) else []
    seen = [*seen, event["data"]]
    return [{"output": seen}, len(seen) >= 3]


def run(chunks: list[bytes], limit: int, stream: bool) -> Outcome:
    config: dict[str, Any] = {"messageTemplate": "{{ prompt }}", "timeoutMs": 1000}
    if stream:
        config["streamResponse"] = _collect
    target = WsTarget.compile("ws://127.0.0.1:9/fuzz", config, Sources(), {}, limits=Limits(max_ws_message=limit))
    call = target.new_call("x", {}, None, now=Instant(0.0, 0.0), seed=0)
    server = ScriptedWsServer(on_message=[("raw", c) for c in chunks if c])
    terminal = run_ws_call(call, server).terminal
    if isinstance(terminal, A.Complete):
        return [dict(terminal.response)], None
    assert isinstance(terminal, A.Fail)
    if not isinstance(terminal.error, PromptwireError):  # pragma: no cover - Fail only holds ours
        raise AssertionError(f"foreign error escaped: {terminal.error!r}")
    name = type(terminal.error).__name__
    # A frame that is both too big and malformed fails either way, but which
    # check fires first depends on how much of it had arrived: the split may
    # pick the error, never whether the call fails.
    if name in ("LimitExceeded", "RemoteProtocolError"):
        name = "bad frames"
    return [], name


def test_one_input(data: bytes) -> None:
    limit, cut, payload = split_input(data)
    stream = bool(cut & 1)
    check_chunking(lambda chunks: run(chunks, limit, stream), payload, cut)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
