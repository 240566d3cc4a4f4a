"""Credentials that need no exchange: bearer, basic, API key, and ``user:pass@`` in URLs.

Also where an OAuth token (fetched by ``oauth.OAuthStep`` into ``vars.token``)
becomes ``authorization: Bearer <token>`` (spec 4.2: only a string token).

Every value is a template rendered per call (``token: '{{env.API_TOKEN}}'``).
An auth header replaces a configured header of the same (lower-case) name,
as promptfoo's ``getHeaders`` does; an API key with ``placement: query`` is
appended after ``queryParams``. URL credentials become ``Authorization:
Basic`` only when no authorization header is set (Node's fetch layer rule).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from ..config.http import ApiKeyAuth, BasicAuth, BearerAuth, OAuthAuth
from ..http.urls import Url
from ..templating import Template, TemplateEngine


def basic_credentials(username: str, password: str) -> str:
    """``Basic base64(utf8(user:password))``."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class StaticAuth:
    """One compiled ``auth`` block of type bearer, basic, api_key or oauth."""

    __slots__ = ("_kind", "_name", "_value", "placement")

    def __init__(self, kind: str, name: Template | None, value: Template | tuple[Template, Template] | None,
                 placement: str) -> None:
        self._kind = kind
        self._name = name
        self._value = value
        self.placement = placement

    @classmethod
    def compile(cls, auth: Any, engine: TemplateEngine) -> StaticAuth | None:
        """The static part of ``auth``; None for no auth or for kinds handled elsewhere."""
        if isinstance(auth, BearerAuth):
            return cls("bearer", None, engine.compile(auth.token), "header")
        if isinstance(auth, BasicAuth):
            return cls("basic", None, (engine.compile(auth.username), engine.compile(auth.password)), "header")
        if isinstance(auth, ApiKeyAuth):
            return cls("api_key", engine.compile(auth.keyName), engine.compile(auth.value), auth.placement)
        if isinstance(auth, OAuthAuth):
            return cls("oauth", None, None, "header")
        return None

    def header(self, vars: Mapping[str, Any]) -> tuple[str, str] | None:
        """The (lower-case name, value) header this auth sets, if it uses a header."""
        if self.placement != "header":
            return None
        value = self._value
        if self._kind == "oauth":
            token = vars.get("token")
            return ("authorization", "Bearer " + token) if isinstance(token, str) else None
        if self._kind == "bearer":
            assert isinstance(value, Template)
            return "authorization", "Bearer " + value.render(vars)
        if self._kind == "basic":
            assert isinstance(value, tuple)
            return "authorization", basic_credentials(value[0].render(vars), value[1].render(vars))
        assert self._name is not None and isinstance(value, Template)
        return self._name.render(vars).lower(), value.render(vars)

    def query(self, vars: Mapping[str, Any]) -> tuple[str, str] | None:
        """The (name, value) query parameter this auth appends, if placed in the query."""
        if self.placement != "query":
            return None
        assert self._name is not None and isinstance(self._value, Template)
        return self._name.render(vars), self._value.render(vars)


def url_credentials(url: Url) -> str | None:
    """``Authorization`` value for ``http://user:pass@host/`` (percent-decoded), or None."""
    if not url.username and not url.password:
        return None
    user = unquote_to_bytes(url.username).decode("utf-8", "replace")
    password = unquote_to_bytes(url.password).decode("utf-8", "replace")
    return basic_credentials(user, password)


__all__ = ["StaticAuth", "basic_credentials", "url_credentials"]
