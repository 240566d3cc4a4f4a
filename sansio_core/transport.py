"""From a failed ``Open``/``Write``/``Read`` to an error: one rule for HTTP and WebSocket.

The binding classifies an OS or TLS failure once (``FailureKind`` plus a short,
secret-free detail); here that becomes a ``TransportError`` whose message says
what we were doing, whose ``kind`` drives the retry policy, and which records
whether any response byte had arrived (a failure before that point never
reached the application, so retrying is always safe) and whether the
connection came from the pool.
"""

from __future__ import annotations

from . import events as E
from .errors import FailureKind, TransportError

Failure = E.OpenFailed | E.WriteFailed | E.ReadFailed


def failure_detail(kind: FailureKind, detail: str) -> str:
    """The binding's detail, or the kind's name when it gave none."""
    return detail or kind.value


def transport_error(doing: str, event: Failure, *, response_started: bool = False,
                    reused: bool = False) -> TransportError:
    """``"<doing>: <detail>"`` as a ``TransportError`` of the event's kind."""
    return TransportError(f"{doing}: {failure_detail(event.kind, event.detail)}", event.kind,
                          response_started=response_started, reused=reused)


__all__ = ["Failure", "failure_detail", "transport_error"]
