"""What the core asks its binding to do. One action is outstanding at a time.

``Open``, ``Write``, ``Read`` and ``Sleep`` each expect exactly one
event back (see ``events``); ``Release``, ``Close`` and ``Emit`` expect none;
``Complete`` and ``Fail`` end the call. Deadlines are absolute monotonic
seconds (``Instant.mono``), ``None`` for "no deadline".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from .proxy import ProxyRoute

if TYPE_CHECKING:
    from .errors import PromptwireError
    from .response import ProviderResponse


@dataclass(frozen=True, slots=True)
class TlsParams:
    """How to secure a connection. File material arrives as bytes, never paths.

    ``verify`` is False only when the config says ``rejectUnauthorized: false``.
    ``ca`` / ``cert_chain`` / ``key`` are PEM bytes (the binding read the files into
    ``Sources`` when the target was built).
    """

    server_name: str
    verify: bool = True
    ca: bytes | None = None
    cert_chain: bytes | None = None
    key: bytes | None = None
    key_password: bytes | None = None
    ciphers: str | None = None
    min_version: str | None = None
    max_version: str | None = None
    alpn: tuple[str, ...] = ()
    # The TLS 1.3 suites ``tls.ciphers`` allows (``None``: any). Python's ``ssl``
    # cannot restrict them, so the binding checks the negotiated one.
    tls13_ciphers: tuple[str, ...] | None = None

    def pool_key(self) -> tuple[Any, ...]:
        """Connections are only shared between identical TLS settings."""
        return (
            self.server_name, self.verify, self.ca, self.cert_chain, self.key,
            self.key_password, self.ciphers, self.min_version, self.max_version, self.alpn,
            self.tls13_ciphers,
        )


@dataclass(frozen=True, slots=True)
class Open:
    """Connect (plus TLS when ``tls`` is set), or hand out an idle pooled connection.

    ``reuse_ok`` is False for connections that will be upgraded (WebSocket) or
    must be fresh. The binding answers ``Opened`` / ``OpenFailed`` / ``TimedOut``.

    ``proxy`` (the core's decision, ``proxy.ProxyRoute``): connect to the proxy
    instead of ``host:port``; when ``proxy.tunnel``, first open a ``CONNECT``
    tunnel to ``host:port`` through it (bytes from ``proxy.connect_request``,
    reply judged by ``proxy.parse_connect_reply``), then start ``tls`` over the
    tunnel. A refusal is ``OpenFailed(kind=PROXY)`` naming the proxy, never its
    credentials. Pooled connections are keyed by origin *and* proxy.

    ``keep_tag`` (WebSocket ``connectionScope: conversation``): the connection
    belongs to one conversation, pooled under origin, proxy *and* tag. At most
    one call holds a tag's connection at a time (the others wait in line, under
    ``deadline``, in arrival order), and an idle one is handed back even when
    bytes arrived while it was idle: ``Opened.readable`` says so and the core
    reads them itself. ``replaces``: a connection of this call to close first,
    whose slot the new one takes over (a dead conversation socket replaced
    without losing the call's turn).
    """

    conn: int
    scheme: str
    host: str
    port: int
    tls: TlsParams | None
    deadline: float | None
    reuse_ok: bool = True
    proxy: ProxyRoute | None = None
    keep_tag: Any = None
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """Send all of ``data``. Answered by ``Written`` / ``WriteFailed`` / ``TimedOut``."""

    conn: int
    data: bytes
    deadline: float | None


@dataclass(frozen=True, slots=True)
class Read:
    """One receive of at most ``max_bytes``. Answered by ``Received`` (``b""`` is EOF)."""

    conn: int
    max_bytes: int
    deadline: float | None


@dataclass(frozen=True, slots=True)
class Release:
    """The exchange is over: pool the connection if ``reusable``, else close it.

    ``idle_s``: close the pooled connection once it has been idle that long
    (``None``: kept until the pool closes). ``farewell``: bytes to write (best
    effort) before the pool closes it (a WebSocket close frame).
    """

    conn: int
    reusable: bool
    idle_s: float | None = None
    farewell: bytes = b""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection now."""

    conn: int


@dataclass(frozen=True, slots=True)
class RetryNote:
    """Why a ``Sleep`` happens: attempt ``attempt`` of ``attempts`` failed (``reason``,
    short, secret-free) and the next one starts after ``delay_s``. The core does no
    I/O; the binding logs it (logger ``promptwire``) so no retry is silent."""

    attempt: int
    attempts: int
    reason: str
    delay_s: float

    def message(self) -> str:
        return (f"attempt {self.attempt}/{self.attempts} failed: {self.reason}; "
                f"retrying in {self.delay_s:.1f} s")


@dataclass(frozen=True, slots=True)
class Sleep:
    """Sleep until the absolute monotonic time ``until``. Answered by ``Woke``.

    ``retry`` is set when the sleep is a backoff before another attempt.
    """

    until: float
    retry: RetryNote | None = None


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand a piece of streamed output to the caller. No reply."""

    delta: str


@dataclass(frozen=True, slots=True)
class Complete:
    """The call succeeded (the response may still carry an ``error`` field)."""

    response: ProviderResponse


@dataclass(frozen=True, slots=True)
class Fail:
    """The call raised."""

    error: PromptwireError


Action = Union[Open, Write, Read, Release, Close, Sleep, Emit, Complete, Fail]
NEEDS_REPLY = (Open, Write, Read, Sleep)
TERMINAL = (Complete, Fail)

__all__ = [
    "NEEDS_REPLY",
    "TERMINAL",
    "Action",
    "Close",
    "Complete",
    "Emit",
    "Fail",
    "Open",
    "Read",
    "Release",
    "RetryNote",
    "Sleep",
    "TlsParams",
    "Write",
]
