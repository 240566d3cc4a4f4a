"""Steps that run before a call's request is built, with exchanges of their own.

promptfoo's pipeline (spec 5.1) fetches an OAuth token (or calls the file
auth function), signs, and calls a session endpoint before it renders the
request; each adds vars (``token``, ``expiration``,
``signature``/``signatureTimestamp``, ``sessionId``) and keeps a cache on the
target (a token until its refresh buffer, a signature for 90% of its
validity, the sessions it obtained). A step is a sub-flow: it may yield
``Open``/``Write``/``Read`` actions like any flow (use ``fetch``
below, or ``http.exchange.exchange``, for an HTTP exchange) and returns the vars it
adds. Steps run in raw ``request:`` mode too: promptfoo resolves them before
it branches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .. import actions as A
from .. import events as E
from ..call import CallContext
from ..config.timeouts import Timeouts
from ..config.tls import tls_for
from ..errors import RemoteProtocolError, TransportError
from ..http.attempts import ATTEMPT_ERRORS, AttemptFlow, failed_attempt, run_attempts
from ..http.exchange import RawResponse, exchange
from ..http.prepared import PreparedRequest
from ..http.response_plan import header_map
from ..http.retry import Outcome, RetryPolicy
from ..limits import Limits
from ..streams.content_coding import decode_all
from ..streams.http_stream import body_text

if TYPE_CHECKING:
    pass

StepFlow = Generator[A.Action, "E.Event | None", dict[str, Any]]
FetchFlow = Generator[A.Action, "E.Event | None", RawResponse]


class PreStep(Protocol):
    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        """Yield actions as needed; return the vars to add for this call."""
        ...


def response_text(raw: RawResponse, limits: Limits) -> tuple[str, dict[str, str]]:
    """The body as text (Content-Encoding removed, UTF-8, BOM dropped) and the headers
    as fetch shows them: lower-case names, repeats joined, coding headers gone once decoded."""
    headers = header_map(raw.headers)
    coding = headers.get("content-encoding")
    body = raw.body
    if coding and coding.strip().lower() != "identity":
        body = decode_all(coding, bytes(body), limits.max_decoded_body)
        headers.pop("content-encoding", None)
        headers.pop("content-length", None)
    return body_text(body), headers


def touch_lru(cache: OrderedDict[str, Any], key: str) -> None:
    """Mark ``key`` most recently used if it is still there (a step's cache may be
    shared by calls on several threads; a lost race costs a request, never a crash)."""
    try:
        cache.move_to_end(key)
    except KeyError:
        pass


def fetch(ctx: CallContext, req: PreparedRequest, *, tls: A.TlsParams | None, timeouts: Timeouts,
          limits: Limits, policy: RetryPolicy | None) -> FetchFlow:
    """One request of a pre-step, with the target's retry policy (``None``: a single
    attempt, except that a pooled connection the server had closed is tried once
    more on a fresh one, since that request never reached the server)."""
    if policy is None:
        stale_retry_used = False
        while True:
            try:
                got: RawResponse = yield from exchange(ctx, req, tls=tls, timeouts=timeouts, limits=limits)
            except (TransportError, RemoteProtocolError) as err:
                if getattr(err, "reused", False) and not getattr(err, "response_started", False) \
                        and not stale_retry_used:
                    stale_retry_used = True
                    continue
                raise
            return got

    def attempt() -> AttemptFlow[RawResponse]:
        try:
            got: RawResponse = yield from exchange(ctx, req, tls=tls, timeouts=timeouts, limits=limits)
        except ATTEMPT_ERRORS as err:
            return failed_attempt(err)
        text = got.body.decode("utf-8", "replace")
        return Outcome.response(got.status, got.reason, got.headers, text), got, None

    result, _attempts = yield from run_attempts(ctx, policy, attempt)
    return result


__all__ = ["FetchFlow", "PreStep", "StepFlow", "fetch", "response_text", "tls_for", "touch_lru"]
