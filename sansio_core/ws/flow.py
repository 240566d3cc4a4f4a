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

``timeoutMs`` is one total deadline on every action of the call;
``idleTimeoutMs`` bounds each wait for a frame after the handshake. The
handshake takes the HTTP provider's ``auth`` and ``tls`` blocks and its retry
policy (``ws.handshake``); reads and writes are ``ws.io``. Beyond the
reference, ``initMessages`` go out on every new socket before the prompt, and
``connectionScope: conversation`` keeps one socket per conversation across
calls (``ws.conversation``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator, Mapping
from typing import Any

from .. import actions as A
from .. import events as E
from .._version import __version__
from ..call import Call, CallContext, Flow
from ..config.provider import WS_IDS
from ..config.timeouts import Timeouts
from ..config.tls import tls_for_host, tls_params
from ..config.ws import WsConfig, load_ws_config
from ..errors import (
    ConfigError,
    PromptwireError,
    TargetReportedError,
    TemplateError,
    TransformError,
)
from ..hooks import Hook, compile_ws_hook
from ..http.message import check_header_name, check_header_value, header_bytes
from ..http.retry import RetryPolicy
from ..js.engine import UNDEFINED, JsEngine
from ..js.jsvalue import check_json_depth, is_undefined, js_string, normalize_result
from ..js.jsvalue import js_truthy as truthy
from ..limits import MAX_JSON_DEPTH, Limits
from ..proxy import ProxySettings
from ..ratelimit import RateLimiter, wait_for_token
from ..redaction import Secrets
from ..response import ProviderResponse
from ..sources import Sources
from ..templating import TemplateEngine
from ..timebase import Instant
from .conversation import Conversations, InitStep, compile_init_messages, conversation_id, run_init
from .handshake import HandshakeAuth, HandshakeRequest, Keep, open_socket, with_query_param
from .io import WsIo, goodbye, next_message
from .stream_response import buffer_json, clean_response, message_event, stream_loop
from .url import WsUrl, parse_ws_url, redact_url
from .wire import WsMessage, close_frame

# Handshake headers wsproto writes itself; a configured value would be a
# duplicate or a lie (Node's ``ws`` overrides them the same way).
_HANDSHAKE_OWNED = frozenset(
    {"upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
)


def parse_json_like_js(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``JSON.parse`` semantics: NaN/Infinity are not JSON; raises ``ValueError``,
    and ``LimitExceeded`` for JSON nested deeper than ``max_depth``."""

    def _reject(name: str) -> Any:
        raise ValueError(name)

    check_json_depth(text, max_depth, "WebSocket message JSON")
    return json.loads(text, parse_constant=_reject)


def message_data(msg: WsMessage, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``data`` for ``transformResponse``: parsed JSON when it parses, else the text."""
    if msg.text is None:
        return buffer_json(msg.payload)
    try:
        return parse_json_like_js(msg.text, max_depth)
    except ValueError:
        return msg.text


def ws_retry_policy(max_retries: int | None, env: Mapping[str, str]) -> RetryPolicy:
    """The handshake's retry policy: the HTTP one, but only when ``maxRetries`` is set.

    promptfoo's WebSocket provider makes exactly one handshake (the shared
    conformance case ws_handshake_rejected_503 records one request), so that
    stays the default; ``maxRetries: N`` opts into HTTP's rules (429, transient
    5xx, network errors) with N retries.
    """
    return RetryPolicy.from_config(0 if max_retries is None else max_retries, env)


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
        tls: A.TlsParams | None = None,
        auth: HandshakeAuth | None = None,
        retry: RetryPolicy | None = None,
        init: list[InitStep] | None = None,
    ) -> None:
        self._init = init or []
        self._conversations = (Conversations(config.conversationIdleTimeoutMs / 1000.0)
                               if config.connectionScope == "conversation" else None)
        self._tls = tls
        self._auth = auth if auth is not None else HandshakeAuth(None, [])
        self._retry = retry if retry is not None else ws_retry_policy(config.maxRetries, env)
        self._timeouts = Timeouts.build(env, total_ms=timeout_ms)
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
        tls = tls_params(config, sources)
        auth = HandshakeAuth.compile(config.auth, sources, engine, tls=tls, js=js)
        transform = None
        if stream is None:
            if config.transformResponse:
                transform = compile_ws_hook("transformResponse", config.transformResponse, sources, js)
            elif config.responseParser:
                transform = compile_ws_hook("responseParser", config.responseParser, sources, js)
        init = compile_init_messages(config.initMessages,
                                     lambda source, where: _compile_template(engine, source, where))
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
            tls=tls,
            auth=auth,
            retry=ws_retry_policy(config.maxRetries, env),
            init=init,
        )

    @property
    def tls_params(self) -> A.TlsParams | None:
        """The ``tls`` block's settings (before SNI), for a binding to check when it builds."""
        return self._tls

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
        auth = self._auth.header(values)
        seen: set[str] = set()
        for name, template in self._headers:
            low = name.lower()
            if auth is not None and low == auth[0]:
                continue  # the auth block's header replaces it, as for HTTP
            value = check_header_value(name, self._render(template, values, f"headers.{name}"))
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
        if auth is not None:
            check_header_name(auth[0], "auth")
            seen.add(auth[0])
            out.append((auth[0], header_bytes(check_header_value(auth[0], auth[1]))))
            self.secrets.learn([auth[1]])
        url_auth = url.basic_auth()
        if url_auth and "authorization" not in seen:
            out.append(("Authorization", url_auth.encode("latin-1")))
        if "user-agent" not in seen:
            out.append(("User-Agent", f"promptwire/{__version__}".encode("ascii")))
        return host, out, offered

    # -- the flow --------------------------------------------------------------------

    def _request(self, values: Mapping[str, Any]) -> HandshakeRequest:
        url = self._url(values)
        host, headers, offered = self._handshake_headers(values, url)
        target = url.target
        pair = self._auth.query(values)
        if pair is not None:
            self.secrets.learn([pair[1]])
            target = with_query_param(target, pair)
        tls = tls_for_host(self._tls, url.host) if url.tls else None
        return HandshakeRequest(url, tls, host, target, headers, offered)

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
        values: dict[str, Any] = {**vars, "prompt": prompt}
        if self._auth.steps:
            added = yield from self._auth.run_steps(ctx, values, context or {}, self._timeouts.with_total(total_ms),
                                                    self._limits)
            token = added.get("token")
            if isinstance(token, str):  # secret before any code or message sees it
                self.secrets.learn([token])
            values.update(added)
        req = self._request(values)
        message = self._render(self._message, values, "messageTemplate")
        keep = self._keep(vars, req.url)
        sock = yield from open_socket(ctx, self._retry, req, deadline, total_ms, self._limits,
                                      self.config.idleTimeoutMs, self.rate_limiter, keep)
        io = sock.io
        try:
            if self._init and not sock.reused:
                yield from run_init(io, sock.pending, self._init,
                                    lambda template, where: self._render(template, values, where))
            response = yield from self._exchange(io, sock.pending, message, vars, prompt, context)
        except PromptwireError as err:
            # A reply the transform refused leaves the conversation's socket healthy.
            refused = isinstance(err, (TargetReportedError, TransformError)) and self._stream is None
            yield from self._done_with(ctx, io, keep if refused else None)
            raise
        yield from self._done_with(ctx, io, keep)
        return response

    def _keep(self, vars: Mapping[str, Any], url: WsUrl) -> Keep | None:
        """Where this call's socket is kept, or ``None`` (call scope, or no conversation id)."""
        if self._conversations is None:
            return None
        conversation = conversation_id(vars)
        if conversation is None:
            return None
        return Keep(self._conversations, self._conversations.tag(conversation, url))

    def _done_with(self, ctx: CallContext, io: WsIo, keep: Keep | None) -> Generator[A.Action, E.Event | None, None]:
        """Close the socket, or hand a conversation's healthy one back for its next call."""
        if keep is None or not io.wire.is_open:
            yield from goodbye(ctx, io.conn, io.wire)
            return
        keep.conversations.keep(keep.tag, io.wire, ctx.now.mono)
        mask = ctx.rng.getrandbits(32).to_bytes(4, "big")
        yield A.Release(io.conn, reusable=True, idle_s=keep.conversations.idle_s, farewell=close_frame(mask))

    def _exchange(
        self,
        io: WsIo,
        pending: list[Any],
        message: str,
        vars: dict[str, Any],
        prompt: str,
        context: Mapping[str, Any] | None,
    ) -> Generator[A.Action, E.Event | None, ProviderResponse]:
        # The message goes out first, even if the server already spoke
        # (promptfoo sends on 'open', before any 'message' is dispatched).
        yield from io.write(io.wire.send_text(message))

        call_context = dict(context or {})
        call_context.setdefault("vars", vars)
        call_context.setdefault("prompt", prompt)
        if self._stream is not None:
            return (yield from self._stream_loop(io, pending, call_context))
        msg = yield from next_message(io, pending)
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
        return clean_response(response)

    def _stream_loop(
        self, io: WsIo, pending: list[Any], call_context: dict[str, Any]
    ) -> Generator[A.Action, E.Event | None, ProviderResponse]:
        assert self._stream is not None
        return (yield from stream_loop(self._stream, io, pending, call_context))


def _error_text(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


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
