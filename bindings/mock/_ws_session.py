"""A server-side WebSocket connection on wsproto, with the few verbs the endpoints need."""

from __future__ import annotations

import asyncio
import contextlib

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ._limits import MAX_WS_MESSAGE, READ_CHUNK, WS_CLOSE_WAIT_S
from ._model import RecordedRequest
from ._sockets import abort, close_writer


class PeerGone(Exception):
    """The client closed (or dropped) the connection."""


class BadHandshake(Exception):
    """The upgrade request is not a valid WebSocket handshake (e.g. no Sec-WebSocket-Key)."""


class WsSession:
    """Accepts the upgrade, then reads whole messages, answering pings and closes itself."""

    def __init__(self, request: RecordedRequest, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.request = request
        self.reader = reader
        self.writer = writer
        self.ws = WSConnection(ConnectionType.SERVER)
        self.pongs: list[bytes] = []
        self.close_code: int | None = None
        self._pong_seen = asyncio.Event()
        self._parts: list[str | bytes] = []
        self._size = 0
        self._queue: list[str | bytes] = []
        self._dropped = False

    async def accept(self, trailing: bytes) -> None:
        """Answer the handshake (first offered subprotocol, no extensions) and take any early bytes."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.request.headers]
        try:
            self.ws.initiate_upgrade_connection(headers, self.request.target)
            events = list(self.ws.events())
        except RemoteProtocolError as exc:
            raise BadHandshake(str(exc))
        subprotocol = None
        for event in events:
            if isinstance(event, Request) and event.subprotocols:
                subprotocol = event.subprotocols[0]
        self.writer.write(self.ws.send(AcceptConnection(subprotocol=subprotocol)))
        await self.writer.drain()
        if trailing:
            self.ws.receive_data(trailing)

    @property
    def open(self) -> bool:
        return self.ws.state is ConnectionState.OPEN

    # ---------------------------------------------------------------- receiving

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next whole message from the client; PeerGone when it closed or dropped."""
        async with asyncio.timeout(timeout):
            while not self._queue:
                self._drain_events()
                if self._queue:
                    break
                if self.ws.state in (ConnectionState.CLOSED, ConnectionState.REMOTE_CLOSING,
                                     ConnectionState.LOCAL_CLOSING) and not self._queue:
                    raise PeerGone
                await self._read()
        message = self._queue.pop(0)
        self.request.messages.append(message)
        return message

    async def wait_pong(self, timeout: float) -> bool:
        """True when a pong arrives within ``timeout`` (messages meanwhile are queued)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self.pongs:
                    self._drain_events()
                    if self.pongs:
                        break
                    await self._read()
        return bool(self.pongs)

    async def _read(self) -> None:
        data = await self.reader.read(READ_CHUNK)
        if not data:
            self.ws.receive_data(None)
            self._drain_events()
            raise PeerGone
        try:
            self.ws.receive_data(data)
        except RemoteProtocolError:
            raise PeerGone

    def _drain_events(self) -> None:
        for event in self.ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self._collect(event)
            elif isinstance(event, Ping):
                self._send_raw(event.response())
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if self.ws.state is ConnectionState.REMOTE_CLOSING:
                    self._send_raw(event.response())

    def _collect(self, event: TextMessage | BytesMessage) -> None:
        self._size += len(event.data)
        if self._size > MAX_WS_MESSAGE:
            self._send_raw(CloseConnection(code=1009, reason="message too big"))
            return
        self._parts.append(event.data if isinstance(event.data, str) else bytes(event.data))
        if event.message_finished:
            if isinstance(event, TextMessage):
                self._queue.append("".join(p for p in self._parts if isinstance(p, str)))
            else:
                self._queue.append(b"".join(p for p in self._parts if isinstance(p, bytes)))
            self._parts = []
            self._size = 0

    # ---------------------------------------------------------------- sending

    def _send_raw(self, event: object) -> None:
        with contextlib.suppress(LocalProtocolError):
            self.writer.write(self.ws.send(event))  # type: ignore[arg-type]

    async def send_text(self, text: str) -> None:
        self._send_raw(TextMessage(data=text))
        await self.writer.drain()

    async def send_bytes(self, data: bytes) -> None:
        self._send_raw(BytesMessage(data=data))
        await self.writer.drain()

    async def ping(self, payload: bytes) -> None:
        self._send_raw(Ping(payload=payload))
        await self.writer.drain()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, wait briefly for the client's reply, then close TCP."""
        if self._dropped:
            return
        if self.open:
            self._send_raw(CloseConnection(code=code, reason=reason))
            with contextlib.suppress(Exception):
                await self.writer.drain()
            with contextlib.suppress(PeerGone, TimeoutError, ConnectionError):
                async with asyncio.timeout(WS_CLOSE_WAIT_S):
                    while self.ws.state is not ConnectionState.CLOSED:
                        await self._read()
                        self._drain_events()
        await close_writer(self.writer)

    def drop(self, *, reset: bool) -> None:
        """End TCP with no close frame (a FIN, or a RST with ``reset``)."""
        self._dropped = True
        abort(self.writer, reset=reset)
