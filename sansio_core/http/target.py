"""An HTTP target: a provider entry compiled once, producing a ``Call`` per prompt.

The flow of one call, in promptfoo's order (spec section 5.1): assemble the
vars, run transformRequest, build the request, then attempts (exchange,
retry decision, ``Sleep``) until a response is accepted or the policy gives
up, then validateStatus, sessionParser, transformResponse and the
ProviderResponse. Every step that can be prepared ahead is prepared in
``compile``; the per-call path only renders, encodes and parses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .. import actions as A
from ..auth.prestep import PreStep
from ..auth.steps import compile_pre_steps
from ..call import Call, CallContext, Flow
from ..config.timeouts import Timeouts
from ..config.tls import tls_for, tls_params
from ..errors import DeadlineExceeded, LimitExceeded
from ..js.jsvalue import check_json_depth
from ..limits import Limits
from ..proxy import ProxySettings
from ..ratelimit import RateLimiter, wait_for_token
from ..redaction import Secrets, is_secret_name, sanitize
from ..response import ProviderResponse
from ..sources import Sources
from ..streams.http_stream import StreamDecoder
from ..templating import TemplateEngine
from ..timebase import Instant
from .attempts import ATTEMPT_ERRORS, AttemptFlow, failed_attempt, run_attempts
from .codec import HttpCodec
from .codecs import get_codec
from .exchange import BodyListener, RawResponse, ResponseHead, exchange
from .message import IDENTITY_HEADERS, UNCHANGED
from .multipart import debug_summary
from .prepared import PreparedRequest
from .redirects import REDIRECT_STATUSES, is_redirect, next_request
from .request_plan import RequestPlan
from .response_plan import ResponsePlan
from .retry import Outcome, RetryPolicy, never_retried
from .tools_format import tools_vars


class HttpTarget:
    """Build with ``HttpTarget.compile(entry, sources)``; one per provider entry.

    Calls may run concurrently in one event loop. Across threads, compile
    with ``owner=threading.get_ident`` so each thread gets its own JavaScript
    context (the sync binding does).
    """

    def __init__(self, *, label: str, config: Mapping[str, Any], tls: A.TlsParams | None, raw_mode: bool,
                 request_plan: RequestPlan, response_plan: ResponsePlan, retry: RetryPolicy,
                 timeouts: Timeouts, limits: Limits, env: Mapping[str, str], tools_vars: Mapping[str, Any],
                 stream_deltas: bool = True, pre_steps: Sequence[PreStep] = (),
                 secrets: Secrets | None = None, rate_limiter: RateLimiter | None = None,
                 http_codec: HttpCodec | None = None) -> None:
        self.secrets = secrets if secrets is not None else Secrets()
        self.label = self.secrets.redact(label)
        self.rate_limiter = rate_limiter
        self._http_codec = http_codec
        self._config = config
        headers = config.get("headers")
        self._configured_headers = frozenset(str(k).lower() for k in headers) if isinstance(
            headers, Mapping) else frozenset()
        self._tls = tls
        self._raw_mode = raw_mode
        self._requests = request_plan
        self._responses = response_plan
        self._retry = retry
        self._timeouts = timeouts
        self._limits = limits
        self._env = env
        self._tools_vars = dict(tools_vars)
        self._stream_deltas = stream_deltas
        # Steps that run before the request is built, in order, and may make
        # exchanges of their own (OAuth token, session endpoint, signature):
        # see ``prestep.PreStep``. They keep their caches across calls.
        self._pre_steps: list[PreStep] = list(pre_steps)
        # ``proxy`` option or the proxy variables, for the request and the pre-steps.
        option = config.get("proxy")
        self._proxy = ProxySettings.for_target(option if isinstance(option, str) else None, env)
        if self._proxy is not None:
            self.secrets.learn(self._proxy.secrets())

    @classmethod
    def compile(cls, entry: Any, sources: Sources, *, owner: Callable[[], Hashable] | None = None,
                secrets: Secrets | None = None, http_codec: str | None = None) -> HttpTarget:
        """``owner`` (e.g. ``threading.get_ident``, passed by a binding) gives each
        thread its own JavaScript context; without it a target has one owner.
        ``secrets``: the entry's (``Secrets.from_entry``), collected here when absent."""

        config = entry.config
        env = sources.env
        if secrets is None:
            secrets = Secrets.from_entry(entry.id, entry.label, entry.raw_config, env, entry.env)
        engine = TemplateEngine.from_env(env, entry.env)
        request_plan = RequestPlan.compile(entry, engine, sources)
        response_plan = ResponsePlan.compile(entry.raw_config, sources, engine, js_owner=owner)
        return cls(
            label=entry.label or entry.id,
            config=entry.raw_config,
            tls=tls_params(config, sources),
            raw_mode=request_plan.is_raw,
            request_plan=request_plan,
            response_plan=response_plan,
            retry=RetryPolicy.from_config(getattr(config, "maxRetries", None), env),
            timeouts=Timeouts.build(env, total_ms=getattr(config, "timeoutMs", None)),
            limits=Limits(),
            env=env,
            tools_vars=tools_vars(config),
            pre_steps=compile_pre_steps(entry, sources, engine, js=response_plan.js),
            secrets=secrets,
            rate_limiter=RateLimiter.from_config(config),
            http_codec=get_codec(http_codec),
        )

    @property
    def tls_params(self) -> A.TlsParams | None:
        """The target's TLS settings (before SNI), for a binding to check when it builds."""
        return self._tls

    def new_call(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any] | None, *,
                 now: Instant, seed: int, timeout_ms: float | None = None) -> Call:
        """A fresh call; drive it with a binding (or ``testing.run_against`` / ``testing.replay``)."""
        timeouts = self._timeouts if timeout_ms is None else self._timeouts.with_total(timeout_ms)
        ctx = CallContext(now=now, env=self._env, seed=seed, http_codec=self._http_codec)
        ctx.proxy = self._proxy
        ctx.on_resume = self._responses.js.set_clock

        def flow(c: CallContext) -> Flow:
            return self._flow(c, prompt, vars, context or {}, timeouts)

        return Call(flow, ctx, scrub=self.secrets.scrub_error)

    # -- the flow -------------------------------------------------------------------

    def assemble_vars(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """Spec section 3: context vars, then the prompt, evaluationId, tools."""
        out: dict[str, Any] = {}
        ctx_vars = context.get("vars")
        if isinstance(ctx_vars, Mapping):
            out.update(ctx_vars)
        out.update(vars)
        out["prompt"] = prompt
        if context.get("evaluationId"):
            out["evaluationId"] = context["evaluationId"]
        prompt_info = context.get("prompt")
        prompt_config = prompt_info.get("config") if isinstance(prompt_info, Mapping) else None
        if prompt_config:

            out.update(tools_vars(self._config, prompt_config))
        else:
            out.update(self._tools_vars)
        return out

    def _flow(self, ctx: CallContext, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any],
              timeouts: Timeouts) -> Flow:
        all_vars = self.assemble_vars(prompt, vars, context)
        for step in self._pre_steps:
            added = yield from step.run(ctx, all_vars, context, timeouts, self._limits)
            all_vars.update(added)
        if self._pre_steps:
            self._learn_token(all_vars)
        call_context = {**context, "vars": all_vars}
        call_context.setdefault("prompt", {"raw": prompt, "label": prompt})
        responses = self._responses
        if responses.transform_request_hook is None:
            transformed: Any = UNCHANGED
        else:
            transformed = responses.transform_request(prompt, all_vars, call_context)
        rng = ctx.rng if self._requests.uses_randomness else None
        req: PreparedRequest = self._requests.build(all_vars, transformed, call_context, rng=rng)
        self._learn_credentials(req, all_vars)
        tls = tls_for(self._tls, req)
        start = ctx.now
        decoders: list[StreamDecoder] = []

        final_url: list[str] = [req.url]

        def on_head(decoder: StreamDecoder) -> Callable[[ResponseHead], BodyListener | None]:
            def pick(head: ResponseHead) -> BodyListener | None:
                return None if is_redirect(head) else decoder.on_head(head)
            return pick

        def attempt() -> AttemptFlow[tuple[RawResponse, str]]:
            yield from wait_for_token(self.rate_limiter, ctx)  # every attempt is a request
            decoder = StreamDecoder(self._limits, ctx, deltas=self._stream_deltas)
            decoders.append(decoder)
            try:
                hop, hops, began = req, [req.url], ctx.now
                while True:  # fetch's redirect: "follow", within the attempt's deadline
                    got: RawResponse = yield from exchange(
                        ctx, hop, tls=tls if hop is req else tls_for(self._tls, hop),
                        timeouts=remaining(timeouts, began, ctx.now), limits=self._limits,
                        on_head=on_head(decoder))
                    if got.status not in REDIRECT_STATUSES:
                        break  # is_redirect's first test: no ResponseHead needed
                    head = ResponseHead(got.status, got.reason, got.headers)
                    if not is_redirect(head):
                        break
                    hop = next_request(hop, head, hops)
                    hops.append(hop.url)
                final_url[0] = hop.url
                text = decoder.finish_text(got)
                # Only the text is used from here: drop the bytes now.
                got = RawResponse(got.status, got.reason, got.headers, b"", got.reused, got.sent_at,
                                  got.first_byte_at, got.done_at)
                for delta in decoder.finish_deltas():
                    yield A.Emit(delta)
            except ATTEMPT_ERRORS as err:
                return failed_attempt(err)
            if decoder.decoded:
                # Like fetch: once the body is decoded, its coding and encoded
                # length no longer describe what the caller sees.
                got = replace(got, headers=tuple(
                    (k, v) for k, v in got.headers if k not in ("content-encoding", "content-length")))
            if never_retried(self._retry, got.status):
                return None, (got, text), None
            return Outcome.response(got.status, got.reason, got.headers, text), (got, text), None

        def streamed() -> str | None:
            # This attempt's text already reached the caller as deltas; a retry
            # would hand it out a second time.
            return "part of the text was already streamed" if decoders[-1].first_delta_at is not None else None

        # The first attempt runs here: a response the policy never retries (see
        # ``never_retried``) is the result without ``run_attempts``' frame in between.
        first = yield from attempt()
        if first[0] is None and first[1] is not None:
            (raw, body_text), attempts = first[1], 1
        else:
            (raw, body_text), attempts = yield from run_attempts(ctx, self._retry, attempt, veto=streamed,
                                                                  first=first)
        decoder = decoders[-1]
        latency_ms = round((ctx.now.mono - start.mono) * 1000)
        debug = bool(context.get("debug"))
        request_info = _debug_info(req, transformed, prompt, raw_mode=self._raw_mode,
                                   configured=self._configured_headers) if debug else None
        response: ProviderResponse = responses.build(
            status=raw.status, status_text=raw.reason, headers=raw.headers, body_text=body_text,
            latency_ms=latency_ms, prompt=prompt, vars=all_vars, raw_mode=self._raw_mode, debug=debug,
            request_info=request_info,
            transformed_prompt=prompt if transformed is UNCHANGED else transformed,
            # Spec 13.3: with a session endpoint, the call's session id is the result's.
            session_endpoint_id=all_vars.get("sessionId") if self._config.get("session") else None,
        )
        response.timing = _timing(raw, start, decoder.first_delta_at, attempts=attempts)
        if final_url[0] != req.url and isinstance(response.get("metadata"), dict):
            http = response["metadata"].get("http")
            if isinstance(http, dict):  # like fetch's response.url / response.redirected
                http["url"] = final_url[0]
                http["redirected"] = True
        return self._scrub_response(response)

    def _learn_credentials(self, req: PreparedRequest, vars: Mapping[str, Any]) -> None:
        """What this call sends as credentials becomes secret for every later message."""
        sent = [v for k, v in req.headers if is_secret_name(k)]
        sent += self._requests.credentials(vars)
        if sent:
            self.secrets.learn(sent)

    def _learn_token(self, vars: Mapping[str, Any]) -> None:
        """A token a pre-step obtained (OAuth, file auth) is secret before any code sees it."""
        token = vars.get("token")
        if isinstance(token, str):
            self.secrets.learn([token])

    def _scrub_response(self, response: ProviderResponse) -> ProviderResponse:
        """A result's ``metadata`` and ``error`` never carry a configured secret
        (``output`` and ``raw`` are the server's answer and stay as they are)."""
        secrets = self.secrets
        if secrets:
            for key in ("metadata", "error"):
                if key in response:
                    response[key] = secrets.redact_data(response[key])
        return response


def remaining(timeouts: Timeouts, began: Instant, now: Instant) -> Timeouts:
    """The attempt's timeouts for a later redirect hop: the total is what is left of it."""
    if timeouts.total_ms is None or now.mono <= began.mono:
        return timeouts
    left = timeouts.total_ms - (now.mono - began.mono) * 1000
    if left <= 0:
        raise DeadlineExceeded(f"Request timed out after {timeouts.total_ms:g} ms (total timeout, "
                               "while following redirects)", "total")
    return timeouts.with_total(left)


# Headers the transport adds on its own; promptfoo's debug metadata lists the
# headers the provider computed, not these (unless the config set them).
_TRANSPORT_HEADERS = frozenset({"host", "content-length", *(name for name, _ in IDENTITY_HEADERS)})


def _debug_info(req: PreparedRequest, transformed: Any, prompt: str, *, raw_mode: bool,
                configured: frozenset[str]) -> dict[str, Any]:
    """``metadata`` additions for ``context.debug`` (spec 5.8 and 9.10)."""
    hidden = _TRANSPORT_HEADERS - configured - ({"host"} if raw_mode else set())
    headers = {k: v for k, v in req.headers if k not in hidden}
    body = req.body.decode("utf-8", "replace") if req.body is not None else None
    parsed: Any = body
    if body is not None:
        try:
            check_json_depth(body)
            parsed = json.loads(body)
        except (ValueError, LimitExceeded):
            parsed = body
    if raw_mode:
        # The raw body is reported as text; JSON is re-serialised with secrets redacted.
        shown = body if body is None or parsed is body else json.dumps(
            sanitize(parsed), separators=(",", ":"), ensure_ascii=False)
        if transformed is UNCHANGED:
            lines = [f"{req.method} {req.target} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in sanitize(headers).items()]
            summary: Any = "\n".join(lines) + "\n\n" + (shown or "")
        else:
            summary = transformed
        return {"requestHeaders": headers, "transformedRequest": summary, "finalRequestBody": shown}
    info: dict[str, Any] = {
        "requestHeaders": headers,
        "transformedRequest": prompt if transformed is UNCHANGED else transformed,
    }
    if req.multipart_parts is not None:

        info["multipart"] = debug_summary(list(req.multipart_parts))
    else:
        info["finalRequestBody"] = parsed
    return info


def _timing(raw: RawResponse, start: Instant, first_delta_at: float | None, attempts: int) -> dict[str, Any]:
    """Time to first byte / first token / total, in ms from the call's start (all attempts)."""
    def ms(t: float) -> float:
        return round((t - start.mono) * 1000, 3)

    return {
        "firstByteMs": ms(raw.first_byte_at),
        "firstTokenMs": None if first_delta_at is None else ms(first_delta_at),
        "totalMs": ms(raw.done_at),
        "attempts": attempts,
    }
