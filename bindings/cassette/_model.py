"""Episodes (one recorded call each) and the cassette file: versioned YAML.

An episode is the call's start instant and seed, then one step per action that
needed a reply (``open``, ``write``, ``read``, ``sleep``, ``load``) with the
outcome the binding fed back and when (``t``: seconds after the start on the
monotonic clock; the wall clock the call saw is ``start.wall + t``). Replaying
feeds the same outcomes at the same instants to a fresh call built with the
same seed, so the call takes the same decisions with no network and no clock.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core._version import __version__
from sansio_core.errors import FailureKind, LocalError
from sansio_core.timebase import Instant

from ._redact import Redactor
from ._wire import (
    RequestView,
    as_server_frames,
    decode_bytes,
    encode_bytes,
    encode_frame,
    frame_doc,
    frame_from_doc,
    frames_text,
    origin_of,
    parse_frames,
    parse_request,
)

FORMAT_VERSION = 1
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def is_ws_open(action: A.Open) -> bool:
    """A WebSocket connection (the flow opens ``ws``/``wss`` sockets, never pooled)."""
    return action.scheme in ("ws", "wss")


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Strings with line breaks or control characters double-quoted on one line, escapes visible."""


def _str(dumper: Any, value: str) -> Any:
    style = '"' if any(c in value for c in "\r\n\t") or not value.isprintable() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


class CassetteError(LocalError):
    """A cassette cannot be used: missing in replay-only mode, unreadable, or nothing matches.

    ``closest`` (when set) is the recorded request nearest to the call's, ``diff``
    how they differ.
    """

    category = "cassette"

    def __init__(self, message: str, *, closest: RequestView | None = None, diff: str = "") -> None:
        super().__init__(message)
        self.closest = closest
        self.diff = diff


@dataclass
class Step:
    op: str  # open | write | read | sleep | load
    t: float
    conn: int | None = None
    result: str = "ok"  # open: opened|reused|reused-readable|failed|timeout; write: written|failed|timeout;
    # read: data|eof|failed|timeout; sleep: woke; load: loaded|failed
    kind: str = ""
    detail: str = ""
    data: bytes = b""
    frames: list[tuple[int, bool, bytes]] | None = None
    scheme: str = ""
    host: str = ""
    port: int = 0
    purpose: str = "request"
    until: float = 0.0
    key: str = ""
    path: str = ""

    def event(self, conn: int | None) -> E.Event:
        """The event this step fed, for connection ``conn`` of the replaying call."""
        c = conn if conn is not None else 0
        kind = FailureKind(self.kind) if self.kind else FailureKind.OTHER
        if self.result == "timeout":
            return E.TimedOut(c)
        if self.op == "open":
            if self.result == "failed":
                return E.OpenFailed(c, kind, self.detail)
            return E.Opened(c, reused=self.result.startswith("reused"), readable=self.result == "reused-readable")
        if self.op == "write":
            return E.WriteFailed(c, kind, self.detail) if self.result == "failed" else E.Written(c)
        if self.op == "read":
            if self.result == "failed":
                return E.ReadFailed(c, kind, self.detail)
            return E.Received(c, b"" if self.result == "eof" else self.data)
        if self.op == "sleep":
            return E.Woke()
        raise AssertionError(self.op)  # pragma: no cover - loads are performed, not replayed


@dataclass
class Episode:
    """One recorded call."""

    start: Instant
    seed: int
    steps: list[Step]
    target: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)

    def instant(self, t: float) -> Instant:
        return Instant(self.start.mono + t, self.start.wall + t)

    @functools.cached_property
    def views(self) -> dict[int, RequestView]:
        """Step index -> request, computed once (matching reads it for every try)."""
        return dict(self.requests())

    def requests(self) -> list[tuple[int, RequestView]]:
        """(step index, request) for every write: HTTP requests and WebSocket messages."""
        origins: dict[int, tuple[str, bool]] = {}
        ws_url: dict[int, str] = {}
        out: list[tuple[int, RequestView]] = []
        for i, st in enumerate(self.steps):
            if st.op == "open" and st.conn is not None:
                origins[st.conn] = (origin_of(st.scheme, st.host, st.port), st.purpose == "ws")
            elif st.op == "write" and st.conn is not None:
                origin, is_ws = origins.get(st.conn, ("", False))
                view = write_view(st, origin, ws_url, is_ws)
                if view is not None:
                    out.append((i, view))
        return out

    @property
    def request(self) -> RequestView | None:
        """The call's main request: the last distinct HTTP request (after any pre-steps)."""
        reqs = [v for _, v in self.requests() if v.method != "WS"]
        return reqs[-1] if reqs else None


def write_view(st: Step, origin: str, ws_url: dict[int, str], is_ws: bool) -> RequestView | None:
    if st.frames is not None:
        return RequestView("WS", ws_url.get(st.conn or 0, origin), [], frames_text(st.frames))
    view = parse_request(st.data, origin)
    if view is not None and is_ws and st.conn is not None:
        ws_url[st.conn] = view.url
    return view


# -- building an episode from a live call ----------------------------------------------


def build_episode(raw: list[tuple[A.Action, E.Event, Instant]], start: Instant, seed: int,
                  redactor: Redactor, target: str, outcome: dict[str, Any]) -> Episode:
    """Turn a live call's (action, event, instant) list into a redacted episode."""
    steps: list[Step] = []
    purposes: dict[int, str] = {}
    wrote: set[int] = set()
    for action, event, now in raw:
        st = Step(op="", t=round(now.mono - start.mono, 6))
        if isinstance(action, A.Open):
            st.op, st.conn = "open", action.conn
            purpose = "ws" if is_ws_open(action) else "request"
            st.scheme, st.host, st.port, st.purpose = action.scheme, action.host, action.port, purpose
            purposes[action.conn] = purpose
        elif isinstance(action, A.Write):
            st.op, st.conn, st.purpose = "write", action.conn, purposes.get(action.conn, "request")
            if st.purpose == "ws" and action.conn in wrote:
                st.frames = parse_frames(action.data)[0]
            else:
                st.data = action.data
                redactor.learn_from_request(action.data)
            wrote.add(action.conn)
        elif isinstance(action, A.Read):
            st.op, st.conn = "read", action.conn
        elif isinstance(action, A.Sleep):
            st.op, st.until = "sleep", round(action.until - start.mono, 6)
        else:  # pragma: no cover - only actions that need a reply are recorded
            continue
        _set_result(st, event)
        steps.append(st)
    # Per connection, the received bytes as one stream: learn from it, mask it, and
    # cut it again at the same places (masks keep lengths, so framing stays valid).
    streams: dict[int, list[Step]] = {}
    for st in steps:
        if st.op == "read" and st.result == "data" and st.conn is not None:
            streams.setdefault(st.conn, []).append(st)
    for chunks in streams.values():
        redactor.learn_from_response(b"".join(c.data for c in chunks))
    for chunks in streams.values():
        whole = redactor.scrub(b"".join(c.data for c in chunks))
        pos = 0
        for c in chunks:
            c.data, pos = whole[pos:pos + len(c.data)], pos + len(c.data)
    # Server frames after a WebSocket handshake are stored as messages when they
    # re-encode to the very same bytes (readable; replay re-encodes them).
    for conn, chunks in streams.items():
        if purposes.get(conn) != "ws":
            continue
        whole = b"".join(c.data for c in chunks)
        head_end = whole.find(b"\r\n\r\n") + 4
        pos = 0
        for c in chunks:
            if head_end >= 4 and pos >= head_end:
                c.frames = as_server_frames(c.data)
            pos += len(c.data)
    for st in steps:
        if st.op == "write":
            if st.frames is not None:
                st.frames = [(op, fin, redactor.scrub(p)) for op, fin, p in st.frames]
            else:
                st.data = redactor.scrub(st.data)
        st.detail = redactor.scrub_text(st.detail) if st.detail else ""
    return Episode(start, seed, steps, target=redactor.scrub_text(target), outcome=_scrub_doc(outcome, redactor))


def _set_result(st: Step, event: E.Event) -> None:
    if isinstance(event, E.TimedOut):
        st.result = "timeout"
    elif isinstance(event, E.Opened):
        st.result = ("reused-readable" if event.readable else "reused") if event.reused else "opened"
    elif isinstance(event, (E.OpenFailed, E.WriteFailed, E.ReadFailed)):
        st.result, st.kind, st.detail = "failed", event.kind.value, event.detail
    elif isinstance(event, E.Written):
        st.result = "written"
    elif isinstance(event, E.Received):
        st.result, st.data = ("data", event.data) if event.data else ("eof", b"")
    elif isinstance(event, E.Woke):
        st.result = "woke"


def _scrub_doc(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_doc(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_doc(v, redactor) for v in value]
    return value


# -- the file ---------------------------------------------------------------------------


def step_doc(st: Step) -> dict[str, Any]:
    doc: dict[str, Any] = {"op": st.op, "t": st.t}
    if st.conn is not None:
        doc["conn"] = st.conn
    if st.op == "open":
        doc.update(scheme=st.scheme, host=st.host, port=st.port)
        if st.purpose != "request":
            doc["purpose"] = st.purpose
    elif st.op == "sleep":
        doc["until"] = st.until
    if st.result not in ("written", "data", "woke"):
        doc["result"] = st.result
    if st.kind:
        doc["kind"] = st.kind
    if st.detail:
        doc["detail"] = st.detail
    if st.frames is not None:
        doc["frames"] = [frame_doc(*f) for f in st.frames]
    elif st.op == "write" or (st.op == "read" and st.result == "data"):
        doc.update(encode_bytes(st.data))
    return doc


def step_from_doc(doc: dict[str, Any]) -> Step:
    op = str(doc["op"])
    default = {"write": "written", "read": "data", "sleep": "woke", "open": "opened", "load": "loaded"}[op]
    st = Step(op=op, t=float(doc["t"]), conn=doc.get("conn"), result=str(doc.get("result", default)),
              kind=str(doc.get("kind", "")), detail=str(doc.get("detail", "")),
              scheme=str(doc.get("scheme", "")), host=str(doc.get("host", "")), port=int(doc.get("port", 0)),
              purpose=str(doc.get("purpose", "request")), until=float(doc.get("until", 0.0)),
              key=str(doc.get("key", "")), path=str(doc.get("path", "")))
    if "frames" in doc:
        st.frames = [frame_from_doc(f) for f in doc["frames"]]
        if op == "read":
            st.data = b"".join(encode_frame(*f) for f in st.frames)
    else:
        st.data = decode_bytes(doc)
    return st


def episode_doc(ep: Episode) -> dict[str, Any]:
    doc: dict[str, Any] = {"target": ep.target}
    req = ep.request
    if req is not None:
        doc["request"] = f"{req.method} {req.url}"
    doc["seed"] = ep.seed
    doc["start"] = {"mono": ep.start.mono, "wall": ep.start.wall}
    doc["steps"] = [step_doc(s) for s in ep.steps]
    if ep.outcome:
        doc["outcome"] = ep.outcome
    return doc


def episode_from_doc(doc: dict[str, Any]) -> Episode:
    start = doc["start"]
    return Episode(Instant(float(start["mono"]), float(start["wall"])), int(doc["seed"]),
                   [step_from_doc(s) for s in doc.get("steps") or []], target=str(doc.get("target", "")),
                   outcome=dict(doc.get("outcome") or {}))


def load_file(path: Path) -> list[Episode]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc.strerror or exc}") from None
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise CassetteError(f"cassette {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "version" not in doc:
        raise CassetteError(f"{path} is not a promptwire cassette (no version field)")
    if doc["version"] != FORMAT_VERSION:
        raise CassetteError(f"cassette {path} has format version {doc['version']!r}; "
                            f"this promptwire reads version {FORMAT_VERSION}")
    try:
        return [episode_from_doc(e) for e in doc.get("episodes") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise CassetteError(f"cassette {path} is malformed: {exc!r}") from None


def dump_text(episodes: list[Episode]) -> str:
    doc = {"version": FORMAT_VERSION, "recorded_with": f"promptwire {__version__}",
           "episodes": [episode_doc(e) for e in episodes]}
    header = "# promptwire cassette (docs/replay.md). Secrets are redacted on write.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 20,
                              default_flow_style=False)


def save_file(path: Path, episodes: list[Episode]) -> None:
    """Write atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_text(episodes))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
