"""An HTTP target: a provider entry compiled once, producing a ``Call`` per prompt.

The flow of one call, in promptfoo's order (spec section 5.1): assemble the
vars, run transformRequest, build the request, then attempts (exchange,
retry decision, ``Sleep``) until a response is accepted or the policy gives
up, then validateStatus, sessionParser, transformResponse and the
ProviderResponse. Every step that can be prepared ahead is prepared in
``compile``; the per-call path only renders, encodes and parses.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from . import actions as A
from .call import Call, CallContext, Flow
from .errors import ConfigError, PromptwireError
from .http1 import BodyListener, RawResponse, ResponseHead, exchange
from .limits import Limits
from .prepared import PreparedRequest
from .response import ProviderResponse
from .retry import Decision, Outcome, RetryPolicy, decide, exhausted_error
from .sources import Sources
from .streaming import StreamDecoder
from .timebase import Instant
from .timeouts import Timeouts


class HttpTarget:
    """Build with ``HttpTarget.compile(entry, sources)``; one per provider entry.

    Not thread-safe while a call's flow runs transforms (one JavaScript
    context per target): bindings give each thread its own call, and the
    core's hooks serialise evaluation.
    """

    def __init__(self, *, label: str, request_plan: Any, response_plan: Any, retry: RetryPolicy,
                 timeouts: Timeouts, limits: Limits, env: Mapping[str, str], tools_vars: Mapping[str, Any],
                 stream_deltas: bool = True) -> None:
        self.label = label
        self._requests = request_plan
        self._responses = response_plan
        self._retry = retry
        self._timeouts = timeouts
        self._limits = limits
        self._env = env
        self._tools_vars = dict(tools_vars)
        self._stream_deltas = stream_deltas

    @classmethod
    def compile(cls, entry: Any, sources: Sources) -> HttpTarget:
        from .request_builder import RequestPlan
        from .response_builder import ResponsePlan
        from .templating import TemplateEngine
        from .tools_format import tools_vars

        config = entry.config
        env = sources.env
        engine = TemplateEngine.from_env(env, getattr(config, "env", None))
        request_plan = RequestPlan.compile(entry, engine, sources)
        response_plan = ResponsePlan.compile(config, sources, engine)
        return cls(
            label=entry.label or entry.id,
            request_plan=request_plan,
            response_plan=response_plan,
            retry=RetryPolicy.from_config(getattr(config, "maxRetries", None), env),
            timeouts=Timeouts.build(env),
            limits=Limits(),
            env=env,
            tools_vars=tools_vars(config),
        )

    def new_call(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any] | None, *,
                 now: Instant, seed: int, timeout_ms: float | None = None) -> Call:
        """A fresh call; drive it with a binding (or ``run_offline`` for replay)."""
        timeouts = self._timeouts if timeout_ms is None else self._timeouts.with_total(timeout_ms)
        ctx = CallContext(now=now, rng=random.Random(seed), env=self._env)

        def flow(c: CallContext) -> Flow:
            return self._flow(c, prompt, vars, context or {}, timeouts)

        return Call(flow, ctx)

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
        out.update(self._tools_vars)
        return out

    def _flow(self, ctx: CallContext, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any],
              timeouts: Timeouts) -> Flow:
        all_vars = self.assemble_vars(prompt, vars, context)
        call_context = {**context, "vars": all_vars, "prompt": context.get("prompt", {"raw": prompt})}
        transformed = self._responses.transform_request(prompt, all_vars, call_context)
        req: PreparedRequest = self._requests.build(all_vars, transformed, call_context)
        tls = A.TlsParams(server_name=req.host) if req.scheme == "https" else None
        tls = self._requests.tls_for(req) if hasattr(self._requests, "tls_for") else tls
        start = ctx.now
        history: list[str] = []
        attempt = 0
        while True:
            decoder = StreamDecoder(self._limits, deltas=self._stream_deltas)
            try:
                raw = yield from exchange(ctx, req, tls=tls, timeouts=timeouts, limits=self._limits,
                                          on_head=decoder.on_head)
                body_text = decoder.finish_text(raw)
            except PromptwireError as err:
                started = bool(getattr(err, "response_started", False))
                reused = bool(getattr(err, "reused", False))
                outcome = Outcome.from_error(err, response_started=started, reused=reused)
                raw = None
            else:
                outcome = Outcome.response(raw.status, raw.reason, raw.headers, body_text)
            decision: Decision = decide(self._retry, attempt, outcome, ctx.now, ctx.rng, history=history)
            if decision.retry:
                history.append(decision.reason)
                if decision.counts:
                    attempt += 1
                if decision.delay_s > 0:
                    yield A.Sleep(ctx.now.mono + decision.delay_s)
                continue
            if decision.final_error is not None:
                raise decision.final_error
            if raw is None:  # a failure the policy did not turn into an error
                raise exhausted_error(self._retry, [*history, decision.reason])
            break
        latency_ms = round((ctx.now.mono - start.mono) * 1000)
        timing = _timing(raw, start)
        return self._responses.build(
            status=raw.status, status_text=raw.reason, headers=raw.headers, body_text=body_text,
            latency_ms=latency_ms, prompt=prompt, vars=all_vars, context=call_context,
            request=req, transformed_prompt=transformed, timing=timing,
        )


def _timing(raw: RawResponse, start: Instant) -> dict[str, float]:
    return {
        "firstByteMs": round((raw.first_byte_at - start.mono) * 1000, 3),
        "totalMs": round((raw.done_at - start.mono) * 1000, 3),
    }


def _unused(_: ResponseHead | BodyListener | ProviderResponse | ConfigError) -> None:  # pragma: no cover
    pass
