"""From response bytes to ``ProviderResponse``: status check, transforms, sessions, tokens.

``ResponsePlan.compile`` turns the code-carrying options of an HTTP target
into compiled hooks once; ``ResponsePlan.build`` is what the HTTP flow calls
after each response. The shape follows promptfoo (http-provider-spec 5.7,
5.8, 9.10, 11, 13, 19, 21):

* ``{raw, latencyMs, cached, metadata: {http: {status, statusText, headers}}}``
  (raw mode: no ``raw`` and no headers unless debugging), response headers
  lower-cased, sorted, repeated ones joined with ``,`` and secret-looking ones
  redacted in metadata only;
* ``sessionId`` from ``sessionParser`` (a truthy result only);
* the transform result *spread over* that: an object with ``output`` or
  ``error`` is a ProviderResponse, anything else is ``{output: value}``; only
  an absent/``undefined`` result means "no output" (``0``, ``false``, ``""``
  are outputs); an ``Error`` returned by a transform is an ``error``;
* ``tokenUsage``: the transform's, else the response JSON's top-level
  ``tokenUsage``, else the word-count estimate when enabled, else zeros.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import limits as _L
from ..errors import ConfigError, HttpStatusError, TransformError
from ..hooks import Hook, TemplateEngine, compile_hook
from ..js.engine import FLAG_LAZY_CONTEXT, FLAG_RESPONSE_DATA, JSON_FROM_TEXT, UNDEFINED, JsEngine, Json
from ..js.jsvalue import check_json_depth, js_truthy, normalize_result
from ..js.limits import JsLimits
from ..redaction import REDACTED, is_secret_name, sanitize
from ..response import ProviderResponse
from ..sources import Sources

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# ``json.loads(text, parse_constant=...)`` builds a decoder per call; this one is built once.
_DECODE = json.JSONDecoder(parse_constant=_reject_constant).decode


def parse_body_json(text: str) -> Any:
    """``hooks.parse_json_or_none`` for a response body, without a decoder per call:
    ``JSON.parse(text)`` or ``None`` (a leading BOM is not JSON here either), and
    ``LimitExceeded`` for JSON nested deeper than ``MAX_JSON_DEPTH``."""
    check_json_depth(text, _L.MAX_JSON_DEPTH, "the response's JSON")
    try:
        return _DECODE(text)
    except ValueError:
        return None


def default_token_usage() -> dict[str, Any]:
    """promptfoo's empty usage record (``createEmptyTokenUsage``), a fresh copy each time."""
    details = {"reasoning": 0, "acceptedPrediction": 0, "rejectedPrediction": 0,
               "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0}
    return {
        "prompt": 0, "completion": 0, "cached": 0, "total": 0, "numRequests": 1,
        "completionDetails": dict(details),
        "assertions": {"total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0,
                       "completionDetails": dict(details)},
    }


def estimate_tokens(text: Any, multiplier: float) -> int:
    """Whitespace-separated words times ``multiplier``, rounded up; 0 for non-text."""
    if not isinstance(text, str):
        return 0
    words = text.split()
    return math.ceil(len(words) * multiplier) if words else 0


def header_map(headers: Sequence[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """Response headers as transforms and metadata see them: lower-case names,
    sorted, repeated headers joined with ``,``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return dict(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class TokenEstimation:
    enabled: bool = False
    multiplier: float = 1.3


def _token_estimation(raw: Any, redteam: bool) -> TokenEstimation:
    if raw is None:
        return TokenEstimation(enabled=redteam)
    if not isinstance(raw, Mapping):
        raise ConfigError("expected an object with `enabled` and `multiplier`", "tokenEstimation")
    multiplier = raw.get("multiplier", 1.3)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier < 0.01:
        raise ConfigError(f"multiplier must be a number >= 0.01, got {multiplier!r}", "tokenEstimation.multiplier")
    return TokenEstimation(enabled=bool(raw.get("enabled", False)), multiplier=float(multiplier))


def _as_mapping(config: Any) -> Mapping[str, Any]:
    if isinstance(config, Mapping):
        return config
    dump = getattr(config, "model_dump", None)
    if dump is None:
        raise TypeError("config must be a mapping or a pydantic model")
    dumped: Mapping[str, Any] = dump(by_alias=True, exclude_none=True)
    return dumped


def _snippet(text: str) -> str:
    limit = _L.ERROR_BODY_SNIPPET
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


# Names through which inline code could reach its `context` argument.
_CONTEXT_NAMES = re.compile(r"\b(?:context|arguments|eval|Function|globalThis|this)\b")


def _reads_context(hook: Hook) -> bool:
    """False only for inline expressions/bodies that provably never name ``context``
    (a function string may call its third parameter anything, a module is opaque)."""
    return hook.form not in ("expression", "body") or bool(_CONTEXT_NAMES.search(hook.source))


class ResponsePlan:
    """The compiled response-side options of one HTTP target. Build once, use per call."""

    def __init__(
        self,
        *,
        js: JsEngine,
        transform_request: Hook | None = None,
        transform_response: Hook | None = None,
        validate_status: Hook | None = None,
        session_parser: Hook | None = None,
        token_estimation: TokenEstimation = TokenEstimation(),
    ) -> None:
        self.js = js
        self.transform_request_hook = transform_request
        self.transform_response_hook = transform_response
        self.validate_status_hook = validate_status
        self.session_parser_hook = session_parser
        self.token_estimation = token_estimation

    @classmethod
    def compile(
        cls,
        config: Any,
        sources: Sources,
        engine: TemplateEngine | None = None,
        *,
        js: JsEngine | None = None,
        js_limits: JsLimits | None = None,
        js_owner: Callable[[], Hashable] | None = None,
        redteam: bool = False,
    ) -> ResponsePlan:
        """Compile the target's code options. ``config`` is the raw camelCase
        mapping (or the pydantic model). Raises ``ConfigError`` for bad code.

        ``js_owner`` (``threading.get_ident`` from a binding) gives each thread
        its own JavaScript context; without it the plan has one owner at a time.
        """
        cfg = _as_mapping(config)
        js = js or JsEngine(env=sources.env, limits=js_limits, owner=js_owner)
        response_source = cfg.get("transformResponse")
        option = "transformResponse"
        if response_source is None and cfg.get("responseParser") is not None:
            response_source, option = cfg.get("responseParser"), "responseParser"
        return cls(
            js=js,
            transform_request=compile_hook("transformRequest", cfg.get("transformRequest"),
                                           sources=sources, js=js, templates=engine),
            transform_response=compile_hook(option, response_source, sources=sources, js=js),
            validate_status=compile_hook("validateStatus", cfg.get("validateStatus"), sources=sources, js=js),
            session_parser=compile_hook("sessionParser", cfg.get("sessionParser"), sources=sources, js=js),
            token_estimation=_token_estimation(cfg.get("tokenEstimation"), redteam),
        )

    # -- request side -----------------------------------------------------------------

    def transform_request(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> Any:
        """The transformed prompt: ``prompt`` itself when no transformRequest is set,
        ``None`` when the transform returned nothing."""
        hook = self.transform_request_hook
        if hook is None:
            return prompt
        ctx = dict(context) if context is not None else {}
        if hook.is_js:
            result = hook.call(prompt, Json(_ENCODE(dict(vars))), Json(_ENCODE(ctx)))
        else:
            result = hook.call(prompt, dict(vars), ctx)
        if result.is_error:
            raise TransformError(f"{hook.spec.function_prefix}{result.value}")
        return None if result.value is UNDEFINED else result.value

    # -- status -----------------------------------------------------------------------

    def accepts_status(self, status: int) -> bool:
        """validateStatus (default: every status is accepted)."""
        hook = self.validate_status_hook
        if hook is None:
            return True
        return js_truthy(hook.call(status).value)

    def check_status(self, status: int, status_text: str, body_text: str) -> None:
        """Raise ``HttpStatusError`` when validateStatus rejects ``status``."""
        if not self.accepts_status(status):
            raise HttpStatusError(
                f"HTTP call failed with status {status} {status_text}: {_snippet(body_text)}", status
            )

    # -- sessions ---------------------------------------------------------------------

    def session_id(self, headers: Mapping[str, str], parsed: Any, body_text: str) -> Any:
        """sessionParser over ``{headers, body}`` (body: parsed JSON, else the text);
        ``None`` when absent or falsy."""
        hook = self.session_parser_hook
        if hook is None:
            return None
        data = {"headers": dict(headers), "body": parsed if parsed is not None else body_text}
        value = hook.call(Json(_ENCODE(data)) if hook.is_js else data).value
        return value if js_truthy(value) else None

    # -- the response -----------------------------------------------------------------

    def build(
        self,
        *,
        status: int,
        status_text: str,
        headers: Sequence[tuple[str, str]] | Mapping[str, str],
        body_text: str,
        latency_ms: int | float,
        prompt: str,
        vars: Mapping[str, Any],
        raw_mode: bool = False,
        debug: bool = False,
        request_info: Mapping[str, Any] | None = None,
        transformed_prompt: Any = UNDEFINED,
        cached: bool = False,
        session_endpoint_id: Any = None,
        check_status: bool = True,
    ) -> ProviderResponse:
        """The ProviderResponse for one HTTP response (raises on a rejected status)."""
        if check_status:
            self.check_status(status, status_text, body_text)
        hdrs = header_map(headers)
        safe_headers = {k: (REDACTED if is_secret_name(k) else sanitize(v)) for k, v in hdrs.items()}
        latency = int(latency_ms) if float(latency_ms).is_integer() else latency_ms
        ret: dict[str, Any] = {}
        http: dict[str, Any] = {"status": status, "statusText": status_text}
        if raw_mode:
            ret.update(latencyMs=latency, cached=cached)
            if debug:
                ret["raw"] = body_text
                http["headers"] = safe_headers
        else:
            ret.update(raw=body_text, latencyMs=latency, cached=cached)
            http["headers"] = safe_headers
        metadata: dict[str, Any] = {"http": http}
        if raw_mode and debug:
            metadata["headers"] = safe_headers
        if debug and request_info:
            for key, value in request_info.items():
                if key == "requestHeaders":
                    http["requestHeaders"] = {
                        k: (REDACTED if is_secret_name(k) else sanitize(v)) for k, v in dict(value).items()
                    }
                else:
                    metadata[key] = sanitize(value)
        ret["metadata"] = metadata

        # Parse the body in Python only when something here reads it: a
        # JavaScript transform parses its own copy inside the engine.
        hook = self.transform_response_hook
        needs_parsed = (hook is None or not hook.is_js or hook.json_path is not None
                        or self.session_parser_hook is not None or '"tokenUsage"' in body_text)
        parsed = parse_body_json(body_text) if needs_parsed and isinstance(body_text, str) else None
        if session_endpoint_id:
            ret["sessionId"] = session_endpoint_id
        sid = self.session_id(hdrs, parsed, body_text)
        if sid is not None:
            ret["sessionId"] = sid

        normalized = self._transform(status, status_text, hdrs, body_text, parsed, latency, cached, prompt, vars)
        ret.update(normalized)

        if "tokenUsage" not in normalized:
            if isinstance(parsed, dict) and isinstance(parsed.get("tokenUsage"), dict):
                ret["tokenUsage"] = parsed["tokenUsage"]
            elif self.token_estimation.enabled:
                ret["tokenUsage"] = self._estimate(prompt, transformed_prompt, normalized, body_text)
            else:
                ret["tokenUsage"] = default_token_usage()
        return ProviderResponse(ret)

    def _transform(
        self, status: int, status_text: str, hdrs: dict[str, str], body_text: str, parsed: Any,
        latency: Any, cached: bool, prompt: str, vars: Mapping[str, Any],
    ) -> dict[str, Any]:
        hook = self.transform_response_hook
        if hook is None:
            # promptfoo's default `parsedData || rawText`: JSON 0/false/null/"" give the text.
            return {"output": parsed if js_truthy(parsed) else body_text}
        if hook.is_js:
            if hook.json_path is not None:
                # `json.a.b[0].c` in Python, with JavaScript's answers and errors.
                fast = hook.eval_json_path(parsed)
                if fast is not None:
                    return normalize_result(fast)
            if not _reads_context(hook):
                # An expression that never names `context` cannot see it:
                # skip serialising headers and vars on the hot path.
                context = "null"
            else:
                context = (
                    '{"response":{"data":null,"status":' + _ENCODE(status) + ',"statusText":' + _ENCODE(status_text)
                    + ',"headers":' + _ENCODE(hdrs) + ',"cached":' + ("true" if cached else "false")
                    + ',"latencyMs":' + _ENCODE(latency) + '},"vars":' + _ENCODE(dict(vars))
                    + ',"prompt":' + _ENCODE(prompt) + "}"
                )
            result = hook.call(JSON_FROM_TEXT, body_text, Json(context), flags=FLAG_RESPONSE_DATA | FLAG_LAZY_CONTEXT)
        else:
            data = parsed if parsed is not None else body_text
            py_context = {
                "response": {"data": data, "status": status, "statusText": status_text, "headers": dict(hdrs),
                             "cached": cached, "latencyMs": latency},
                "vars": dict(vars), "prompt": prompt,
            }
            result = hook.call(parsed if js_truthy(parsed) else None, body_text, py_context)
        return normalize_result(result)

    def _estimate(self, prompt: str, transformed: Any, normalized: Mapping[str, Any], body_text: str) -> dict[str, Any]:
        m = self.token_estimation.multiplier
        prompt_text = transformed if isinstance(transformed, str) else prompt
        output = normalized.get("output")
        completion_text = output if isinstance(output, str) else body_text
        p, c = estimate_tokens(prompt_text, m), estimate_tokens(completion_text, m)
        return {"prompt": p, "completion": c, "total": p + c, "numRequests": 1}


__all__ = [
    "ResponsePlan",
    "TokenEstimation",
    "default_token_usage",
    "estimate_tokens",
    "header_map",
]
