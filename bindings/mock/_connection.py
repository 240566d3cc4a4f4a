"""One client connection: HTTP/1.1 over h11 with keep-alive, handing WebSocket upgrades to wsproto."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl

import h11

from . import _http_routes, _ws_routes
from ._limits import (
    KEEPALIVE_IDLE_S,
    MAX_REQUEST_BODY,
    MAX_REQUEST_HEAD,
    MAX_REQUESTS_PER_CONNECTION,
    READ_CHUNK,
)
from ._model import RecordedRequest, Reply, ServerState
from ._sockets import abort, close_writer

SERVER_HEADER = ("server", "promptwire-mock")


class _Closed(Exception):
    """The peer went away or the connection must end; nothing more to send."""


class HttpConnection:
    """Serves requests on one socket until the client closes, an error, or a cap."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState) -> None:
        self.reader = reader
        self.writer = writer
        self.state = state
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)

    async def run(self) -> None:
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                request = await self._read_request()
                if request is None:
                    return
                if request.kind == "websocket":
                    await self._websocket(request)
                    return
                reply = _http_routes.route(request, self.state)
                if not await self._send(reply, head_only=request.method == "HEAD"):
                    return
                if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
                    return
                self.conn.start_next_cycle()
        except (_Closed, ConnectionError, TimeoutError):
            return
        finally:
            await close_writer(self.writer)

    # ---------------------------------------------------------------- reading

    async def _receive(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(READ_CHUNK), timeout)
        self.conn.receive_data(data)

    async def _read_request(self) -> RecordedRequest | None:
        """The next complete request, or None when the client closed between requests."""
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc.error_status_hint, f"bad request: {exc}")
                raise _Closed from exc
            if event is h11.NEED_DATA:
                if self.conn.they_are_waiting_for_100_continue:
                    self._write(self.conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
                try:
                    await self._receive(KEEPALIVE_IDLE_S)
                except TimeoutError:
                    if head is not None:
                        await self._refuse(408, "request timed out")
                    raise _Closed
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_REQUEST_BODY:
                    await self._refuse(413, f"request body over {MAX_REQUEST_BODY} bytes")
                    raise _Closed
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                request = _record(head, bytes(body))
                self.state.record(request)
                return request
            else:  # ConnectionClosed, or PAUSED after a refused upgrade
                return None

    async def _refuse(self, status: int, message: str) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        reply = _http_routes.error_reply(status, message)
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            await self._send(Reply(status=reply.status, headers=(*reply.headers, ("connection", "close")),
                                   chunks=reply.chunks), head_only=False)

    # ---------------------------------------------------------------- writing

    def _write(self, data: bytes | None) -> None:
        if data:
            self.writer.write(data)

    async def _send(self, reply: Reply, *, head_only: bool) -> bool:
        """Send a reply as described; False when the connection must end after it."""
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.ending in ("close-before-head", "reset-before-head"):
            abort(self.writer, reset=reply.ending == "reset-before-head")
            return False
        headers = [SERVER_HEADER, *reply.headers]
        if not reply.streamed:
            length = reply.length if reply.length is not None else sum(len(c.data) for c in reply.chunks)
            headers.append(("content-length", str(length)))
        reason = reply.reason if reply.reason is not None else _http_routes._standard_reason(reply.status)
        # A plain reply goes out in one write (one syscall); a stream is written
        # chunk by chunk, as a real streaming server does, so clients see the
        # pieces arrive separately when there is a delay between them.
        pending = bytearray(self.conn.send(h11.Response(status_code=reply.status, headers=headers,
                                                        reason=reason.encode("latin-1"))) or b"")
        if not head_only:
            for chunk in reply.chunks:
                if chunk.delay:
                    await self._flush(pending)
                    await asyncio.sleep(chunk.delay)
                if chunk.data:
                    pending += self.conn.send(h11.Data(data=chunk.data)) or b""
                if reply.streamed:
                    await self._flush(pending)
        if reply.ending in ("drop", "reset"):
            await self._flush(pending)
            abort(self.writer, reset=reply.ending == "reset")
            return False
        pending += self.conn.send(h11.EndOfMessage()) or b""
        await self._flush(pending)
        return True

    async def _flush(self, pending: bytearray) -> None:
        if pending:
            self.writer.write(bytes(pending))
            pending.clear()
            await self.writer.drain()

    # ---------------------------------------------------------------- websocket

    async def _websocket(self, request: RecordedRequest) -> None:
        refusal = _ws_routes.refusal(request)
        if refusal is not None:
            # h11 treats a non-101 answer to an upgrade as a refused upgrade, so
            # the connection may even stay usable for plain HTTP afterwards.
            await self._send(refusal, head_only=False)
            return
        event = self.conn.next_event()
        if event is not h11.PAUSED:  # pragma: no cover - h11 always pauses after an upgrade request
            return
        trailing, _closed = self.conn.trailing_data
        await _ws_routes.run(request, self.reader, self.writer, trailing, self.state)


def _record(head: h11.Request, body: bytes) -> RecordedRequest:
    target = head.target.decode("latin-1")
    path, _, query = target.partition("?")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()]
    upgrade = any(k.lower() == "upgrade" and v.lower() == "websocket" for k, v in headers)
    return RecordedRequest(
        kind="websocket" if upgrade and head.method == b"GET" else "http",
        method=head.method.decode("ascii"),
        target=target,
        path=path,
        query=parse_qsl(query, keep_blank_values=True),
        headers=headers,
        body=body,
        http_version=head.http_version.decode("ascii"),
    )
