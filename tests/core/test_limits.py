"""Limits: module defaults, per-target overrides, and that the exchange honours them."""

from __future__ import annotations

import random

from sansio_core import actions as A
from sansio_core import limits as L
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import LimitExceeded
from sansio_core.http.exchange import exchange
from sansio_core.http.prepared import PreparedRequest
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(1.0, 1_700_000_000.0)
REQ = PreparedRequest("GET", "http", "h.test", 80, "/", (("host", "h.test"),), None, "http://h.test/")


def test_defaults_are_the_module_constants() -> None:
    limits = Limits()
    assert (limits.max_response_body, limits.read_chunk, limits.max_ws_message, limits.max_session_ids) == (
        L.MAX_RESPONSE_BODY, L.READ_CHUNK, L.MAX_WS_MESSAGE, L.MAX_SESSION_IDS)
    assert L.DEFAULT_TIMEOUT_MS == 300_000


def call(limits: Limits) -> Call:
    def flow(ctx: CallContext) -> Flow:
        raw = yield from exchange(ctx, REQ, tls=None, timeouts=Timeouts(5000), limits=limits)
        return ProviderResponse(body=raw.body.decode())

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def test_read_chunk_sizes_every_read() -> None:
    end, rec = run_against(call(Limits(read_chunk=16)), lambda r: ServerReply(200, [], b"x" * 100))
    assert isinstance(end, A.Complete) and end.response["body"] == "x" * 100
    reads = [a for a, _, _ in rec.steps if isinstance(a, A.Read)]
    assert len(reads) > 5 and {r.max_bytes for r in reads} == {16}


def test_a_body_over_the_limit_is_refused() -> None:
    end, _ = run_against(call(Limits(max_response_body=50)), lambda r: ServerReply(200, [], b"x" * 51))
    assert isinstance(end, A.Fail) and isinstance(end.error, LimitExceeded)
    end, _ = run_against(call(Limits(max_response_body=50)), lambda r: ServerReply(200, [], b"x" * 50))
    assert isinstance(end, A.Complete)
