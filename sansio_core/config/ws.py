"""The WebSocket provider's configuration, as promptfoo's docs and code accept it.

Keys keep promptfoo's camelCase spelling so a config written for promptfoo
loads unchanged. Unknown keys are an error with a did-you-mean hint (a typo
such as ``messageTemplat`` would otherwise be silently ignored and the call
would fail much later). Code options (``transformResponse``,
``streamResponse``, ``responseParser``) hold a string (JavaScript, or a
``file://`` reference) or, for Python users, a callable.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from .http import Auth, TlsConfig
from .timeouts import request_timeout_ms

Code = Union[str, Callable[..., Any]]


class InitMessage(BaseModel):
    """One ``initMessages`` entry written as an object (a plain string is a message)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Sent (a template, rendered with the call's vars) once ``waitFor`` matched.
    message: str | None = None
    # A regular expression a server message must match (``re.search``) first.
    waitFor: str | None = None

    @field_validator("waitFor")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must be a non-empty regular expression")
        return value


def _init_messages(value: Any) -> Any:
    """Each entry a string or a ``{message, waitFor}`` object, with the entry's own error."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("expected a list of messages (strings or {message, waitFor} objects)")
    out: list[str | InitMessage] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ValueError(f"entry {i}: expected a string or a {{message, waitFor}} object, "
                             f"got {type(item).__name__}")
        try:
            entry = InitMessage.model_validate(dict(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (expected 'message' and/or 'waitFor')"
            raise ValueError(f"entry {i}: {name}: {msg}") from None
        if entry.message is None and entry.waitFor is None:
            raise ValueError(f"entry {i}: needs 'message', 'waitFor' or both")
        out.append(entry)
    return out


class WsConfig(BaseModel):
    """``config:`` of a ``ws``/``wss``/``websocket`` provider entry."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    url: str | None = None
    messageTemplate: str
    transformResponse: Code | None = None
    # Deprecated spelling of transformResponse, used only when that is unset.
    responseParser: Code | None = None
    streamResponse: Code | None = None
    # promptfoo: ``config.timeoutMs || REQUEST_TIMEOUT_MS || 300000``; 0 means the default.
    timeoutMs: float | None = None
    headers: dict[str, str] | None = None
    protocols: str | list[str] | None = None
    # promptfoo's evaluator reads it; when it is set, promptwire also retries a
    # failed handshake (429, transient 5xx, network errors) under the HTTP
    # retry policy with this many retries (``ws.flow.ws_retry_policy``); unset,
    # one handshake, as the reference makes.
    maxRetries: int | None = Field(default=None, ge=0)
    # promptwire extensions (WebSocket parity with HTTP, user-asks D/G): the
    # HTTP ``auth`` and ``tls`` blocks, applied to the handshake and to wss://.
    auth: Auth | None = None
    tls: TlsConfig | None = None
    # Longest wait for the next frame once the handshake is done (ms); the
    # total ``timeoutMs`` still bounds the whole call.
    idleTimeoutMs: float | None = Field(default=None, gt=0)
    # promptwire extension (user-asks H.19): a connection-rate cap shared by
    # every concurrent call of the target (``ratelimit.RateLimiter``).
    maxRequestsPerSecond: float | None = Field(default=None, gt=0)
    maxRequestsPerMinute: float | None = Field(default=None, gt=0)
    # promptwire extension (issue 12, docs/proxies.md): an http:// proxy for this
    # target, over HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY.
    proxy: str | None = None
    # promptwire extensions (issue 12, user-asks D.9-10, ``ws.conversation``):
    # ``conversation`` keeps one socket per conversation (the ``conversationId``
    # var, else ``sessionId``) across calls; an idle one is closed after
    # ``conversationIdleTimeoutMs``. ``initMessages`` are sent on every new
    # socket before the prompt, each after its optional ``waitFor`` matched.
    connectionScope: Literal["call", "conversation"] = "call"
    conversationIdleTimeoutMs: float = Field(default=60_000, gt=0)
    initMessages: list[Union[str, InitMessage]] | None = None

    @field_validator("initMessages", mode="before")
    @classmethod
    def _init(cls, value: Any) -> Any:
        return _init_messages(value)

    @field_validator("headers", mode="before")
    @classmethod
    def _header_values(cls, value: Any) -> Any:
        """Numbers and booleans become text, as Node's header handling does."""
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if isinstance(item, bool):
                    item = "true" if item else "false"
                elif isinstance(item, (int, float)):
                    item = str(item)
                out[key] = item
            return out
        return value

    @field_validator("timeoutMs")
    @classmethod
    def _timeout(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError("must be a positive number of milliseconds (0 means the default)")
        return value

    @field_validator("transformResponse", "responseParser", "streamResponse", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        if value is None or isinstance(value, str) or callable(value):
            return value
        raise ValueError(f"expected JavaScript source, a file:// reference or a callable, got {type(value).__name__}")

    def timeout_ms(self, env: Mapping[str, str]) -> float:
        """The effective total deadline in milliseconds."""
        if self.timeoutMs:
            return float(self.timeoutMs)
        return request_timeout_ms(env)

    def subprotocols(self) -> list[str]:
        """``protocols`` split on commas and trimmed, empties dropped (promptfoo's rule)."""
        items = [self.protocols] if isinstance(self.protocols, str) else list(self.protocols or [])
        return [p.strip() for item in items for p in item.split(",") if p.strip()]


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, list(WsConfig.model_fields), n=1, cutoff=0.6)
    if not close:
        close = [k for k in WsConfig.model_fields if k.lower() == key.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_ws_config(raw: Mapping[str, Any] | None) -> WsConfig:
    """Validate a raw ``config`` mapping; ``ConfigError`` names the first bad key."""
    try:
        return WsConfig.model_validate(dict(raw or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("str", "list", "function")))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(err["loc"][0])
            raise ConfigError(
                f"unknown option for a WebSocket provider{_did_you_mean(key)}", key
            ) from None
        if kind == "missing":
            raise ConfigError(
                "is required: the template of the message sent over the WebSocket", loc
            ) from None
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(msg, loc or "config") from None


__all__ = ["Code", "InitMessage", "WsConfig", "load_ws_config"]
