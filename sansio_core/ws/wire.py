"""The client side of one WebSocket connection, on ``wsproto``, reduced to what a call needs.

wsproto parses and frames but never replies on its own: the application must
answer pings and echo close frames, join fragments, and tell a close frame
from a framing error (both arrive as ``CloseConnection``). ``WsWire`` does all
of that and hands the flow only *outcomes* — accepted, rejected, a complete
message, closed — plus the bytes that must be written back. Every wsproto or
h11 exception is translated here, once, into promptwire's errors, so nothing
else ever sees a library exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError as WsLocalProtocolError
from wsproto.utilities import RemoteProtocolError as WsRemoteProtocolError

from ..errors import LimitExceeded, LocalProtocolError, PromptwireError, RemoteProtocolError
from ..limits import MAX_WS_HANDSHAKE

# Close code the client sends when it is done: an empty close payload, which
# the server reports as 1005 "no status received" — what promptfoo's
# ``ws.close()`` sends.
NO_STATUS = int(CloseReason.NO_STATUS_RCVD)
ABNORMAL = int(CloseReason.ABNORMAL_CLOSURE)
TOO_BIG = int(CloseReason.MESSAGE_TOO_BIG)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server switched protocols; ``subprotocol`` is what it selected."""

    subprotocol: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The server answered the upgrade with a normal HTTP response."""

    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class WsMessage:
    """One complete message. ``text`` is set for text frames and UTF-8 binary payloads."""

    payload: bytes
    binary: bool
    text: str | None


@dataclass(frozen=True, slots=True)
class Closed:
    """The server sent a close frame, or the connection ended without one (1006)."""

    code: int
    reason: str
    clean: bool  # a close frame arrived (False: TCP ended first)


@dataclass(frozen=True, slots=True)
class Failed:
    """The server broke the protocol or a limit, after any messages that came before.

    Reported in order rather than raised, so that how bytes were split into
    reads never changes which comes first: a complete message, or the failure.
    """

    error: PromptwireError


Outcome = Accepted | Rejected | WsMessage | Closed | Failed


@dataclass
class Feed:
    """What one ``receive`` produced: outcomes in order, and bytes to write back."""

    outcomes: list[Outcome] = field(default_factory=list)
    reply: bytes = b""


def close_frame(mask: bytes) -> bytes:
    """A masked close frame with no status (the server sees 1005), as ``WsWire.close``
    sends; for a binding to send when it closes a kept socket the wire no longer drives."""
    return b"\x88\x80" + mask[:4]


def _str_headers(headers: Sequence[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers)


class WsWire:
    """One client connection: ``start()`` gives the handshake bytes, ``receive()`` the rest.

    One wire per connection: one call's, as promptfoo opens a socket per call, or
    a conversation's (``ws.conversation``), kept between its calls.
    """

    __slots__ = ("_buffer", "_buffer_binary", "_conn", "_handshake_bytes", "_max_handshake", "_max_message",
                 "_offered", "_owed", "_partial", "_raw", "_state", "fast_path")

    def __init__(self, max_message: int, max_handshake: int = MAX_WS_HANDSHAKE) -> None:
        self._conn = WSConnection(ConnectionType.CLIENT)
        # The handshake response is bounded by our limit, not h11's 16 KiB
        # default: wsproto keeps its h11 connection in ``_h11_connection``.
        handshake = self._conn.handshake
        if hasattr(handshake, "_h11_connection"):
            handshake._h11_connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_handshake)
        self._max_handshake = max_handshake
        self._handshake_bytes = 0
        self._max_message = max_message
        self._offered: tuple[str, ...] = ()
        self._buffer = bytearray()
        self._buffer_binary = False
        # Whole unfragmented data frames are read without wsproto (``_fast_frames``);
        # tests turn it off to compare both paths byte for byte.
        self.fast_path = True
        self._partial = False  # wsproto is inside a fragmented message
        self._raw = bytearray()  # bytes of a data frame not complete yet (fast path)
        self._state = "new"  # new -> handshake -> open -> closed | rejected
        # A close frame decided while failing (framing error, size limit),
        # handed out by the next close() so the flow can still send it.
        self._owed = b""

    @property
    def is_open(self) -> bool:
        """True when a close frame may still be sent."""
        return self._state == "open" and self._conn.state in (
            ConnectionState.OPEN,
            ConnectionState.REMOTE_CLOSING,
        )

    def start(
        self,
        host_header: str,
        target: str,
        headers: Sequence[tuple[str, bytes]],
        subprotocols: Sequence[str],
    ) -> bytes:
        """The upgrade request. ``headers`` are extra (name, encoded value) pairs."""
        self._offered = tuple(subprotocols)
        self._state = "handshake"
        try:
            return self._conn.send(
                Request(
                    host=host_header,
                    target=target,
                    extra_headers=[(name.encode("ascii"), value) for name, value in headers],
                    subprotocols=list(subprotocols),
                )
            )
        except (WsLocalProtocolError, UnicodeError) as exc:
            raise LocalProtocolError(f"cannot send the WebSocket handshake: {exc}") from None
        except Exception as exc:  # h11 validates names/values and raises its own errors
            raise LocalProtocolError(f"cannot send the WebSocket handshake: {exc}") from None

    def send_text(self, text: str) -> bytes:
        """One complete text message (the rendered ``messageTemplate``)."""
        if self._state != "open" or self._conn.state is not ConnectionState.OPEN:
            return b""
        return self._conn.send(Message(data=text))

    def close(self, code: int = NO_STATUS, reason: str = "") -> bytes:
        """Our close frame, if one may still be sent; ``b""`` otherwise."""
        if self._owed:
            data, self._owed = self._owed, b""
            return data
        if not self.is_open:
            return b""
        try:
            if code == NO_STATUS:
                # wsproto sends an empty close payload only for the enum member itself.
                data = self._conn.send(CloseConnection(code=CloseReason.NO_STATUS_RCVD))
            else:
                data = self._conn.send(CloseConnection(code=code, reason=reason or None))
        except WsLocalProtocolError:
            return b""
        self._state = "closed"
        return data

    def receive(self, data: bytes) -> Feed:
        """Feed bytes from the server (``b""`` is EOF) and collect what they mean."""
        feed = Feed()
        if self._state in ("closed", "rejected"):
            return feed
        eof = data == b""
        if eof and self._state == "handshake":
            self._state = "closed"
            raise RemoteProtocolError("the server closed the connection during the WebSocket handshake")
        if self._state == "handshake":
            self._handshake_bytes += len(data)
        elif not eof and (self._raw or self._fast_ready()):
            data = self._fast_frames(data, feed)
            if not data:
                return feed
        held, self._raw = bytes(self._raw), bytearray()  # EOF inside a fast frame: wsproto judges it
        try:
            if held:
                self._conn.receive_data(held)
            self._conn.receive_data(None if eof else data)
            self._drain(feed)
        except WsRemoteProtocolError as exc:
            if self._state == "handshake":
                self._check_handshake_size()
                raise RemoteProtocolError(f"invalid WebSocket handshake response: {exc}") from None
            raise RemoteProtocolError(f"the server broke the WebSocket protocol: {exc}") from None
        except WsLocalProtocolError as exc:  # pragma: no cover - guarded by _state
            raise RemoteProtocolError(f"the server broke the WebSocket protocol: {exc}") from None
        if self._state == "handshake":
            self._check_handshake_size()
        if eof and self._state == "open":
            # wsproto reports EOF during the handshake as nothing at all and
            # after it as CloseConnection(1006); make sure it is never lost.
            self._state = "closed"
            feed.outcomes.append(Closed(ABNORMAL, "connection dropped without a close frame", False))
        return feed

    # -- the fast path: whole data frames without wsproto ------------------------------

    def _fast_ready(self) -> bool:
        """Frames may bypass wsproto: the connection is open, no fragmented message is
        in progress, and wsproto holds no partial frame of its own."""
        if not self.fast_path or self._state != "open" or self._partial or self._owed:
            return False
        if self._conn.state is not ConnectionState.OPEN:
            return False
        decoder = getattr(getattr(getattr(self._conn, "connection", None), "_proto", None), "_frame_decoder", None)
        return decoder is not None and decoder.header is None and len(decoder.buffer) == 0

    def _fast_frames(self, data: bytes, feed: Feed) -> bytes:
        """Read the whole, final, unmasked text and binary frames at the front of the
        bytes; return the rest (from the first other frame on) for wsproto.

        A server sends almost nothing else, and wsproto spends ~15 µs on each
        such frame. Exactly wsproto's rules apply: anything it would judge
        (control frames, fragments, reserved bits, a mask, a non-minimal length,
        text that is not UTF-8) goes to it instead, unread.
        """
        raw = self._raw
        raw += data
        pos, end = 0, len(raw)
        while end - pos >= 2:
            b0, b1 = raw[pos], raw[pos + 1]
            if b0 not in (0x81, 0x82) or b1 & 0x80:  # FIN + text/binary, no RSV, no mask
                break
            n, head = b1, 2
            if n == 126:
                if end - pos < 4:
                    break
                n, head = (raw[pos + 2] << 8) | raw[pos + 3], 4
                if n <= 125:
                    break
            elif n == 127:
                if end - pos < 10:
                    break
                n, head = int.from_bytes(raw[pos + 2:pos + 10], "big"), 10
                if n <= 0xFFFF or n >> 63:
                    break
            if n > self._max_message or end - pos < head + n:
                # Not here whole (or too big): wsproto streams it, checking its text
                # and the size limit as the bytes arrive, as before.
                break
            payload = bytes(raw[pos + head:pos + head + n])
            if b0 == 0x81:
                try:
                    text: str | None = payload.decode("utf-8")
                except UnicodeDecodeError:
                    break  # wsproto closes with 1007, as before
                feed.outcomes.append(WsMessage(payload, False, text))
            else:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                feed.outcomes.append(WsMessage(payload, True, text))
            pos += head + n
        rest = bytes(raw[pos:])
        if end - pos >= 2 and raw[pos] in (0x81, 0x82) and not raw[pos + 1] & 0x80 and \
                raw[pos + 1] & 0x7F in (126, 127) and end - pos < (4 if raw[pos + 1] & 0x7F == 126 else 10):
            return self._keep(pos)  # the extended length is still arriving
        if end - pos >= 2 or (rest and raw[pos] not in (0x81, 0x82)):
            self._raw = bytearray()
            return rest  # a frame for wsproto, and everything after it
        return self._keep(pos)

    def _keep(self, pos: int) -> bytes:
        """Hold an incomplete fast frame until more bytes arrive."""
        del self._raw[:pos]
        return b""

    # -- internals ---------------------------------------------------------------------

    def _check_handshake_size(self) -> None:
        if self._handshake_bytes > self._max_handshake:
            self._state = "closed"
            raise LimitExceeded(
                f"the WebSocket handshake response exceeded {self._max_handshake} bytes without completing "
                "(limits.MAX_WS_HANDSHAKE)"
            )

    def _drain(self, feed: Feed) -> None:
        for event in self._conn.events():
            if self._state in ("closed", "rejected"):
                return
            if isinstance(event, AcceptConnection):
                self._accepted(event, feed)
            elif isinstance(event, RejectConnection):
                self._state = "rejected"
                feed.outcomes.append(Rejected(event.status_code, _str_headers(event.headers)))
                return
            elif isinstance(event, RejectData):  # pragma: no cover - we stop at RejectConnection
                continue
            elif isinstance(event, Ping):
                feed.reply += self._conn.send(event.response())
            elif isinstance(event, CloseConnection):
                self._closed(event, feed)
                return
            elif isinstance(event, (TextMessage, BytesMessage)):
                self._fragment(event, feed)
            # Pong: nothing to do, we never ping.

    def _accepted(self, event: AcceptConnection, feed: Feed) -> None:
        selected = event.subprotocol
        if self._offered and selected is None:
            raise RemoteProtocolError(
                "WebSocket handshake failed: the server selected no subprotocol "
                f"(offered: {', '.join(self._offered)})"
            )
        self._state = "open"
        feed.outcomes.append(Accepted(selected))

    def _closed(self, event: CloseConnection, feed: Feed) -> None:
        code = int(event.code)
        reason = event.reason or ""
        if self._conn.state is ConnectionState.OPEN:
            # wsproto turns a framing error into a CloseConnection without
            # changing state: it is *our* verdict on the server's bytes.
            self._owed = self.close(code, reason[:100])
            feed.outcomes.append(
                Failed(RemoteProtocolError(f"the server broke the WebSocket protocol: {reason} (close code {code})"))
            )
            return
        if self._conn.state is ConnectionState.CLOSED:
            # wsproto's stand-in for EOF (code 1006): receive() reports it once.
            return
        if self._conn.state is ConnectionState.REMOTE_CLOSING:
            feed.reply += self._conn.send(event.response())
        self._state = "closed"
        feed.outcomes.append(Closed(code, reason, True))

    def _fragment(self, event: TextMessage | BytesMessage, feed: Feed) -> None:
        chunk = event.data.encode("utf-8") if isinstance(event, TextMessage) else bytes(event.data)
        if not self._buffer:
            self._buffer_binary = isinstance(event, BytesMessage)
        if len(self._buffer) + len(chunk) > self._max_message:
            self._owed = self.close(TOO_BIG, "message too big")
            self._buffer.clear()
            feed.outcomes.append(Failed(LimitExceeded(
                f"a WebSocket message exceeded {self._max_message} bytes (limits.MAX_WS_MESSAGE); "
                "the connection was closed with code 1009"
            )))
            return
        self._buffer += chunk
        self._partial = not event.message_finished
        if not event.message_finished:
            return
        payload = bytes(self._buffer)
        self._buffer.clear()
        binary = self._buffer_binary
        if binary:
            try:
                text: str | None = payload.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        else:
            text = payload.decode("utf-8")
        feed.outcomes.append(WsMessage(payload, binary, text))


__all__ = [
    "ABNORMAL",
    "NO_STATUS",
    "TOO_BIG",
    "Accepted",
    "Closed",
    "Failed",
    "Feed",
    "Outcome",
    "Rejected",
    "WsMessage",
    "WsWire",
    "close_frame",
]

