"""The WebSocket handshake with HTTP's features: ``auth``, ``tls`` and the retry policy.

promptfoo's WebSocket provider has none of these (docs/compat.md); here a
``ws``/``wss`` target takes the HTTP provider's blocks as they are:

* ``auth`` — bearer, basic and API key (header, or query parameter appended
  to the request-target) from ``auth.static``; OAuth (with its token cache)
  and file auth run as the same pre-steps HTTP uses (``auth.steps``) before
  the handshake, and their ``token`` becomes ``Authorization: Bearer``.
* ``tls`` — the ``TlsParams`` of ``config.tls`` for ``wss://`` (SNI from the
  URL's host unless ``servername`` is set).
* retries — each attempt opens a socket and sends the upgrade; a refusal
  (429 with its ``Retry-After``, transient 502/503/504) or a network failure
  is judged by ``http.retry`` through ``http.attempts.run_attempts``, exactly
  as an HTTP request is. Once the upgrade is accepted nothing is retried: the
  message may have reached the service.
* a conversation's socket (``connectionScope: conversation``) — the first
  attempt asks the binding for the conversation's kept socket; a live one is
  used as it is (no handshake), a dead one replaced (``ws.conversation``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import actions as A
from .. import events as E
from ..auth.prestep import PreStep
from ..auth.static import StaticAuth
from ..auth.steps import compile_auth_steps
from ..call import CallContext, expect
from ..config.timeouts import Timeouts
from ..errors import DeadlineExceeded, HttpStatusError, PromptwireError, RetriesExhausted
from ..http.attempts import ATTEMPT_ERRORS, AttemptFlow, failed_attempt, run_attempts
from ..http.retry import Outcome, RetryPolicy
from ..http.urls import parse_query, serialize_query
from ..js.engine import JsEngine
from ..limits import Limits
from ..ratelimit import RateLimiter, wait_for_token
from ..sources import Sources
from ..templating import TemplateEngine
from ..transport import transport_error
from .conversation import Conversations
from .io import WsIo, ms_text
from .url import WsUrl
from .wire import Accepted, Closed, Failed, Rejected, WsWire

# Statuses promptfoo keeps in its message and its scheduler retries.
RETRYABLE_HANDSHAKE = frozenset({429, 502, 503, 504})


class HandshakeAuth:
    """A compiled ``auth`` block for the handshake: its token steps and static part."""

    __slots__ = ("static", "steps")

    def __init__(self, static: StaticAuth | None, steps: list[PreStep]) -> None:
        self.static = static
        self.steps = steps

    @classmethod
    def compile(cls, auth: Any, sources: Sources, engine: TemplateEngine, *, tls: A.TlsParams | None,
                js: JsEngine | None) -> HandshakeAuth:
        return cls(StaticAuth.compile(auth, engine), compile_auth_steps(auth, sources, engine, tls=tls, js=js))

    def run_steps(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
                  timeouts: Timeouts, limits: Limits) -> Generator[A.Action, E.Event | None, dict[str, Any]]:
        """The vars the token steps add (``token``, ``expiration``) for this call."""
        added: dict[str, Any] = {}
        for step in self.steps:
            added.update((yield from step.run(ctx, {**vars, **added}, context, timeouts, limits)))
        return added

    def header(self, vars: Mapping[str, Any]) -> tuple[str, str] | None:
        return self.static.header(vars) if self.static is not None else None

    def query(self, vars: Mapping[str, Any]) -> tuple[str, str] | None:
        return self.static.query(vars) if self.static is not None else None


def with_query_param(target: str, pair: tuple[str, str]) -> str:
    """``url.searchParams.append(name, value)`` on a request-target (the query is re-serialized)."""
    path, _, query = target.partition("?")
    params = parse_query(query)
    params.append(pair)
    return path + "?" + serialize_query(params)


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """One call's rendered upgrade request."""

    url: WsUrl
    tls: A.TlsParams | None
    host: str
    target: str
    headers: list[tuple[str, bytes]]
    offered: list[str]


@dataclass
class OpenSocket:
    """A connection whose upgrade was accepted, and what arrived with the acceptance."""

    io: WsIo
    pending: list[Any] = field(default_factory=list)
    attempts: int = 1
    reused: bool = False  # a conversation's kept socket: no handshake, no init messages


@dataclass(frozen=True, slots=True)
class Keep:
    """Where a conversation's socket is kept: the core's wires and the call's tag."""

    conversations: Conversations
    tag: tuple[Any, ...]


def _still_open(io: WsIo, readable: bool) -> Generator[A.Action, E.Event | None, bool]:
    """Whether a kept socket is still usable: what arrived while it was idle is read
    (one read: frames the last call left behind are dropped), a close or EOF is not."""
    if not readable:
        return True
    try:
        feed = yield from io.read(handshake=False)
        yield from io.reply(feed)
    except PromptwireError:
        return False
    return not any(isinstance(o, (Closed, Failed)) for o in feed.outcomes) and io.wire.is_open


def open_socket(ctx: CallContext, policy: RetryPolicy, req: HandshakeRequest, deadline: float,
                total_ms: float, limits: Limits, idle_ms: float | None,
                rate_limiter: RateLimiter | None = None,
                keep: Keep | None = None) -> Generator[A.Action, E.Event | None, OpenSocket]:
    """Connect and handshake, with retries; ``HttpStatusError`` for a final refusal.

    Every connection takes a rate-limit token (docs/retries.md): the caller took
    the first attempt's (outside the call's deadline), a retry takes its own.
    With ``keep``, the first attempt takes the conversation's kept socket if it
    is alive (``OpenSocket.reused``).
    """

    refused: list[Rejected | None] = [None]  # the last attempt's refusal, if it was one
    tried = [0]

    def attempt() -> AttemptFlow[OpenSocket | Rejected]:
        refused[0] = None
        tried[0] += 1
        if tried[0] > 1 and rate_limiter is not None:
            yield from wait_for_token(rate_limiter, ctx)
        url = req.url
        route = None if ctx.proxy is None else ctx.proxy.route(url.scheme, url.host)
        tag = None if keep is None else keep.tag
        reuse, replaces = keep is not None and tried[0] == 1, None
        while True:
            conn = ctx.new_conn()
            event = yield A.Open(conn, url.scheme, url.host, url.port, req.tls, deadline, reuse_ok=reuse,
                                 proxy=route, keep_tag=tag, replaces=replaces)
            event = expect(event, E.Opened, E.OpenFailed, E.TimedOut)
            if isinstance(event, E.TimedOut):
                raise DeadlineExceeded(f"WebSocket request timed out after {ms_text(total_ms)}ms "
                                       "(while connecting)")
            if isinstance(event, E.OpenFailed):
                return failed_attempt(transport_error(
                    f"WebSocket connection failed ({event.kind.value.upper()})", event))
            if not event.reused:
                break
            kept = None if keep is None else keep.conversations.take(keep.tag)
            if kept is not None:
                io = WsIo(ctx, conn, kept, deadline, total_ms, limits.read_chunk, idle_ms)
                if (yield from _still_open(io, event.readable)):
                    return Outcome.response(101, "Switching Protocols"), OpenSocket(io, reused=True), None
            reuse, replaces = False, conn  # dead, or not ours: a fresh socket in its place
        wire = WsWire(limits.max_ws_message, limits.max_ws_handshake)
        io = WsIo(ctx, conn, wire, deadline, total_ms, limits.read_chunk, idle_ms)
        try:
            yield from io.write(wire.start(req.host, req.target, req.headers, req.offered), handshake=True)
            while True:
                feed = yield from io.read(handshake=True)
                yield from io.reply(feed)
                outcomes = list(feed.outcomes)
                first = outcomes.pop(0) if outcomes else None
                if isinstance(first, Rejected):
                    refused[0] = first
                    yield A.Close(conn)
                    return Outcome.response(first.status, "", first.headers), first, None
                if isinstance(first, Accepted):
                    return Outcome.response(101, "Switching Protocols"), OpenSocket(io, outcomes), None
        except DeadlineExceeded:
            yield A.Close(conn)
            raise
        except ATTEMPT_ERRORS as err:
            yield A.Close(conn)
            return failed_attempt(err)
        except PromptwireError:
            yield A.Close(conn)
            raise

    try:
        result, attempts = yield from run_attempts(ctx, policy, attempt, deadline=deadline)
    except RetriesExhausted as err:
        last = refused[0]
        if last is None:
            raise
        raise _refusal(last, f" ({err.message})") from None
    if isinstance(result, Rejected):
        raise _refusal(result, f" (after {attempts} attempts)" if attempts > 1 else "")
    assert isinstance(result, OpenSocket)
    result.attempts = attempts
    return result


def _refusal(rejected: Rejected, history: str) -> HttpStatusError:
    return HttpStatusError(
        f"WebSocket connection failed (HTTP {rejected.status}): the server refused the upgrade{history}",
        rejected.status,
        retryable=rejected.status in RETRYABLE_HANDSHAKE,
    )


__all__ = ["RETRYABLE_HANDSHAKE", "HandshakeAuth", "HandshakeRequest", "Keep", "OpenSocket", "open_socket",
           "with_query_param"]
