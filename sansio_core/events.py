"""What the binding tells the core: the outcome of the one outstanding action.

The current time does not travel inside events; it is passed alongside each
one (``Call.feed(event, now)``) so that every event is stamped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import FailureKind


@dataclass(frozen=True, slots=True)
class Opened:
    conn: int
    reused: bool = False
    # A reused ``keep_tag`` connection with bytes (or EOF) waiting to be read.
    readable: bool = False


@dataclass(frozen=True, slots=True)
class OpenFailed:
    conn: int
    kind: FailureKind
    detail: str


@dataclass(frozen=True, slots=True)
class Written:
    conn: int


@dataclass(frozen=True, slots=True)
class WriteFailed:
    conn: int
    kind: FailureKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    """``data == b""`` means the peer closed its side (EOF), as in h11."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadFailed:
    conn: int
    kind: FailureKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The deadline of the outstanding ``Open``/``Write``/``Read`` passed."""

    conn: int


@dataclass(frozen=True, slots=True)
class Woke:
    pass


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The caller gave up; the core answers with cleanup actions and then ``Fail``."""


Event = Union[
    Opened, OpenFailed, Written, WriteFailed, Received, ReadFailed, TimedOut,
    Woke, Cancelled,
]

__all__ = [
    "Cancelled",
    "Event",
    "OpenFailed",
    "Opened",
    "ReadFailed",
    "Received",
    "TimedOut",
    "Woke",
    "WriteFailed",
    "Written",
]
