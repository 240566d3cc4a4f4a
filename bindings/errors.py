"""Transport exceptions mapped to ``FailureKind`` exactly once, in one place."""

from __future__ import annotations

import errno
import socket
import ssl

from sansio_core.errors import FailureKind

VERIFY_HINT = ("trust the server's CA with tls.ca or tls.caPath (or set tls.rejectUnauthorized: false "
               "to skip verification, for testing only)")
PLAIN_HTTP_HINT = ("the server did not answer the TLS handshake with TLS: is this a plain-HTTP port? "
                   "Use http:// (or ws://) for it")
# OpenSSL's reasons when the peer answers a ClientHello with something that is
# not TLS (typically an HTTP/1.1 400 response, read as a TLS record).
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                              "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_TOO_LARGE"})


def tls_detail(exc: ssl.SSLError) -> str:
    """What a TLS failure means and, where we know it, how to fix it."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message or detail}; {VERIFY_HINT}"
    if getattr(exc, "reason", None) in _NOT_TLS_REASONS:
        return f"TLS handshake failed ({exc.reason}): {PLAIN_HTTP_HINT}"
    return f"TLS error: {detail}"


def failure_kind(exc: BaseException) -> tuple[FailureKind, str]:
    """Classify an exception raised by a socket, TLS or backend operation."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return failure_kind(exc.exceptions[-1])
    if isinstance(exc, OSError) and exc.errno is None and exc.__cause__ is not None:
        # trio's "all attempts to connect ... failed" wraps the real errors.
        return failure_kind(exc.__cause__)
    if isinstance(exc, socket.gaierror):
        return FailureKind.DNS, f"cannot resolve host ({detail})"
    if isinstance(exc, ssl.SSLError):
        return FailureKind.TLS, tls_detail(exc)
    if isinstance(exc, ConnectionRefusedError):
        return FailureKind.REFUSED, "connection refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return FailureKind.RESET, "connection reset by peer"
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT, "timed out"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED,):
        return FailureKind.REFUSED, "connection refused"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return FailureKind.RESET, "connection reset by peer"
    name = type(exc).__name__
    if name in ("BrokenResourceError", "ClosedResourceError"):  # trio
        cause = exc.__cause__ or exc.__context__
        if cause is not None and cause is not exc:
            return failure_kind(cause)
        return FailureKind.RESET, "connection reset by peer"
    if name == "TrioSSLError":  # pragma: no cover - trio wraps ssl errors differently by version
        return FailureKind.TLS, f"TLS error: {detail}"
    return FailureKind.OTHER, f"{name}: {detail}"


# Exceptions the drivers translate into failure events; anything else is a bug
# and propagates.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, ssl.SSLError, EOFError)
