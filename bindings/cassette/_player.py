"""Replay one episode into a fresh call: no sockets, no clock, no sleeping.

The call is built with the episode's seed and start instant; each action it
asks for is answered with the recorded outcome at the recorded instant. Each
request it writes is compared with the recorded one under the cassette's
matchers (after both are redacted the same way); the first difference stops
the replay with ``Diverged``, which says how far it got and what differed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call

from ._model import Episode, is_ws_open
from ._redact import Redactor, normalize
from ._wire import (
    RequestView,
    fix_accept,
    frames_text,
    origin_of,
    parse_frames,
    parse_request,
    pretty_body,
)

DEFAULT_MATCH_ON = ("method", "url", "body")
MATCHERS = frozenset({"method", "url", "scheme", "host", "path", "query", "body", "headers"})
_IGNORED_HEADERS = frozenset({"sec-websocket-key", "content-length"})
_OP = {A.Open: "open", A.Write: "write", A.Read: "read", A.Sleep: "sleep"}


class Diverged(Exception):
    def __init__(self, progress: int, reason: str, mine: RequestView | None = None,
                 recorded: RequestView | None = None, fields: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.progress = progress
        self.reason = reason
        self.mine = mine
        self.recorded = recorded
        self.fields = list(fields)


@dataclass(frozen=True)
class Matcher:
    match_on: tuple[str, ...]
    match_headers: tuple[str, ...]
    redactor: Redactor

    def differences(self, mine: RequestView, rec: RequestView) -> list[str]:
        out = []
        for name in self.match_on:
            if name == "headers":
                if not same(_headers(rec), _headers(mine)):
                    out.append("headers")
            elif name == "query":
                if not same(_query(rec), _query(mine)):
                    out.append("query")
            elif not same(str(getattr(rec, name)), str(getattr(mine, name))):
                out.append(name)
        for h in self.match_headers:
            if not same(rec.header(h) or "", mine.header(h) or ""):
                out.append(f"header {h}")
        return out


def same(recorded: str, mine: str) -> bool:
    """Equal once redacted values are set aside: a mask in the recording matches anything
    (the replaying side may hold other secrets, or none, or lack a filter the recorder had)."""
    recorded, mine = normalize(recorded), normalize(mine)
    if recorded == mine:
        return True
    if "<redacted>" not in recorded:
        return False
    pattern = ".*?".join(re.escape(part) for part in recorded.split("<redacted>"))
    return re.fullmatch(pattern, mine, re.S) is not None


def _headers(view: RequestView) -> str:
    return "\n".join(sorted(f"{k.lower()}: {v}" for k, v in view.headers if k.lower() not in _IGNORED_HEADERS))


def _query(view: RequestView) -> str:
    return "&".join(f"{k}={v}" for k, v in view.query)


def describe(action: A.Action) -> str:
    if isinstance(action, A.Open):
        return f"open {origin_of(action.scheme, action.host, action.port)}"
    return type(action).__name__.lower()


def play(call: Call, episode: Episode, matcher: Matcher, deltas: list[str]) -> A.Action:
    """Drive ``call`` through ``episode``; returns its ``Complete`` or ``Fail``."""
    steps = episode.steps
    views = episode.views
    i = 0
    matched = 0
    conn_map: dict[int, int | None] = {}
    origins: dict[int, tuple[str, bool]] = {}
    ws_url: dict[int, str] = {}
    ws_key: dict[int, str] = {}
    wrote: set[int] = set()
    carry: dict[int, bytes] = {}
    while True:
        action = call.next_action()
        if isinstance(action, A.Emit):
            deltas.append(action.delta)
            continue
        if isinstance(action, (A.Complete, A.Fail)):
            return action
        if isinstance(action, (A.Release, A.Close)):
            continue
        if isinstance(action, A.Read) and carry.get(action.conn):
            data = carry.pop(action.conn)
            if len(data) > action.max_bytes:
                carry[action.conn] = data[action.max_bytes:]
            call.feed(E.Received(action.conn, data[:action.max_bytes]), call.context.now)
            continue
        op = _OP[type(action)]
        if i >= len(steps):
            raise Diverged(matched, f"the call asked to {describe(action)} after the recording ended")
        st = steps[i]
        if st.op != op:
            raise Diverged(matched, f"the call asked to {describe(action)} where the recording has {st.op}")
        i += 1
        now = episode.instant(st.t)
        event: E.Event
        if isinstance(action, A.Open):
            conn_map[action.conn] = st.conn
            origins[action.conn] = (origin_of(action.scheme, action.host, action.port), is_ws_open(action))
            event = st.event(action.conn)
        elif isinstance(action, A.Write):
            origin, is_ws = origins.get(action.conn, ("", False))
            mine: RequestView | None
            if is_ws and action.conn in wrote:
                mine = RequestView("WS", ws_url.get(action.conn, origin), [],
                                   frames_text(parse_frames(action.data)[0]))
            else:
                mine = parse_request(matcher.redactor.scrub(action.data), origin)
                raw = parse_request(action.data, origin)
                if is_ws and mine is not None and raw is not None:
                    ws_url[action.conn] = mine.url
                    ws_key[action.conn] = raw.header("sec-websocket-key") or ""
            wrote.add(action.conn)
            rec = views.get(i - 1)
            if mine is not None and rec is not None:
                fields = matcher.differences(mine, rec)
                if fields:
                    raise Diverged(matched, "request differs", mine, rec, fields)
            elif (mine is None) != (rec is None):
                raise Diverged(matched, "the call wrote something other than the recorded request", mine, rec)
            matched += 1
            event = st.event(action.conn)
        elif isinstance(action, A.Read):
            if st.conn != conn_map.get(action.conn):
                raise Diverged(matched, "the call read from another connection than recorded")
            event = st.event(action.conn)
            if isinstance(event, E.Received) and event.data:
                data = event.data
                key = ws_key.pop(action.conn, None)
                if key:
                    data = fix_accept(data, key)
                if len(data) > action.max_bytes:
                    carry[action.conn] = data[action.max_bytes:]
                    data = data[:action.max_bytes]
                event = E.Received(action.conn, data)
        else:
            assert isinstance(action, A.Sleep)
            event = E.Woke()
        call.feed(event, now)


def abandon(call: Call) -> None:
    """Cancel a call that stopped matching, so its flows clean up (in-flight markers, caches)."""
    if call.done:
        return
    call.feed(E.Cancelled(), call.context.now)
    for _ in range(1000):
        if isinstance(call.next_action(), (A.Complete, A.Fail)):
            return


def explain(d: Diverged) -> str:
    """How the closest recorded request differs from the call's, for the mismatch error."""
    lines = [f"  {d.reason}" + (f" in: {', '.join(d.fields)}" if d.fields else "")]
    if d.mine is not None and d.recorded is not None:
        if d.mine.summary() != d.recorded.summary():
            lines += [f"  - recorded: {d.recorded.summary()}", f"  + request:  {d.mine.summary()}"]
        for name in d.fields:
            if name == "body":
                lines += _diff(pretty_body(normalize(d.recorded.body)), pretty_body(normalize(d.mine.body)))
            elif name.startswith("header ") or name == "headers":
                wanted = [name[7:]] if name.startswith("header ") else sorted(
                    {k.lower() for k, _ in d.mine.headers + d.recorded.headers})
                for h in wanted:
                    a, b = d.recorded.header(h), d.mine.header(h)
                    if not same(a or "", b or ""):
                        lines += [f"  - {h}: {json.dumps(a)}", f"  + {h}: {json.dumps(b)}"]
    return "\n".join(lines)


def _diff(recorded: str, mine: str) -> list[str]:
    out = list(difflib.unified_diff(recorded.splitlines(), mine.splitlines(), "recorded body",
                                    "request body", lineterm="", n=2))
    if len(out) > 60:
        out = [*out[:60], f"... ({len(out) - 60} more diff lines)"]
    return ["  " + line for line in out]
