"""What the server received and what it will answer, as plain data.

Route handlers are plain functions from a ``RecordedRequest`` to a ``Reply``;
only the connection layer touches sockets and the clock, so the handlers are
easy to read and the wire behaviour (delays, drops) is described, not coded.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from ._limits import MAX_RECORDED_REQUESTS, MAX_SCRIPT_IDS
from ._params import Query


@dataclass(slots=True)
class RecordedRequest:
    """One request as the server received it (an HTTP request or a WebSocket handshake).

    ``headers`` keep the names' case and order as sent. ``messages`` collects
    the client's WebSocket messages (str for text, bytes for binary) as they
    arrive; it stays empty for plain HTTP.
    """

    kind: Literal["http", "websocket"]
    method: str
    target: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str
    messages: list[str | bytes] = field(default_factory=list)
    # When the request (or handshake) arrived, on ``time.monotonic``'s clock.
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        """The first value of a header, matched case-insensitively."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def params(self) -> Query:
        return Query(self.query)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes written in one go, after waiting ``delay`` seconds."""

    data: bytes
    delay: float = 0.0


# How a reply ends on the wire:
#   complete           - the whole response, connection kept alive if allowed
#   drop               - close the socket after the chunks, mid-body
#   reset              - like drop, but with a TCP RST
#   close-before-head  - close without sending a single response byte
#   reset-before-head  - the same with a TCP RST
Ending = Literal["complete", "drop", "reset", "close-before-head", "reset-before-head"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP response described as data.

    With ``streamed`` false the head announces the content length of all
    chunks (or ``length`` when given, to lie about it for drop tests); with
    ``streamed`` true no length is sent and h11 uses chunked encoding.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    chunks: tuple[Chunk, ...] = ()
    reason: str | None = None
    delay: float = 0.0
    streamed: bool = False
    length: int | None = None
    ending: Ending = "complete"


class ServerState:
    """State shared by every connection of one server: the request log and script counters.

    Route handlers run on the event loop thread; tests read ``requests`` from
    another thread, which is why it is a plain list appended under a lock.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._script_counts: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()
        self._sessions = 0
        self._session_turns: collections.OrderedDict[str, int] = collections.OrderedDict()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            if len(self.requests) >= MAX_RECORDED_REQUESTS:
                del self.requests[: MAX_RECORDED_REQUESTS // 2]
            self.requests.append(request)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def next_attempt(self, script: str, key: str) -> int:
        """1 for the first request of a (script, id) pair, 2 for the next, ..."""
        with self._lock:
            slot = (script, key)
            count = self._script_counts.pop(slot, 0) + 1
            self._script_counts[slot] = count
            while len(self._script_counts) > MAX_SCRIPT_IDS:
                self._script_counts.popitem(last=False)
            return count

    def session_turn(self, session_id: str | None) -> tuple[str, int]:
        """The session id to use (a new one when none was sent) and its turn number."""
        with self._lock:
            if not session_id:
                self._sessions += 1
                session_id = f"mock-session-{self._sessions}"
            turn = self._session_turns.pop(session_id, 0) + 1
            self._session_turns[session_id] = turn
            while len(self._session_turns) > MAX_SCRIPT_IDS:
                self._session_turns.popitem(last=False)
            return session_id, turn
