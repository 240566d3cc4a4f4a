"""One HTTP/1.1 request/response exchange over ``h11``, as a sub-flow of a call.

h11 does all framing; this module only moves bytes between h11 and the
action/event vocabulary, enforces our limits and deadlines, and decides
whether the socket may go back to the pool (h11's DONE/DONE states). Each
exchange gets a fresh ``h11.Connection``: connection reuse is the binding's
pool, not h11's cycle, so one pooled socket never carries stale state.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import h11

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
from .message import header_bytes
from .prepared import PreparedRequest

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
    body: bytes
    reused: bool
    # Monotonic instants: request written, first response byte, end of body.
    sent_at: float
    first_byte_at: float
    done_at: float


def encode_request(conn: h11.Connection, req: PreparedRequest) -> bytes:
    """The request head and body as bytes, validated by h11 (our error on failure)."""
    try:
        headers = [(k.encode("ascii"), header_bytes(v)) for k, v in req.headers]
        out = conn.send(h11.Request(method=req.method.encode("ascii"), target=req.target.encode("ascii"),
                                    headers=headers))
        if req.body:
            out += conn.send(h11.Data(data=req.body))
        out += conn.send(h11.EndOfMessage())
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        raise LocalProtocolError(f"cannot send this request: {exc}") from None
    return out or b""


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
    event = yield A.Open(conn_id, req.scheme, req.host, req.port, tls, clock.open_deadline())
    if isinstance(event, E.TimedOut):
        # Whichever deadline ended it (connect or total), the connection was
        # never made: a connect timeout, retried like other network failures.
        raise DeadlineExceeded(_timeout_text("connect", clock.open_ms(), "connecting to " + _origin(req)),
                               "connect")
    if isinstance(event, E.OpenFailed):
        raise transport_error(f"cannot connect to {_origin(req)}", event)
    reused = expect(event, E.Opened).reused

    h = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.max_response_head)
    try:
        data = encode_request(h, req)
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

    started = eof = False
    first_byte_at = sent_at
    head: ResponseHead | None = None
    listener: BodyListener | None = None
    body = bytearray()
    max_body = limits.max_response_body
    while True:
        try:
            ev = h.next_event()
        except h11.RemoteProtocolError as exc:
            yield A.Close(conn_id)
            if eof:
                raise _eof_error(started, reused) from None
            raise RemoteProtocolError(f"invalid HTTP response from {_origin(req)}: {exc}") from None
        if ev is h11.NEED_DATA:
            event = yield A.Read(conn_id, limits.read_chunk, clock.read_deadline(ctx.now, started))
            if isinstance(event, E.Received):
                if not event.data and h.their_state is not h11.SEND_BODY:
                    # EOF where h11 cannot end the message: before any byte,
                    # or inside the head. (Inside a body h11 decides: a
                    # close-delimited body ends here, a framed one is cut.)
                    yield A.Close(conn_id)
                    raise _eof_error(started, reused)
                eof = not event.data
                if event.data and not started:
                    started = True
                    first_byte_at = ctx.now.mono
                h.receive_data(event.data)
                continue
            yield A.Close(conn_id)
            if isinstance(event, E.TimedOut):
                name, ms = clock.which(ctx.now, "read", started)
                raise DeadlineExceeded(_timeout_text(name, ms, "waiting for the response"), name,
                                       response_started=started)
            failed = expect(event, E.ReadFailed)
            raise transport_error("reading the response failed", failed, response_started=started,
                                  reused=reused)
        if isinstance(ev, h11.Response):
            head = ResponseHead(
                ev.status_code,
                ev.reason.decode("latin-1"),
                # h11 hands names over lower-cased already.
                tuple((k.decode("ascii"), v.decode("latin-1")) for k, v in ev.headers),
            )
            if on_head is not None:
                listener = on_head(head)
        elif isinstance(ev, h11.Data):
            if len(body) + len(ev.data) > max_body:
                yield A.Close(conn_id)
                raise LimitExceeded(f"response body exceeds {max_body} bytes (limits.max_response_body)")
            body += ev.data
            if listener is not None:
                for delta in listener(bytes(ev.data)):
                    yield A.Emit(delta)
        elif isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)):
            break
        # InformationalResponse (1xx) is skipped: the final response follows.
    assert head is not None
    # Bytes after the end of the response are nothing we asked for (a server
    # that answers twice, or smuggles a second response): never reuse such a
    # connection, or the next call would read them as its answer.
    reusable = h.our_state is h11.DONE and h.their_state is h11.DONE and not h.trailing_data[0]
    yield A.Release(conn_id, reusable=reusable)
    return RawResponse(head.status, head.reason, head.headers, bytes(body), reused,
                       sent_at, first_byte_at, ctx.now.mono)


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
