"""The WebSocket endpoints under /ws/. Each runs one accepted connection to its end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from . import _content as content
from . import _http_routes
from ._limits import MAX_DELAY_MS, MAX_WS_MESSAGES, MAX_WS_NOISE, WS_LIFETIME_S
from ._model import RecordedRequest, Reply, ServerState
from ._params import BadParam, Query
from ._sockets import close_writer
from ._ws_session import BadHandshake, PeerGone, WsSession

WsHandler = Callable[[WsSession, Query], Awaitable[None]]


def _text_of(message: str | bytes) -> str:
    raw = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
    return content.prompt_of(raw)


async def _next_prompt(ws: WsSession, query: Query) -> str:
    """The prompt of the client's next message, after the endpoint's ``delay_ms``."""
    message = await ws.receive()
    delay = query.seconds("delay_ms", 0, MAX_DELAY_MS)
    if delay:
        await asyncio.sleep(delay)
    return _text_of(message)


async def echo_json(ws: WsSession, query: Query) -> None:
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        await ws.send_text(content.dumps({"reply": content.echo(prompt)}))


async def stream(ws: WsSession, query: Query) -> None:
    step = query.seconds("interval_ms", 0, MAX_DELAY_MS)
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        for i, piece in enumerate(content.pieces(content.echo(prompt))):
            if i and step:
                await asyncio.sleep(step)
            await ws.send_text(content.dumps({"type": "chunk", "content": piece}))
        await ws.send_text(content.dumps({"type": "done"}))


async def deltas(ws: WsSession, query: Query) -> None:
    step = query.seconds("interval_ms", 0, MAX_DELAY_MS)
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        answer = content.echo(prompt)
        for i, piece in enumerate(content.pieces(answer)):
            if i and step:
                await asyncio.sleep(step)
            await ws.send_text(content.dumps({"type": "delta", "delta": piece, "complete": False}))
        await ws.send_text(content.dumps({"type": "final", "text": answer, "complete": True}))


async def noise(ws: WsSession, query: Query) -> None:
    count = query.integer("noise", 3, 0, MAX_WS_NOISE)
    step = query.seconds("interval_ms", 0, MAX_DELAY_MS)
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        for i in range(count):
            frame = {"type": "typing"} if i % 2 == 0 else {"type": "status", "status": "thinking"}
            await ws.send_text(content.dumps(frame))
            if step:
                await asyncio.sleep(step)
        await ws.send_text(content.dumps({"reply": content.echo(prompt)}))


async def close_early(ws: WsSession, query: Query) -> None:
    code = query.integer("code", 1011, 1000, 4999)
    reason = query.get("reason", "mock server closed early") or ""
    await _next_prompt(ws, query)
    if query.has("partial"):
        await ws.send_text(content.dumps({"type": "chunk", "content": query.get("partial")}))
    await ws.close(code, reason)


async def drop(ws: WsSession, query: Query) -> None:
    await _next_prompt(ws, query)
    if query.has("partial"):
        await ws.send_text(content.dumps({"type": "chunk", "content": query.get("partial")}))
    ws.drop(reset=query.flag("reset"))


async def silent(ws: WsSession, query: Query) -> None:
    for _ in range(MAX_WS_MESSAGES):
        await ws.receive()


async def binary(ws: WsSession, query: Query) -> None:
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        if query.flag("raw"):
            await ws.send_bytes(b"\xff\xfe\x00\x01not utf-8")
        else:
            await ws.send_bytes(content.dumps_bytes({"reply": content.echo(prompt)}))


async def ping(ws: WsSession, query: Query) -> None:
    wait = query.seconds("pong_timeout_ms", 2000, MAX_DELAY_MS)
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        ws.pongs.clear()
        await ws.ping(b"mock-ping")
        got = await ws.wait_pong(wait)
        await ws.send_text(content.dumps({"reply": content.echo(prompt), "pong": got}))


async def chat(ws: WsSession, query: Query) -> None:
    """A service that keeps the conversation per connection (``connectionScope: conversation``).

    ``?ready=1`` sends ``READY`` first; ``?token=T`` wants ``{"type":"auth","token":T}``
    before any prompt (answers ``{"type":"auth_ok"}``, closes 1008 otherwise);
    ``?drop_after=N`` drops TCP after the N-th reply.
    """
    if query.flag("ready"):
        await ws.send_text("READY")
    token = query.get("token")
    if token is not None:
        hello = content.parse_json(_raw_text(await ws.receive()))
        if not (isinstance(hello, dict) and hello.get("type") == "auth" and hello.get("token") == token):
            await ws.close(1008, "authenticate first")
            return
        await ws.send_text(content.dumps({"type": "auth_ok"}))
    drop_after = query.integer("drop_after", 0, 0, MAX_WS_MESSAGES)
    history: list[str] = []
    for _ in range(MAX_WS_MESSAGES):
        prompt = await _next_prompt(ws, query)
        history.append(prompt)
        await ws.send_text(content.dumps({"reply": content.echo(prompt), "turn": len(history),
                                          "history": history}))
        if drop_after and len(history) >= drop_after:
            ws.drop(reset=False)
            return


def _raw_text(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode("utf-8", errors="replace")


HANDLERS: dict[str, WsHandler] = {
    "/ws/chat": chat,
    "/ws/echo-json": echo_json,
    "/ws/stream": stream,
    "/ws/deltas": deltas,
    "/ws/noise": noise,
    "/ws/close-early": close_early,
    "/ws/drop": drop,
    "/ws/silent": silent,
    "/ws/binary": binary,
    "/ws/ping": ping,
}


def refusal(request: RecordedRequest) -> Reply | None:
    """The HTTP answer for a handshake the server will not accept, else None."""
    query = request.params
    if request.path == "/ws/reject":
        try:
            status = query.integer("status", 403, 200, 599)
        except BadParam as exc:
            return _http_routes.error_reply(400, str(exc))
        reason = query.get("reason")
        body = query.get("body") or f"WebSocket handshake refused with {status}"
        reply = _http_routes.text_reply(body, status, reason=reason)
        return Reply(status=status, headers=(*reply.headers, *_safe_headers(query)),
                     chunks=reply.chunks, reason=reason)
    if request.path not in HANDLERS:
        return _http_routes.error_reply(404, f"no mock WebSocket endpoint at {request.path}")
    return None


def _safe_headers(query: Query) -> tuple[tuple[str, str], ...]:
    with contextlib.suppress(BadParam):
        return tuple(query.headers())
    return ()


async def run(request: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
              trailing: bytes, state: ServerState) -> None:
    """Accept the upgrade and run the endpoint until it or the client ends the connection."""
    session = WsSession(request, reader, writer)
    try:
        await session.accept(trailing)
    except BadHandshake as exc:
        message = f"bad WebSocket handshake: {exc}".encode()
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message))
        await close_writer(writer)
        return
    handler = HANDLERS[request.path]
    try:
        async with asyncio.timeout(WS_LIFETIME_S):
            await handler(session, request.params)
    except PeerGone:
        pass
    except TimeoutError:
        await session.close(1001, "mock server connection lifetime reached")
    except BadParam as exc:
        await session.close(1008, str(exc))
    except ConnectionError:
        session.drop(reset=False)
    # The endpoint finished its script: close politely unless it already ended the connection.
    await session.close(1000, "")
