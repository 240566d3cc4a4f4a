"""The error model: every failure is a ``PromptwireError`` with a category and a retry hint.

Two families, as in h11: *local* errors are the caller's (bad config, a template
that renders an illegal header, a transform that throws) and are raised where
they are caused; *remote* errors are the peer's or the network's (protocol
violations, refused connections, timeouts) and surface from the receive path.
``retryable`` says exactly what the retry policy does with the error: true only
when another attempt is made for it (budget permitting).
Messages never contain secrets: callers pass redacted detail only.
"""

from __future__ import annotations

from enum import Enum


class FailureKind(str, Enum):
    """What went wrong at the transport level, filled in once by the binding."""

    DNS = "dns"
    REFUSED = "refused"
    TLS = "tls"
    RESET = "reset"
    EOF = "eof"
    TIMEOUT = "timeout"
    PROXY = "proxy"  # the proxy refused the tunnel (407, 403, 502...) or answered nonsense
    OTHER = "other"


# Failure kinds worth another attempt; ``TransportError.retryable`` and the retry
# policy both read this one set. DNS and TLS failures are configuration problems
# (a typo'd host, an untrusted certificate) far more often than blips.
RETRYABLE_KINDS = frozenset(
    {FailureKind.REFUSED, FailureKind.RESET, FailureKind.EOF, FailureKind.TIMEOUT, FailureKind.OTHER}
)


class PromptwireError(Exception):
    """Base of every error promptwire raises. Not raised directly."""

    category: str = "error"
    retryable: bool = False

    def __init__(self, message: str) -> None:
        if type(self) is PromptwireError:
            raise TypeError("PromptwireError is abstract; raise a subclass")
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# -- local: the configuration, templates, transforms ---------------------------------


class LocalError(PromptwireError):
    """The caller's side is at fault; retrying the same call cannot help."""

    category = "local"


class ConfigError(LocalError):
    """A provider configuration is invalid. ``path`` names the offending key."""

    category = "config"

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class TemplateError(LocalError):
    """A template failed to compile or render, or rendered something illegal."""

    category = "template"


class TransformError(LocalError):
    """User code (transformRequest/Response, validateStatus, sessionParser, ...) failed."""

    category = "transform"


class LocalProtocolError(LocalError):
    """We were about to send something HTTP or WebSocket forbids, or the core itself
    failed (a bug: the call is poisoned and says what broke)."""

    category = "local_protocol"


class Cancelled(LocalError):
    """The caller gave up on the call."""

    category = "cancelled"


class JsError(TransformError):
    """JavaScript threw or hit a limit. ``kind``: error, timeout, memory, stack, syntax."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


# -- remote: the peer or the network --------------------------------------------------


class RemoteError(PromptwireError):
    """The server or the network is at fault."""

    category = "remote"


class RemoteProtocolError(RemoteError):
    """The server broke HTTP or WebSocket framing."""

    category = "remote_protocol"


class LimitExceeded(RemoteError):
    """The server sent more than a configured limit allows (see ``limits``)."""

    category = "limit"


class TransportError(RemoteError):
    """Connecting, writing or reading failed; ``kind`` says how."""

    category = "transport"

    def __init__(
        self,
        message: str,
        kind: FailureKind = FailureKind.OTHER,
        *,
        response_started: bool = False,
        reused: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        # Whether any byte of a response had arrived: a failure before that
        # point never reached the application, so retrying is always safe.
        self.response_started = response_started
        # A pooled connection the server had silently closed fails this way;
        # such a failure says nothing about the server's health.
        self.reused = reused
        self.retryable = kind in RETRYABLE_KINDS


class DeadlineExceeded(TransportError):
    """A deadline passed. ``which`` is connect, first_byte, idle or total."""

    category = "timeout"

    def __init__(self, message: str, which: str = "total", *, response_started: bool = False) -> None:
        super().__init__(message, FailureKind.TIMEOUT, response_started=response_started)
        self.which = which
        # The call's own total deadline leaves nothing to retry in.
        self.retryable = which != "total"


class HttpStatusError(RemoteError):
    """A response status was rejected (validateStatus, rate limits, retries used up)."""

    category = "status"

    def __init__(self, message: str, status: int, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class RetriesExhausted(RemoteError):
    """Every allowed attempt failed; the message lists each attempt's reason."""

    category = "retries"


class WebSocketClosed(RemoteError):
    """The WebSocket peer closed or dropped the connection before the call completed."""

    category = "websocket"

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class TargetReportedError(RemoteError):
    """The target's reply, after ``transformResponse``, carried an ``error``."""

    category = "result"


# -- internal: parse failures the core turns into one of the errors above ------------


class UrlError(ValueError):
    """The text is not a URL promptwire can request (message says why)."""


class RawRequestError(ValueError):
    """The (rendered) raw request is not a request promptwire can send."""


__all__ = [
    "Cancelled",
    "ConfigError",
    "FailureKind",
    "HttpStatusError",
    "JsError",
    "LimitExceeded",
    "LocalError",
    "LocalProtocolError",
    "PromptwireError",
    "RETRYABLE_KINDS",
    "RemoteError",
    "RemoteProtocolError",
    "RetriesExhausted",
    "RawRequestError",
    "TargetReportedError",
    "UrlError",
    "TemplateError",
    "DeadlineExceeded",
    "TransformError",
    "TransportError",
    "WebSocketClosed",
]
