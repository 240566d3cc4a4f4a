"""The HTTP endpoints: each is a function from the received request to a ``Reply``.

See docs/mock-server.md for the user-facing description of every endpoint.
"""

from __future__ import annotations

import http
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from . import _content as content
from ._limits import (
    DEFAULT_BOMB_MIB,
    MAX_BOMB_MIB,
    MAX_DELAY_MS,
    MAX_SCRIPT_FAILURES,
    MAX_STREAM_ITEMS,
)
from ._model import Chunk, Ending, RecordedRequest, Reply, ServerState
from ._params import BadParam, Query

JSON = "application/json"
_SSE_HEADERS = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))
_EOLS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}

Handler = Callable[[RecordedRequest, ServerState], Reply]


def json_reply(value: Any, status: int = 200, *, headers: tuple[tuple[str, str], ...] = (),
               reason: str | None = None, delay: float = 0.0) -> Reply:
    return Reply(
        status=status,
        headers=(("content-type", JSON), *headers),
        chunks=(Chunk(content.dumps_bytes(value)),),
        reason=reason,
        delay=delay,
    )


def text_reply(text: str, status: int = 200, *, content_type: str = "text/plain; charset=utf-8",
               reason: str | None = None) -> Reply:
    return Reply(status=status, headers=(("content-type", content_type),),
                 chunks=(Chunk(text.encode("utf-8")),), reason=reason)


def error_reply(status: int, message: str, *, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """An error in OpenAI's shape, which most LLM clients know how to show."""
    return json_reply({"error": {"message": message, "type": "mock_error", "code": status}},
                      status, headers=headers)


def _delay(query: Query) -> float:
    return query.seconds("delay_ms", 0, MAX_DELAY_MS)


# ------------------------------------------------------------------ basics


def chat_completions(req: RecordedRequest, state: ServerState) -> Reply:
    if req.method != "POST":
        return error_reply(405, "use POST for /v1/chat/completions", headers=(("allow", "POST"),))
    body = content.parse_json(req.text)
    if not isinstance(body, dict):
        return error_reply(400, "request body must be a JSON object")
    if not isinstance(body.get("messages"), list):
        return error_reply(400, "'messages' must be a list")
    delay = _delay(req.params)
    completion = content.chat_completion(body)
    if not body.get("stream"):
        return json_reply(completion, delay=delay)
    answer = completion["choices"][0]["message"]["content"]
    options = body.get("stream_options")
    wants_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    chunks = content.chat_chunks(
        content.pieces(answer),
        chunk_id=completion["id"],
        model=completion["model"],
        usage=completion["usage"] if wants_usage else None,
    )
    step = req.params.seconds("interval_ms", 0, MAX_DELAY_MS)
    frames = [Chunk(content.sse_event(content.dumps(c)), step if i else 0.0) for i, c in enumerate(chunks)]
    frames.append(Chunk(content.sse_event("[DONE]"), step))
    return Reply(headers=_SSE_HEADERS, chunks=tuple(frames), delay=delay, streamed=True)


def text(req: RecordedRequest, state: ServerState) -> Reply:
    reply = text_reply(req.params.get("text") or "Hello from the promptwire mock server")
    return Reply(status=reply.status, headers=reply.headers, chunks=reply.chunks, delay=_delay(req.params))


def echo(req: RecordedRequest, state: ServerState) -> Reply:
    parsed = content.parse_json(req.text) if req.body else None
    return json_reply(
        {
            "method": req.method,
            "target": req.target,
            "path": req.path,
            "query": [list(pair) for pair in req.query],
            "headers": [list(pair) for pair in req.headers],
            "body": req.text,
            "json": parsed,
            "http_version": req.http_version,
        },
        req.params.integer("status", 200, 200, 599),
        delay=_delay(req.params),
    )


def status(req: RecordedRequest, state: ServerState) -> Reply:
    raw = req.path[len("/status/"):]
    if not raw.isdigit() or not 200 <= int(raw) <= 599:
        return error_reply(400, f"/status/<code> needs a code in 200..599, got {raw!r}")
    code = int(raw)
    query = req.params
    reason = query.get("reason")
    if reason is None:
        reason = _standard_reason(code)
    if "\r" in reason or "\n" in reason:
        raise BadParam("reason must not contain CR or LF")
    headers = tuple(query.headers())
    if query.has("body"):
        body = query.get("body") or ""
        ctype = query.get("content_type") or ("application/json" if content.parse_json(body) is not None
                                              else "text/plain; charset=utf-8")
        return Reply(status=code, reason=reason, headers=(("content-type", ctype), *headers),
                     chunks=(Chunk(body.encode("utf-8")),), delay=_delay(query))
    return json_reply({"status": code, "reason": reason}, code, reason=reason, headers=headers,
                      delay=_delay(query))


def _standard_reason(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


def session(req: RecordedRequest, state: ServerState) -> Reply:
    sent = req.header("x-session-id") or req.params.get("session_id")
    session_id, turn = state.session_turn(sent)
    prompt = content.prompt_of(req.text) if req.body else ""
    return json_reply(
        {"sessionId": session_id, "turn": turn, "output": content.echo(prompt)},
        headers=(("x-session-id", session_id), ("set-cookie", f"mock_session={session_id}; Path=/")),
    )


def oauth_token(req: RecordedRequest, state: ServerState) -> Reply:
    """An OAuth 2.0 token endpoint (client_credentials and password grants, form body).

    Tokens are ``mock-token-<n>``, counted per server; ``?expires_in=N`` sets
    the lifetime it announces (default 3600, 0 = none announced);
    ``?fail=1`` rejects every request with 401 ``invalid_client``.
    """
    if req.method != "POST":
        return error_reply(405, "the token endpoint takes POST")
    form = dict(parse_qsl(req.text, keep_blank_values=True))
    expires_in = req.params.integer("expires_in", 3600, 0, 10**9)
    grant = form.get("grant_type")
    if grant == "client_credentials":
        ok = bool(form.get("client_id")) and bool(form.get("client_secret"))
    elif grant == "password":
        ok = bool(form.get("username")) and bool(form.get("password"))
    else:
        return json_reply({"error": "unsupported_grant_type"}, 400)
    if not ok or req.params.flag("fail"):
        return json_reply({"error": "invalid_client"}, 401)
    issued = state.next_attempt("oauth-token", "issued")
    answer: dict[str, Any] = {"access_token": f"mock-token-{issued}", "token_type": "bearer"}
    if expires_in:
        answer["expires_in"] = expires_in
    if form.get("scope"):
        answer["scope"] = form["scope"]
    return json_reply(answer)


# ------------------------------------------------------------------ streams


def sse(req: RecordedRequest, state: ServerState) -> Reply:
    """OpenAI-like chunks; content of event i is "tok{i} " unless ?text= is given."""
    query = req.params
    step = query.seconds("delay_ms", 0, MAX_DELAY_MS)
    eol = _EOLS.get(query.get("eol") or "lf")
    if eol is None:
        raise BadParam("eol must be lf, crlf or cr")
    given = query.get("text")
    texts = content.pieces(given) if given is not None else [
        f"tok{i} " for i in range(query.integer("events", 5, 0, MAX_STREAM_ITEMS))
    ]
    chunks = content.chat_chunks(texts, chunk_id="chatcmpl-mock-sse", model=content.DEFAULT_MODEL)
    frames = [Chunk(content.sse_event(content.dumps(c), eol=eol), step if i else 0.0)
              for i, c in enumerate(chunks)]
    if query.flag("done", True):
        frames.append(Chunk(content.sse_event("[DONE]", eol=eol), step))
    return Reply(headers=_SSE_HEADERS, chunks=tuple(frames), streamed=True)


def ndjson(req: RecordedRequest, state: ServerState) -> Reply:
    """Lines {"index": i, "content": "tok{i} "}, each write ending in the middle of a line."""
    query = req.params
    step = query.seconds("delay_ms", 0, MAX_DELAY_MS)
    lines = [content.dumps_bytes({"index": i, "content": f"tok{i} "}) + b"\n"
             for i in range(query.integer("lines", 5, 0, MAX_STREAM_ITEMS))]
    writes: list[bytes] = []
    carry = b""
    for line in lines:
        half = len(line) // 2
        writes.append(carry + line[:half])
        carry = line[half:]
    if carry:
        writes.append(carry)
    frames = tuple(Chunk(data, step if i else 0.0) for i, data in enumerate(writes))
    return Reply(headers=(("content-type", "application/x-ndjson"),), chunks=frames, streamed=True)


def anthropic_stream(req: RecordedRequest, state: ServerState) -> Reply:
    query = req.params
    body = content.parse_json(req.text) if req.body else None
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        prompt = content.last_user_text(body["messages"])
        answer = content.echo(prompt)
    else:
        prompt = ""
        answer = query.get("text") or "Hello from the mock Anthropic stream"
    step = query.seconds("delay_ms", 0, MAX_DELAY_MS)
    events = content.anthropic_events(answer, content.count_tokens(prompt))
    frames = tuple(Chunk(content.sse_event(content.dumps(data), event=name), step if i else 0.0)
                   for i, (name, data) in enumerate(events))
    return Reply(headers=_SSE_HEADERS, chunks=frames, streamed=True)


# ------------------------------------------------------------------ faults


def slow(req: RecordedRequest, state: ServerState) -> Reply:
    delay_ms = req.params.integer("delay_ms", 1000, 0, MAX_DELAY_MS)
    return json_reply({"output": "slow answer", "delay_ms": delay_ms}, delay=delay_ms / 1000.0)


def drop(req: RecordedRequest, state: ServerState) -> Reply:
    ending: Ending = "reset-before-head" if req.params.flag("reset") else "close-before-head"
    return Reply(delay=_delay(req.params), ending=ending)


_MID_BODY = content.dumps_bytes({"output": "this body is cut off in the middle", "padding": "x" * 64})


def drop_mid_body(req: RecordedRequest, state: ServerState) -> Reply:
    ending: Ending = "reset" if req.params.flag("reset") else "drop"
    return Reply(headers=(("content-type", JSON),), chunks=(Chunk(_MID_BODY[: len(_MID_BODY) // 2]),),
                 length=len(_MID_BODY), ending=ending, delay=_delay(req.params))


def drip(req: RecordedRequest, state: ServerState) -> Reply:
    query = req.params
    interval = query.seconds("interval_ms", 500, MAX_DELAY_MS)
    count = query.integer("chunks", 5, 0, MAX_STREAM_ITEMS)
    frames = tuple(Chunk(f"drip {i}\n".encode(), interval if i else 0.0) for i in range(count))
    return Reply(headers=(("content-type", "text/plain; charset=utf-8"),), chunks=frames, streamed=True)


_GZIP_JSON = {"output": "hello from a gzip body", "encoding": "gzip"}


def gzip(req: RecordedRequest, state: ServerState) -> Reply:
    body = content.dumps_bytes(_GZIP_JSON)
    return Reply(headers=(("content-type", JSON), ("content-encoding", "gzip")),
                 chunks=(Chunk(content.gzip_bytes(body)),))


def deflate(req: RecordedRequest, state: ServerState) -> Reply:
    """``deflate`` is the zlib format (RFC 9110 8.4.1.2); ?raw=1 sends bare deflate as some servers do."""
    body = content.dumps_bytes({"output": "hello from a deflate body", "encoding": "deflate"})
    wbits = -15 if req.params.flag("raw") else 15
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    data = compressor.compress(body) + compressor.flush()
    return Reply(headers=(("content-type", JSON), ("content-encoding", "deflate")), chunks=(Chunk(data),))


def gzip_bomb(req: RecordedRequest, state: ServerState) -> Reply:
    mib = req.params.integer("mib", DEFAULT_BOMB_MIB, 1, MAX_BOMB_MIB)
    return Reply(headers=(("content-type", JSON), ("content-encoding", "gzip")),
                 chunks=(Chunk(content.gzip_bomb(mib)),))


# ------------------------------------------------------------------ scripts


def _script_success(name: str, key: str, attempt: int) -> Reply:
    return json_reply({"output": "ok", "attempt": attempt, "script": name, "id": key},
                      headers=(("x-attempt", str(attempt)),))


def script(req: RecordedRequest, state: ServerState) -> Reply:
    """Fail the first ``?fail=N`` (default 1) requests of an ``?id=``, then answer 200."""
    name = req.path[len("/script/"):]
    failure = _SCRIPTS.get(name)
    if failure is None:
        return error_reply(404, f"unknown script {name!r}; known: {', '.join(sorted(_SCRIPTS))}")
    query = req.params
    key = query.get("id") or ""
    fails = query.integer("fail", 1, 0, MAX_SCRIPT_FAILURES)
    attempt = state.next_attempt(name, key)
    if attempt > fails:
        return _script_success(name, key, attempt)
    return failure(query, attempt)


def _attempt_header(attempt: int, query: Query) -> tuple[tuple[str, str], ...]:
    return (("x-attempt", str(attempt)), *query.headers())


def _fail_429(query: Query, attempt: int) -> Reply:
    retry_after = query.get("retry_after", "1")
    headers = _attempt_header(attempt, query)
    if retry_after and retry_after != "none":
        headers = (("retry-after", retry_after), *headers)
    return Reply(status=429, reason=query.get("reason", "Too Many Requests"),
                 headers=(("content-type", JSON), *headers),
                 chunks=(Chunk(content.dumps_bytes({"error": {"message": "Rate limit exceeded",
                                                              "type": "rate_limit", "code": 429}})),))


def _fail_status(default_status: int, default_reason: str) -> Callable[[Query, int], Reply]:
    def fail(query: Query, attempt: int) -> Reply:
        code = query.integer("status", default_status, 200, 599)
        reason = query.get("reason", default_reason) or ""
        if "\r" in reason or "\n" in reason:
            raise BadParam("reason must not contain CR or LF")
        return json_reply({"error": {"message": reason or "error", "code": code}}, code,
                          reason=reason, headers=_attempt_header(attempt, query))
    return fail


def _fail_drop(query: Query, attempt: int) -> Reply:
    return Reply(headers=(("content-type", JSON), *_attempt_header(attempt, query)),
                 chunks=(Chunk(_MID_BODY[: len(_MID_BODY) // 2]),), length=len(_MID_BODY), ending="drop")


def _fail_close(query: Query, attempt: int) -> Reply:
    return Reply(ending="close-before-head")


def _fail_reset(query: Query, attempt: int) -> Reply:
    return Reply(ending="reset-before-head")


def _fail_slow(query: Query, attempt: int) -> Reply:
    delay_ms = query.integer("delay_ms", 2000, 0, MAX_DELAY_MS)
    return json_reply({"output": "late", "attempt": attempt}, delay=delay_ms / 1000.0,
                      headers=_attempt_header(attempt, query))


_SCRIPTS: dict[str, Callable[[Query, int], Reply]] = {
    "429-then-200": _fail_429,
    "503-then-200": _fail_status(503, "Service Unavailable"),
    "503-other": _fail_status(503, "Overloaded"),
    "status-then-200": _fail_status(500, "Internal Server Error"),
    "drop-then-200": _fail_drop,
    "close-then-200": _fail_close,
    "reset-then-200": _fail_reset,
    "slow-then-200": _fail_slow,
}

# ------------------------------------------------------------------ routing

EXACT: dict[str, Handler] = {
    "/v1/chat/completions": chat_completions,
    "/text": text,
    "/echo": echo,
    "/sse": sse,
    "/ndjson": ndjson,
    "/anthropic/stream": anthropic_stream,
    "/slow": slow,
    "/drop": drop,
    "/drop-mid-body": drop_mid_body,
    "/drip": drip,
    "/gzip": gzip,
    "/deflate": deflate,
    "/gzip-bomb": gzip_bomb,
    "/session": session,
    "/oauth/token": oauth_token,
}

PREFIXES: tuple[tuple[str, Handler], ...] = (
    ("/status/", status),
    ("/script/", script),
    ("/echo/", echo),
)


def route(req: RecordedRequest, state: ServerState) -> Reply:
    """Dispatch a request to its endpoint; unknown paths get 404, bad parameters 400."""
    handler = EXACT.get(req.path)
    if handler is None:
        handler = next((h for prefix, h in PREFIXES if req.path.startswith(prefix)), None)
    if handler is None and req.path.startswith("/ws/"):
        return error_reply(426, f"{req.path} is a WebSocket endpoint: send an Upgrade: websocket request",
                           headers=(("upgrade", "websocket"), ("connection", "Upgrade")))
    if handler is None:
        return error_reply(404, f"no mock endpoint at {req.path}")
    try:
        return handler(req, state)
    except BadParam as exc:
        return error_reply(400, str(exc))
