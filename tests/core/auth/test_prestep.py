"""Pre-step helpers: one HTTP fetch (with or without the retry policy) and its body as fetch shows it."""

from __future__ import annotations

import gzip
import random
from collections import OrderedDict
from collections.abc import Callable

from sansio_core import actions as A
from sansio_core.auth.prestep import fetch, response_text, touch_lru
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import FailureKind, RetriesExhausted, TransportError
from sansio_core.http.exchange import RawResponse
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.retry import RetryPolicy
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = Instant(3.0, 1_700_000_000.0)
REQ = PreparedRequest("POST", "http", "auth.test", 80, "/token", (("host", "auth.test"), ("content-length", "2")),
                      b"{}", "http://auth.test/token")


def raw(headers: tuple[tuple[str, str], ...], body: bytes) -> RawResponse:
    return RawResponse(200, "OK", headers, body, False, 0.0, 0.0, 0.0)


def test_response_text_decodes_the_body_and_drops_coding_headers() -> None:
    body = gzip.compress('\ufeff{"token":"t"}'.encode())
    text, headers = response_text(raw((("content-encoding", "gzip"), ("content-length", str(len(body))),
                                       ("set-cookie", "a=1"), ("set-cookie", "b=2")), body), Limits())
    assert text == '{"token":"t"}'
    assert headers == {"set-cookie": "a=1,b=2"}  # repeats joined with "," (header_map)


def test_response_text_of_an_identity_body() -> None:
    text, headers = response_text(raw((("content-encoding", "identity"), ("content-length", "3")), b"ok\xff"),
                                  Limits())
    assert text == "ok\ufffd" and headers == {"content-encoding": "identity", "content-length": "3"}


def test_touch_lru_marks_recent_and_ignores_missing_keys() -> None:
    cache: OrderedDict[str, int] = OrderedDict(a=1, b=2)
    touch_lru(cache, "a")
    touch_lru(cache, "gone")
    assert list(cache) == ["b", "a"]


def fetch_call(policy: RetryPolicy | None) -> Call:
    def flow(ctx: CallContext) -> Flow:
        got = yield from fetch(ctx, REQ, tls=None, timeouts=Timeouts(5000), limits=Limits(), policy=policy)
        return ProviderResponse(status=got.status, body=got.body.decode())

    return Call(flow, CallContext(now=T0, rng=random.Random(0)))


def replies(*items: ServerReply) -> tuple[list[SeenRequest], Callable[[SeenRequest], ServerReply]]:
    seen: list[SeenRequest] = []
    it = iter(items)

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return next(it)

    return seen, handler


def test_fetch_with_the_policy_retries_a_transient_status() -> None:
    seen, handler = replies(ServerReply(503, [], b"busy", reason=b"Service Unavailable"), ServerReply(200, [], b"ok"))
    end, _ = run_against(fetch_call(RetryPolicy(max_retries=2, backoff_base_ms=10, jitter_ms=0,
                                                  transient_base_ms=10)), handler)
    assert isinstance(end, A.Complete) and end.response == {"status": 200, "body": "ok"}
    assert len(seen) == 2 and seen[0].target == "/token"


def test_fetch_with_the_policy_retries_a_dropped_connection_then_gives_up() -> None:
    seen, handler = replies(*[ServerReply(raw=b"", close=True)] * 2)
    end, _ = run_against(fetch_call(RetryPolicy(max_retries=1, backoff_base_ms=10, jitter_ms=0)),
                         handler)
    assert isinstance(end, A.Fail) and isinstance(end.error, RetriesExhausted)
    assert len(seen) == 2


def test_fetch_without_a_policy_makes_one_attempt() -> None:
    seen, handler = replies(ServerReply(raw=b"", close=True), ServerReply(200, [], b"never"))
    end, _ = run_against(fetch_call(None), handler)
    assert isinstance(end, A.Fail)
    assert isinstance(end.error, TransportError) and end.error.kind is FailureKind.EOF
    assert len(seen) == 1


def test_fetch_without_a_policy_returns_any_status() -> None:
    _, handler = replies(ServerReply(500, [], b"err"))
    end, _ = run_against(fetch_call(None), handler)
    assert isinstance(end, A.Complete) and end.response == {"status": 500, "body": "err"}
