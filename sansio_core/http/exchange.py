"""One HTTP/1.1 request/response exchange, as a sub-flow of a call.

The codec (``codec.py``: h11 or httptools, the call context's choice) does all
framing; this module only moves bytes between the codec and the action/event
vocabulary, enforces our limits and deadlines, and passes on the codec's
keep-alive decision. Each exchange gets a fresh parser: connection reuse is
the binding's pool, so one pooled socket never carries stale state.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from .. import actions as A
from .. import events as E
from ..call import CallContext, expect
from ..config.timeouts import AttemptClock, Timeouts
from ..errors import (
    DeadlineExceeded,
    FailureKind,
    LimitExceeded,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from ..limits import Limits
from ..transport import transport_error
from . import codecs
from .codec import END, ParseError, ResponseReader, ResponseStart
from .prepared import PreparedRequest
from .request_bytes import encode_request, forwarded

SubFlow = Generator[A.Action, "E.Event | None", "RawResponse"]
# Receives each decoded chunk of the body as it arrives and returns text
# deltas to hand to the caller (streaming); None when nobody listens.
BodyListener = Callable[[bytes], list[str]]


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """What arrived before the body: lets a caller choose a decoder and extractor."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # lower-cased names, latin-1 decoded values

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    # The bytearray the body was read into, not a ``bytes`` copy of it: a
    # large body exists once (see docs/streaming.md, "Memory").
    body: bytes | bytearray
    reused: bool
    # Monotonic instants: request written, first response byte, end of body.
    sent_at: float
    first_byte_at: float
    done_at: float


def exchange(
    ctx: CallContext,
    req: PreparedRequest,
    *,
    tls: A.TlsParams | None,
    timeouts: Timeouts,
    limits: Limits,
    on_head: Callable[[ResponseHead], BodyListener | None] | None = None,
) -> SubFlow:
    """Open (or reuse) a connection, send ``req``, read the whole response.

    Raises ``TransportError`` (with ``response_started`` / ``reused`` set for
    the retry policy), ``DeadlineExceeded`` naming the timeout that fired,
    ``RemoteProtocolError`` and ``LimitExceeded``.
    """
    clock = AttemptClock(timeouts, ctx.now)
    conn_id = ctx.new_conn()
    route = None if ctx.proxy is None else ctx.proxy.route(req.scheme, req.host)
    event = yield A.Open(conn_id, req.scheme, req.host, req.port, tls, clock.open_deadline(), proxy=route)
    if isinstance(event, E.TimedOut):
        # Whichever deadline ended it (connect or total), the connection was
        # never made: a connect timeout, retried like other network failures.
        raise DeadlineExceeded(_timeout_text("connect", clock.open_ms(), "connecting to " + _origin(req)),
                               "connect")
    if isinstance(event, E.OpenFailed):
        raise transport_error(f"cannot connect to {_origin(req)}", event)
    reused = expect(event, E.Opened).reused

    try:
        # Plain http:// through a proxy is forwarded: absolute-form target, Proxy-Authorization.
        data = encode_request(req if route is None or route.tunnel else forwarded(req, route.server))
    except LocalProtocolError:
        yield A.Release(conn_id, reusable=True)
        raise
    event = yield A.Write(conn_id, data, clock.total)
    if not isinstance(event, E.Written):
        # Servers sometimes close early and still answer (httpcore's
        # observation); we cannot read reliably after a failed write on a
        # pooled socket, so report it as a retryable transport failure.
        yield A.Close(conn_id)
        if isinstance(event, E.TimedOut):
            name, ms = clock.which(ctx.now, "write", False)
            raise DeadlineExceeded(_timeout_text(name, ms, "sending the request"), name)
        failed = expect(event, E.WriteFailed)
        raise transport_error("sending the request failed", failed, reused=reused)
    sent_at = ctx.now.mono
    clock.request_sent(ctx.now)

    codec = ctx.http_codec or codecs.DEFAULT
    reader = ResponseReader(codec, head_request=req.method == "HEAD", max_head=limits.max_response_head,
                            request_close=_asks_close(req))
    started = False
    first_byte_at = sent_at
    head: ResponseHead | None = None
    listener: BodyListener | None = None
    body = bytearray()
    max_body = limits.max_response_body
    read_chunk = limits.read_chunk
    done = False
    while not done:
        event = yield A.Read(conn_id, read_chunk, clock.read_deadline(ctx.now, started))
        if type(event) is not E.Received:
            yield A.Close(conn_id)
            if isinstance(event, E.TimedOut):
                name, ms = clock.which(ctx.now, "read", started)
                raise DeadlineExceeded(_timeout_text(name, ms, "waiting for the response"), name,
                                       response_started=started)
            failed = expect(event, E.ReadFailed)
            raise transport_error("reading the response failed", failed, response_started=started,
                                  reused=reused)
        chunk = event.data
        try:
            if chunk:
                if not started:
                    started = True
                    first_byte_at = ctx.now.mono
                got = reader.feed(chunk)
            else:
                # EOF: a close-delimited body ends here; anywhere else the
                # response was cut (before any byte, in the head, in a framed body).
                if not reader.in_body:
                    yield A.Close(conn_id)
                    raise _eof_error(started, reused)
                got = reader.feed_eof()
        except ParseError as exc:
            yield A.Close(conn_id)
            if not chunk:
                raise _eof_error(started, reused) from None
            raise RemoteProtocolError(f"invalid HTTP response from {_origin(req)}: {exc}") from None
        for ev in got:
            if type(ev) is bytes:
                if len(body) + len(ev) > max_body:
                    yield A.Close(conn_id)
                    raise LimitExceeded(f"response body exceeds {max_body} bytes (limits.max_response_body)")
                body += ev
                if listener is not None:
                    for delta in listener(ev):
                        yield A.Emit(delta)
            elif ev is END:
                done = True
                break
            else:
                assert isinstance(ev, ResponseStart)
                head = ResponseHead(ev.status, ev.reason, ev.headers)
                if on_head is not None:
                    listener = on_head(head)
    assert head is not None
    # reader.reusable: HTTP/1.1, framed, no Connection: close, and nothing after
    # the response (a server that answers twice never gets its extra bytes read
    # as the next call's answer).
    yield A.Release(conn_id, reusable=reader.reusable)
    return RawResponse(head.status, head.reason, head.headers, body, reused,
                       sent_at, first_byte_at, ctx.now.mono)


def _asks_close(req: PreparedRequest) -> bool:
    value = req.header("connection")
    return value is not None and "close" in value.lower()


def _eof_error(started: bool, reused: bool) -> TransportError:
    if not started:
        return TransportError("the server closed the connection without sending a response",
                              FailureKind.EOF, reused=reused)
    return TransportError("the server closed the connection before the response was complete",
                          FailureKind.EOF, response_started=True, reused=reused)


def _origin(req: PreparedRequest) -> str:
    return f"{req.scheme}://{req.host}:{req.port}"


def _timeout_text(name: str, ms: float, doing: str) -> str:
    label = {"total": "Request", "connect": "Connect", "first_byte": "First-byte",
             "idle": "Idle"}[name]
    return f"{label} timed out after {ms:g} ms ({name} timeout, while {doing})"


__all__ = ["BodyListener", "RawResponse", "ResponseHead", "encode_request", "exchange"]
