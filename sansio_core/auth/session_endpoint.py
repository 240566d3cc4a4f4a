"""``config.session``: a separate endpoint that hands out a session id before a call.

Spec 13.4: the endpoint is called (with its own headers and body, none of
the provider's auth) unless ``vars.sessionId`` is an id this target obtained
earlier, in which case that session is reused; ``responseParser`` picks the
id out of ``{headers, body}`` and it becomes ``vars.sessionId`` for every
template of the main request (and the result's ``sessionId``). The request
follows the target's TLS settings and retry policy.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import actions as A
from ..call import CallContext
from ..config.http import SessionEndpoint
from ..config.timeouts import Timeouts
from ..errors import (
    ConfigError,
    HttpStatusError,
    RemoteProtocolError,
    TemplateError,
    TransformError,
    UrlError,
)
from ..hooks import Hook, compile_hook, parse_json_or_none
from ..http.message import check_header_name, clean_header_value, finish_headers, url_for_messages
from ..http.prepared import PreparedRequest
from ..http.retry import RetryPolicy
from ..http.urls import parse_url, utf8
from ..js.engine import JsEngine, Json
from ..js.jsvalue import js_json, js_truthy
from ..limits import ERROR_BODY_SNIPPET, Limits
from ..redaction import sanitize
from ..sources import Sources
from ..templating import ObjectTemplate, Template, TemplateEngine
from .prestep import StepFlow, fetch, response_text, tls_for, touch_lru
from .static import url_credentials

if TYPE_CHECKING:
    from ..js.engine import JsEngine

OPTION = "session.responseParser"
# What fetch adds for a string body that has no content-type of its own.
TEXT_BODY_TYPE = "text/plain;charset=UTF-8"
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class SessionEndpointStep:
    """The ``PreStep`` for ``config.session``; remembers the ids it obtained."""

    def __init__(self, url: Template, method: str, headers: list[tuple[str, Template]],
                 body: ObjectTemplate | Template | None, parser: Hook, tls: A.TlsParams | None,
                 policy: RetryPolicy) -> None:
        self._url = url
        self.method = method
        self._headers = headers
        self._body = body
        self._parser = parser
        self._tls = tls
        self._policy = policy
        self._obtained: OrderedDict[str, None] = OrderedDict()

    @classmethod
    def compile(cls, session: SessionEndpoint, engine: TemplateEngine, sources: Sources, *,
                tls: A.TlsParams | None = None, max_retries: int | None = None,
                js: JsEngine | None = None) -> SessionEndpointStep:
        """Raises ``ConfigError`` naming the ``session`` key that cannot work."""
        if js is None:

            js = JsEngine(env=sources.env)
        parser = compile_hook(OPTION, session.responseParser, sources=sources, js=js)
        if parser is None:
            raise ConfigError("an empty responseParser cannot find a session id", "config.session.responseParser")
        headers: dict[str, Template] = {}
        for raw_name, value in (session.headers or {}).items():
            name = check_header_name(raw_name, f"config.session.headers.{raw_name}")
            if name in ("content-length", "transfer-encoding", "host"):
                continue  # framing and Host are computed for the request as sent
            headers.pop(name, None)  # the last case variant wins
            headers[name] = engine.compile(value)
        body: ObjectTemplate | Template | None = None
        if isinstance(session.body, str):
            body = engine.compile(session.body)
        elif session.body is not None:
            body = engine.compile_object(session.body)
        url = engine.compile(session.url)
        if not url.has_tags:
            try:
                parse_url(session.url)
            except UrlError as err:
                raise ConfigError(f"not a valid URL ({err}): {session.url!r}", "config.session.url") from None
        return cls(url, session.method, list(headers.items()), body, parser, tls,
                   RetryPolicy.from_config(max_retries, sources.env))

    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        del context
        known = _key(vars.get("sessionId"))
        if known is not None and known in self._obtained:
            touch_lru(self._obtained, known)
            return {}
        req = self._request(vars)
        raw = yield from fetch(ctx, req, tls=tls_for(self._tls, req), timeouts=timeouts, limits=limits,
                               policy=self._policy)
        text, headers = response_text(raw, limits)
        if not 200 <= raw.status <= 299:
            raise HttpStatusError(f"Session endpoint request failed with status {raw.status} {raw.reason}: "
                                  f"{_snippet(text)}", raw.status)
        parsed = parse_json_or_none(text)
        body = parsed if parsed is not None else text
        session_id = self._parse(headers, body)
        if session_id is None:

            raise RemoteProtocolError("Session endpoint did not return a session ID. Response: "
                                      + _snippet(js_json(sanitize(body))))
        key = _key(session_id)
        if key is not None:
            self._obtained[key] = None
            while len(self._obtained) > max(1, limits.max_session_ids):
                try:
                    self._obtained.popitem(last=False)
                except KeyError:  # emptied by another thread's call meanwhile
                    break
        return {"sessionId": session_id}

    # -- internals -------------------------------------------------------------------

    def _parse(self, headers: Mapping[str, str], body: Any) -> Any:
        """The parser's truthy result, else None."""

        data = {"headers": dict(headers), "body": body}
        hook = self._parser
        result = hook.call(Json(_ENCODE(data)) if hook.is_js else data)
        if result.is_error:
            raise TransformError(f"{hook.spec.function_prefix}{result.value}")
        return result.value if js_truthy(result.value) else None

    def _request(self, vars: Mapping[str, Any]) -> PreparedRequest:
        source = self._url.source
        try:
            url = parse_url(self._url.render(vars))
        except UrlError as err:
            raise TemplateError(f"session.url {source!r} rendered an invalid URL: {err}") from None
        headers: dict[str, str] = {"host": url.host_header}
        for name, template in self._headers:
            headers[name] = clean_header_value(name, template.render(vars))
        body: bytes | None = None
        if self.method != "GET" and self._body is not None:
            if isinstance(self._body, Template):
                body = utf8(self._body.render(vars))
                if "content-type" not in headers:
                    headers["content-type"] = TEXT_BODY_TYPE
            else:
                body = utf8(js_json(self._body.render(vars)))
                headers.setdefault("content-type", "application/json")
        basic = url_credentials(url)
        if basic is not None:
            url = url.without_credentials()
            headers.setdefault("authorization", basic)
        return PreparedRequest(self.method, url.scheme, url.connect_host, url.effective_port, url.target,
                               finish_headers(headers, self.method, body), body, url_for_messages(url))


def _key(session_id: Any) -> str | None:
    """How an obtained id is remembered: its JSON text (so 5 and "5" differ, as in a JS Set)."""
    if session_id is None or session_id == "" or session_id is False:
        return None
    try:
        return _ENCODE(session_id)
    except (TypeError, ValueError):
        return None


def _snippet(text: str) -> str:
    if len(text) <= ERROR_BODY_SNIPPET:
        return text
    return text[:ERROR_BODY_SNIPPET] + f"... ({len(text) - ERROR_BODY_SNIPPET} more characters)"


__all__ = ["SessionEndpointStep"]
