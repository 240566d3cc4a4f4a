"""A WebSocket target (promptfoo's ``ws``/``wss`` provider): compile once, one ``Call`` per prompt.

One call is one connection, as in promptfoo: render the URL, headers and
message; open; handshake; send the message as one text frame; then either
the first message through ``transformResponse`` or every message through
``streamResponse`` until it says complete; close. Where promptfoo hangs or
hides the cause, this flow does not (spec README, ws-provider-spec 13-14):

* a close frame or a dropped connection before completion fails the call
  at once with the close code and reason (``WebSocketClosed``);
* a refused handshake reports its HTTP status (``HttpStatusError``);
* handshake headers are templates rendered per call, like the URL;
* a binary frame whose payload is UTF-8 is read like a text frame.

``timeoutMs`` is one total deadline on every action of the call.
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator, Mapping
from typing import Any

from .. import actions as A
from .. import events as E
from .._version import __version__
from ..call import Call, CallContext, Flow, expect
from ..config.provider import WS_IDS
from ..config.ws import WsConfig, load_ws_config
from ..errors import (
    ConfigError,
    DeadlineExceeded,
    HttpStatusError,
    PromptwireError,
    TargetReportedError,
    TemplateError,
    TransformError,
    WebSocketClosed,
)
from ..hooks import Hook, HookResult, compile_ws_hook
from ..http.message import check_header_name, check_header_value, header_bytes
from ..js.engine import UNDEFINED, JsEngine
from ..js.jsvalue import check_json_depth, is_undefined, js_string, normalize_result
from ..js.jsvalue import js_truthy as truthy
from ..limits import MAX_JSON_DEPTH, WS_CLOSE_GRACE, Limits
from ..proxy import ProxySettings
from ..ratelimit import RateLimiter, wait_for_token
from ..redaction import Secrets
from ..response import ProviderResponse
from ..sources import Sources
from ..templating import TemplateEngine
from ..timebase import Instant
from ..transport import failure_detail, transport_error
from .url import WsUrl, parse_ws_url, redact_url
from .wire import ABNORMAL, Accepted, Closed, Failed, Feed, Rejected, WsMessage, WsWire

# Handshake headers wsproto writes itself; a configured value would be a
# duplicate or a lie (Node's ``ws`` overrides them the same way).
_HANDSHAKE_OWNED = frozenset(
    {"upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
)
# promptfoo's initial accumulator (ws-provider-spec 7.3): handlers that never
# set ``output`` complete with this error.
_INITIAL_ACCUMULATOR = {"error": "unknown error occurred"}
_STREAM_PREFIX = "Error executing streamResponse function: "
# Statuses promptfoo keeps in its message and its scheduler retries.
_RETRYABLE_HANDSHAKE = frozenset({429, 502, 503, 504})


def parse_json_like_js(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``JSON.parse`` semantics: NaN/Infinity are not JSON; raises ``ValueError``,
    and ``LimitExceeded`` for JSON nested deeper than ``max_depth``."""

    def _reject(name: str) -> Any:
        raise ValueError(name)

    check_json_depth(text, max_depth, "WebSocket message JSON")
    return json.loads(text, parse_constant=_reject)


def buffer_json(payload: bytes) -> dict[str, Any]:
    """A non-UTF-8 binary payload as ``JSON.stringify(buffer)`` shows a Node Buffer."""
    return {"type": "Buffer", "data": list(payload)}


def message_data(msg: WsMessage, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``data`` for ``transformResponse``: parsed JSON when it parses, else the text."""
    if msg.text is None:
        return buffer_json(msg.payload)
    try:
        return parse_json_like_js(msg.text, max_depth)
    except ValueError:
        return msg.text


def message_event(msg: WsMessage) -> dict[str, Any]:
    """``data`` for ``streamResponse``: the MessageEvent shape (payload in ``.data``)."""
    payload: Any = msg.text if msg.text is not None else buffer_json(msg.payload)
    return {"type": "message", "data": payload, "isBinary": msg.binary}


def _clean(response: dict[str, Any]) -> ProviderResponse:
    """Drop ``undefined`` members, as JSON serialisation of the JS object would."""
    return ProviderResponse({k: v for k, v in response.items() if not is_undefined(v)})


class WsTarget:
    """A compiled ``ws``/``wss``/``websocket`` provider entry.

    Thread-safety: ``new_call`` may be used from several threads; each call
    owns its state. JavaScript hooks serialise their own evaluation.
    """

    def __init__(
        self,
        *,
        label: str,
        config: WsConfig,
        url_template: Any,
        static_url: WsUrl | None,
        message: Any,
        headers: list[tuple[str, Any]],
        subprotocols: list[str],
        transform: Hook | None,
        stream: Hook | None,
        timeout_ms: float,
        limits: Limits,
        env: Mapping[str, str],
        secrets: Secrets | None = None,
        js: JsEngine | None = None,
    ) -> None:
        self.secrets = secrets if secrets is not None else Secrets()
        self.label = self.secrets.redact(label)
        self._js = js
        self.config = config
        self._url_template = url_template
        self._static_url = static_url
        self._message = message
        self._headers = headers
        self._subprotocols = subprotocols
        self._transform = transform
        self._stream = stream
        self._timeout_ms = timeout_ms
        self._limits = limits
        self._env = env
        self.rate_limiter = RateLimiter.from_config(config)
        # ``proxy`` option or the proxy variables: ws:// and wss:// tunnel (CONNECT).
        self._proxy = ProxySettings.for_target(config.proxy, env)
        if self._proxy is not None:
            self.secrets.learn(self._proxy.secrets())

    @classmethod
    def compile(
        cls,
        entry_id: str,
        raw_config: Mapping[str, Any] | None,
        sources: Sources,
        env: Mapping[str, str] | None = None,
        label: str | None = None,
        *,
        config_env: Mapping[str, Any] | None = None,
        js: JsEngine | None = None,
        limits: Limits | None = None,
        secrets: Secrets | None = None,
    ) -> WsTarget:
        """Validate and compile everything once; ``ConfigError`` on a bad config.

        ``config_env`` is the entry's ``env:`` (overlaid on ``env`` for templates);
        ``js`` lets a binding share a JavaScript engine with an owner per thread.
        """

        env = dict(sources.env if env is None else env)
        config = load_ws_config(raw_config)
        url_source = config.url or (entry_id if entry_id not in WS_IDS else "")
        if not url_source:
            raise ConfigError(
                f"is required when the provider id is {entry_id!r} (or use a ws:// or wss:// id)", "url"
            )
        engine = TemplateEngine.from_env(env, config_env)
        url_template = _compile_template(engine, url_source, "url")
        static_url = None if getattr(url_template, "has_tags", True) else parse_ws_url(url_source)
        message = _compile_template(engine, config.messageTemplate, "messageTemplate")
        headers = [
            (name, _compile_template(engine, value, f"headers.{name}"))
            for name, value in (config.headers or {}).items()
        ]
        for name, _ in headers:
            check_header_name(name, f"headers.{name}")
        js = js or JsEngine(env=env)
        stream = compile_ws_hook("streamResponse", config.streamResponse, sources, js)
        transform = None
        if stream is None:
            if config.transformResponse:
                transform = compile_ws_hook("transformResponse", config.transformResponse, sources, js)
            elif config.responseParser:
                transform = compile_ws_hook("responseParser", config.responseParser, sources, js)
        return cls(
            label=label or redact_url(url_source),
            config=config,
            url_template=url_template,
            static_url=static_url,
            message=message,
            headers=headers,
            subprotocols=config.subprotocols(),
            transform=transform,
            stream=stream,
            timeout_ms=config.timeout_ms(env),
            limits=limits or Limits(),
            env=env,
            secrets=secrets if secrets is not None else Secrets.from_entry(
                entry_id, label, raw_config, env, config_env),
            js=js,
        )

    @property
    def tls_params(self) -> A.TlsParams | None:
        """WebSocket targets have no ``tls`` options (SNI from each URL)."""
        return None

    def new_call(
        self,
        prompt: str,
        vars: Mapping[str, Any],
        context: Mapping[str, Any] | None,
        *,
        now: Instant,
        seed: int,
        timeout_ms: float | None = None,
    ) -> Call:
        """A fresh call; drive it with a binding (or ``ws_testing.run_ws_call`` in tests)."""
        ctx = CallContext(now=now, rng=random.Random(seed), env=self._env)
        ctx.proxy = self._proxy
        if self._js is not None:
            ctx.on_resume = self._js.set_clock
        total_ms = self._timeout_ms if timeout_ms is None else float(timeout_ms)

        def flow(c: CallContext) -> Flow:
            return self._flow(c, prompt, dict(vars), context, total_ms)

        return Call(flow, ctx, scrub=self.secrets.scrub_error)

    # -- rendering -------------------------------------------------------------------

    def _render(self, template: Any, values: Mapping[str, Any], where: str) -> str:
        try:
            text = template.render(values)
        except PromptwireError:
            raise
        except Exception as exc:  # a template's own error, whatever engine raised it
            raise TemplateError(f"{where}: {exc}") from None
        if not isinstance(text, str):  # pragma: no cover - engines return str
            text = str(text)
        if len(text) > self._limits.max_rendered_template:
            raise TemplateError(f"{where}: rendered more than {self._limits.max_rendered_template} characters")
        return text

    def _url(self, values: Mapping[str, Any]) -> WsUrl:
        if self._static_url is not None:
            return self._static_url
        return parse_ws_url(self._render(self._url_template, values, "url"))

    def _handshake_headers(self, values: Mapping[str, Any], url: WsUrl) -> tuple[str, list[tuple[str, bytes]], list[str]]:
        host = url.host_header
        offered = list(self._subprotocols)
        out: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for name, template in self._headers:
            value = check_header_value(name, self._render(template, values, f"headers.{name}"))
            low = name.lower()
            seen.add(low)
            if low == "host":
                host = value.strip()
                continue
            if low == "sec-websocket-protocol":
                # Offered like ``protocols`` so that the server's echo is accepted
                # (promptfoo fails the handshake here, ws-provider-spec 4.4).
                offered += [p.strip() for p in value.split(",") if p.strip() and p.strip() not in offered]
                continue
            if low in _HANDSHAKE_OWNED:
                continue
            out.append((name, header_bytes(value)))
        auth = url.basic_auth()
        if auth and "authorization" not in seen:
            out.append(("Authorization", auth.encode("latin-1")))
        if "user-agent" not in seen:
            out.append(("User-Agent", f"promptwire/{__version__}".encode("ascii")))
        return host, out, offered

    # -- the flow --------------------------------------------------------------------

    def _flow(
        self,
        ctx: CallContext,
        prompt: str,
        vars: dict[str, Any],
        context: Mapping[str, Any] | None,
        total_ms: float,
    ) -> Flow:
        # The wait for a rate-limit token is not part of the call's deadline.
        yield from wait_for_token(self.rate_limiter, ctx)
        deadline = ctx.now.after(total_ms / 1000.0)
        values = {**vars, "prompt": prompt}
        url = self._url(values)
        message = self._render(self._message, values, "messageTemplate")
        host, headers, offered = self._handshake_headers(values, url)

        conn = ctx.new_conn()
        wire = WsWire(self._limits.max_ws_message)
        tls = A.TlsParams(server_name=url.host) if url.tls else None
        route = None if ctx.proxy is None else ctx.proxy.route(url.scheme, url.host)
        event = yield A.Open(conn, url.scheme, url.host, url.port, tls, deadline, reuse_ok=False, proxy=route)
        event = expect(event, E.Opened, E.OpenFailed, E.TimedOut)
        if isinstance(event, E.TimedOut):
            raise DeadlineExceeded(f"WebSocket request timed out after {_ms(total_ms)}ms (while connecting)")
        if isinstance(event, E.OpenFailed):
            raise transport_error(f"WebSocket connection failed ({event.kind.value.upper()})", event)

        try:
            response = yield from self._exchange(ctx, conn, wire, deadline, total_ms, host, url, headers,
                                                 offered, message, vars, prompt, context)
        except PromptwireError:
            yield from _goodbye(ctx, conn, wire)
            raise
        yield from _goodbye(ctx, conn, wire)
        return response

    def _exchange(
        self,
        ctx: CallContext,
        conn: int,
        wire: WsWire,
        deadline: float,
        total_ms: float,
        host: str,
        url: WsUrl,
        headers: list[tuple[str, bytes]],
        offered: list[str],
        message: str,
        vars: dict[str, Any],
        prompt: str,
        context: Mapping[str, Any] | None,
    ) -> Generator[A.Action, E.Event | None, ProviderResponse]:
        io = _Io(conn, wire, deadline, total_ms, self._limits.read_chunk)
        yield from io.write(wire.start(host, url.target, headers, offered), handshake=True)

        # Handshake: read until the server accepts or refuses the upgrade.
        pending: list[Any] = []
        while True:
            feed = yield from io.read(handshake=not wire.is_open)
            yield from io.reply(feed)
            outcomes = list(feed.outcomes)
            first = outcomes.pop(0) if outcomes else None
            if isinstance(first, Rejected):
                raise HttpStatusError(
                    f"WebSocket connection failed (HTTP {first.status}): the server refused the upgrade",
                    first.status,
                    retryable=first.status in _RETRYABLE_HANDSHAKE,
                )
            if isinstance(first, Accepted):
                pending = outcomes
                break

        # The message goes out first, even if the server already spoke
        # (promptfoo sends on 'open', before any 'message' is dispatched).
        yield from io.write(wire.send_text(message))

        call_context = dict(context or {})
        call_context.setdefault("vars", vars)
        call_context.setdefault("prompt", prompt)
        if self._stream is not None:
            return (yield from self._stream_loop(io, pending, call_context))
        msg = yield from _next_message(io, pending)
        return self._single(msg, call_context)

    def _single(self, msg: WsMessage, call_context: dict[str, Any]) -> ProviderResponse:
        data = message_data(msg, self._limits.max_json_depth)
        if self._transform is None:
            # promptfoo's default transform wraps first: server keys mean nothing (WS-38/39).
            response: dict[str, Any] = {"output": data}
        else:
            response = normalize_result(self._transform.call(data, call_context))
        if truthy(response.get("error")):
            raise TargetReportedError(js_string(response["error"]))
        if is_undefined(response.get("output", UNDEFINED)):
            raise TransformError("No output from provider: transformResponse returned no output")
        return _clean(response)

    def _stream_loop(
        self, io: _Io, pending: list[Any], call_context: dict[str, Any]
    ) -> Generator[A.Action, E.Event | None, ProviderResponse]:
        assert self._stream is not None
        accumulator: Any = dict(_INITIAL_ACCUMULATOR)
        emitted = ""
        while True:
            msg = yield from _next_message(io, pending)
            try:
                result = self._stream.call(accumulator, message_event(msg), call_context)
            except TransformError as err:
                # promptfoo wraps every handler failure once more with this prefix.
                raise TransformError(_STREAM_PREFIX + err.message.removeprefix(_STREAM_PREFIX)) from None
            ret = result.value
            if result.is_error or not isinstance(ret, (list, tuple)):
                raise TransformError(
                    f"{_STREAM_PREFIX}it must return [result, complete], got {_kind(ret)}"
                )
            accumulator = ret[0] if len(ret) > 0 else UNDEFINED
            complete = truthy(ret[1]) if len(ret) > 1 else False
            output = accumulator.get("output") if isinstance(accumulator, dict) else None
            if isinstance(output, str) and output.startswith(emitted) and len(output) > len(emitted):
                yield A.Emit(output[len(emitted):])
                emitted = output
            if complete:
                if is_undefined(accumulator):
                    return ProviderResponse()
                shaped = isinstance(accumulator, dict) and ("output" in accumulator or "error" in accumulator)
                return _clean(normalize_result(HookResult(accumulator, provider_shaped=shaped)))


class _Io:
    """Reads and writes of one WebSocket call, all under the call's total deadline."""

    __slots__ = ("conn", "deadline", "read_chunk", "total_ms", "wire")

    def __init__(self, conn: int, wire: WsWire, deadline: float, total_ms: float, read_chunk: int) -> None:
        self.conn = conn
        self.read_chunk = read_chunk
        self.wire = wire
        self.deadline = deadline
        self.total_ms = total_ms

    def _timeout(self, phase: str) -> DeadlineExceeded:
        return DeadlineExceeded(f"WebSocket request timed out after {_ms(self.total_ms)}ms ({phase})")

    def write(self, data: bytes, *, handshake: bool = False) -> Generator[A.Action, E.Event | None, None]:
        if not data:
            return
        event = yield A.Write(self.conn, data, self.deadline)
        event = expect(event, E.Written, E.WriteFailed, E.TimedOut)
        if isinstance(event, E.TimedOut):
            raise self._timeout("while sending")
        if isinstance(event, E.WriteFailed):
            raise _dropped(event, handshake)

    def read(self, *, handshake: bool) -> Generator[A.Action, E.Event | None, Feed]:
        event = yield A.Read(self.conn, self.read_chunk, self.deadline)
        event = expect(event, E.Received, E.ReadFailed, E.TimedOut)
        if isinstance(event, E.TimedOut):
            raise self._timeout("waiting for the handshake" if handshake else "waiting for a message")
        if isinstance(event, E.ReadFailed):
            raise _dropped(event, handshake)
        return self.wire.receive(event.data)

    def reply(self, feed: Feed) -> Generator[A.Action, E.Event | None, None]:
        """Pongs and close echoes the wire owes the server; failures end nothing by themselves."""
        if not feed.reply:
            return
        event = yield A.Write(self.conn, feed.reply, self.deadline)
        expect(event, E.Written, E.WriteFailed, E.TimedOut)


def _next_message(io: _Io, pending: list[Any]) -> Generator[A.Action, E.Event | None, WsMessage]:
    """The next complete message; a close or drop before it fails the call at once."""
    while True:
        while pending:
            outcome = pending.pop(0)
            if isinstance(outcome, WsMessage):
                return outcome
            if isinstance(outcome, Closed):
                raise _closed_error(outcome)
            if isinstance(outcome, Failed):
                raise outcome.error
        feed = yield from io.read(handshake=False)
        yield from io.reply(feed)
        pending.extend(feed.outcomes)


def _goodbye(ctx: CallContext, conn: int, wire: WsWire) -> Generator[A.Action, E.Event | None, None]:
    """Our close frame (no status: the server sees 1005, as with promptfoo), then the socket."""
    data = wire.close()
    if data:
        event = yield A.Write(conn, data, ctx.now.after(WS_CLOSE_GRACE))
        expect(event, E.Written, E.WriteFailed, E.TimedOut)
    yield A.Close(conn)


def _closed_error(closed: Closed) -> WebSocketClosed:
    if not closed.clean:
        return WebSocketClosed(
            f"WebSocket connection dropped by the server before the response was complete "
            f"(code {ABNORMAL}: {closed.reason})",
            ABNORMAL,
            closed.reason,
        )
    reason = f", reason {closed.reason!r}" if closed.reason else ""
    return WebSocketClosed(
        f"WebSocket closed by the server before the response was complete (code {closed.code}{reason})",
        closed.code,
        closed.reason,
    )


def _dropped(event: E.WriteFailed | E.ReadFailed, handshake: bool) -> PromptwireError:
    if handshake:
        return transport_error("WebSocket connection failed during the handshake", event)
    what = failure_detail(event.kind, event.detail)
    return WebSocketClosed(
        f"WebSocket connection dropped by the server before the response was complete (code {ABNORMAL}: {what})",
        ABNORMAL,
        what,
    )


def _ms(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error_text(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if is_undefined(value):
        return "undefined"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _compile_template(engine: Any, source: str, where: str) -> Any:
    try:
        return engine.compile(source)
    except ConfigError:
        raise
    except PromptwireError as exc:
        raise ConfigError(str(exc), where) from None
    except Exception as exc:
        raise ConfigError(f"invalid template: {exc}", where) from None


__all__ = [
    "WsTarget",
    "buffer_json",
    "message_data",
    "message_event",
]
