"""OAuth 2.0 tokens for an HTTP target (``auth.type: oauth``), fetched before a call.

A client_credentials or password grant is a form POST to ``tokenUrl``
(spec 14.2); the token goes into ``vars.token`` and, through
``static_auth``, into ``authorization: Bearer <token>``. Tokens are cached
on the step (one per target) under a digest of the rendered credentials, so
templated credentials that differ per test get tokens of their own, and are
reused until 60 s before they expire (spec 14.3). The token request is made
once: a failure fails the call, never a retry loop against an auth server.
Secrets (client secret, password, tokens) never appear in an error.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import actions as A
from ..call import CallContext
from ..config.http import OAuthAuth
from ..config.timeouts import Timeouts
from ..errors import (
    ConfigError,
    HttpStatusError,
    PromptwireError,
    RemoteProtocolError,
    TemplateError,
    UrlError,
)
from ..hooks import parse_json_or_none
from ..http.message import finish_headers, url_for_messages
from ..http.prepared import PreparedRequest
from ..http.urls import parse_url, serialize_query
from ..limits import DEFAULT_TIMEOUT_MS, ERROR_BODY_SNIPPET, Limits
from ..templating import Template, TemplateEngine
from .prestep import StepFlow, fetch, response_text, tls_for, touch_lru
from .static import url_credentials

# promptfoo's TOKEN_REFRESH_BUFFER_MS: a token is used only while it has more
# than this left, so a slow call never carries a token that expires mid-flight.
REFRESH_BUFFER_S = 60.0
# Lifetime assumed when the token response has no (or a zero) ``expires_in``.
DEFAULT_LIFETIME_S = 3600.0
PREFIX = "Failed to refresh OAuth token: "
# How often a call waiting for another call's token fetch looks again (s).
INFLIGHT_POLL_S = 0.01
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class _Token:
    value: Any
    expires_at: float  # monotonic seconds


@dataclass(frozen=True, slots=True)
class _Rendered:
    token_url: str
    client_id: str
    client_secret: str
    username: str
    password: str
    scopes: tuple[str, ...]


class OAuthStep:
    """The ``PreStep`` for ``auth.type: oauth``; holds the target's token cache."""

    def __init__(self, grant: str, token_url: Template, client_id: Template | None,
                 client_secret: Template | None, username: Template | None, password: Template | None,
                 scopes: tuple[Template, ...], tls: A.TlsParams | None) -> None:
        self.grant = grant
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._username = username
        self._password = password
        self._scopes = scopes
        self._tls = tls
        self._cache: OrderedDict[str, _Token] = OrderedDict()
        # Token fetches under way: credentials digest -> monotonic give-up time.
        self._inflight: dict[str, float] = {}

    @classmethod
    def compile(cls, auth: OAuthAuth, engine: TemplateEngine, *, tls: A.TlsParams | None = None) -> OAuthStep:
        """Raises ``ConfigError`` for a ``tokenUrl`` without templates that is not a URL."""
        def opt(value: str | None) -> Template | None:
            return None if value is None else engine.compile(value)

        token_url = engine.compile(auth.tokenUrl)
        if not token_url.has_tags:
            try:
                parse_url(auth.tokenUrl)
            except UrlError as err:
                raise ConfigError(f"not a valid URL ({err}): {auth.tokenUrl!r}", "config.auth.tokenUrl") from None
        return cls(auth.grantType, token_url, opt(auth.clientId), opt(auth.clientSecret),
                   opt(auth.username), opt(auth.password),
                   tuple(engine.compile(s) for s in auth.scopes or ()), tls)

    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        del context
        creds = self._render(vars)
        key = _digest(self.grant, creds)
        while True:
            cached = self._cache.get(key)
            if cached is not None and ctx.now.mono + REFRESH_BUFFER_S < cached.expires_at:
                touch_lru(self._cache, key)
                return {"token": cached.value}
            # Another call of this target is fetching the same token: wait for
            # it instead of sending a second token request (many concurrent
            # calls at start-up would otherwise each fetch one). If it fails
            # or overruns, this call fetches for itself.
            busy_until = self._inflight.get(key)
            if busy_until is None or ctx.now.mono >= busy_until:
                break
            yield A.Sleep(min(busy_until, ctx.now.mono + INFLIGHT_POLL_S))
        req = self._token_request(creds)
        self._inflight[key] = ctx.now.mono + (timeouts.total_ms or DEFAULT_TIMEOUT_MS) / 1000
        try:
            raw = yield from fetch(ctx, req, tls=tls_for(self._tls, req), timeouts=timeouts, limits=limits,
                                   policy=None)
            text, _ = response_text(raw, limits)
        except PromptwireError as err:
            raise _prefixed(err) from None
        finally:
            self._inflight.pop(key, None)
        if not 200 <= raw.status <= 299:
            raise HttpStatusError(f"{PREFIX}Error: OAuth token request failed with status {raw.status} "
                                  f"{raw.reason}: {_snippet(text)}", raw.status)
        data = parse_json_or_none(text)
        if data is None and text.strip() != "null":
            raise RemoteProtocolError(f"{PREFIX}Error: the OAuth token response is not JSON "
                                      f"(status {raw.status}, {len(text)} characters)")
        value = data.get("access_token") if isinstance(data, dict) else None
        if not _truthy(value):
            raise RemoteProtocolError(f"{PREFIX}Error: OAuth token response missing access_token")
        assert isinstance(data, dict)
        token = _Token(value, ctx.now.mono + _lifetime_s(data.get("expires_in")))
        self._store(key, token, ctx.now.mono, limits.max_oauth_tokens)
        return {"token": value}

    # -- internals -------------------------------------------------------------------

    def _render(self, vars: Mapping[str, Any]) -> _Rendered:
        def render(t: Template | None) -> str:
            return "" if t is None else t.render(vars)

        return _Rendered(render(self._token_url), render(self._client_id), render(self._client_secret),
                         render(self._username), render(self._password),
                         tuple(s.render(vars) for s in self._scopes))

    def _token_request(self, creds: _Rendered) -> PreparedRequest:
        form: list[tuple[str, str]] = [("grant_type", self.grant)]
        if creds.client_id:
            form.append(("client_id", creds.client_id))
        if creds.client_secret:
            form.append(("client_secret", creds.client_secret))
        if self.grant == "password":
            if not creds.username or not creds.password:
                raise TemplateError(f"{PREFIX}Error: Username and password are required for password grant "
                                    "type (auth.username / auth.password rendered empty)")
            form += [("username", creds.username), ("password", creds.password)]
        if creds.scopes:
            form.append(("scope", " ".join(creds.scopes)))
        try:
            url = parse_url(creds.token_url)
        except UrlError as err:
            raise TemplateError(f"{PREFIX}auth.tokenUrl {self._token_url.source!r} is not a valid URL: "
                                f"{err}") from None
        body = serialize_query(form).encode("ascii")
        # ``Content-Type`` keeps its capitals on the wire, as promptfoo sends it.
        headers = {"host": url.host_header, "Content-Type": FORM_TYPE}
        basic = url_credentials(url)
        if basic is not None:
            url = url.without_credentials()
            headers["Authorization"] = basic
        return PreparedRequest("POST", url.scheme, url.connect_host, url.effective_port, url.target,
                               finish_headers(headers, "POST", body), body, url_for_messages(url))

    def _store(self, key: str, token: _Token, now: float, bound: int) -> None:
        # Tolerant of another thread's calls touching the same cache (the sync
        # binding shares a target between threads): a lost race only costs a
        # token request, never an exception.
        for stale in [k for k, t in list(self._cache.items()) if t.expires_at <= now]:
            self._cache.pop(stale, None)
        self._cache[key] = token
        touch_lru(self._cache, key)
        while len(self._cache) > max(1, bound):
            try:
                self._cache.popitem(last=False)
            except KeyError:
                break


def _digest(grant: str, creds: _Rendered) -> str:
    """The cache key: a digest, so the cache never holds credentials as keys."""
    material = json.dumps([grant, creds.token_url, creds.client_id, creds.client_secret, creds.username,
                           creds.password, list(creds.scopes)], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _lifetime_s(expires_in: Any) -> float:
    """``expires_in || 3600`` seconds; a value that is not a number expires at once
    (JavaScript computes NaN for it, which never counts as valid)."""
    if expires_in is None or expires_in is False or expires_in == "" or expires_in == 0:
        return DEFAULT_LIFETIME_S
    if isinstance(expires_in, bool):
        return 1.0
    if isinstance(expires_in, str):
        try:
            expires_in = float(expires_in.strip() or "0")
        except ValueError:
            return -math.inf
        if expires_in == 0:
            return 0.0
    if isinstance(expires_in, (int, float)) and math.isfinite(expires_in):
        return float(expires_in)
    return -math.inf


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", 0) and not (isinstance(value, float) and math.isnan(value))


def _snippet(text: str) -> str:
    if len(text) <= ERROR_BODY_SNIPPET:
        return text
    return text[:ERROR_BODY_SNIPPET] + f"... ({len(text) - ERROR_BODY_SNIPPET} more characters)"


def _prefixed(err: PromptwireError) -> PromptwireError:
    """The same error (class, kind, retry flags) with the OAuth prefix on its message."""
    out = copy.copy(err)
    out.message = PREFIX + err.message
    out.args = (out.message,)
    return out


__all__ = ["DEFAULT_LIFETIME_S", "REFRESH_BUFFER_S", "OAuthStep"]
