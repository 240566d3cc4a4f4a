"""``promptwire cassette show``: each recorded exchange, readably, with its timing."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from ._model import Episode, Step, load_file
from ._wire import OPCODES, as_text, origin_of, parse_frames

MAX_LINES = 24
MAX_WIDTH = 200


def show(path: str | Path, *, max_lines: int = MAX_LINES) -> str:
    episodes = load_file(Path(path))
    out = [f"cassette {path}: {len(episodes)} exchange{'s' if len(episodes) != 1 else ''}"]
    for n, ep in enumerate(episodes, 1):
        out.append("")
        out += _episode(n, ep, max_lines)
    return "\n".join(out) + "\n"


def _episode(n: int, ep: Episode, max_lines: int) -> list[str]:
    when = _dt.datetime.fromtimestamp(ep.start.wall, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    lines = [f"#{n} {ep.target}  (seed {ep.seed}, started {when} UTC)"]
    ws_conns: set[int] = set()
    origins: dict[int, str] = {}
    for st in ep.steps:
        at = f"  {f'+{st.t:.3f}s':>9}  "
        pad = " " * len(at) + "  "
        if st.op == "open":
            origins[st.conn or 0] = origin_of(st.scheme, st.host, st.port)
            if st.purpose == "ws":
                ws_conns.add(st.conn or 0)
            lines.append(f"{at}open {origins[st.conn or 0]} (conn {st.conn}){_result(st, 'opened')}")
        elif st.op == "write":
            if st.frames is not None:
                for op, _, payload in st.frames:
                    lines.append(f"{at}→ {OPCODES.get(op, op)} {_short(as_text(payload))}".rstrip())
            else:
                lines.append(f"{at}→ {len(st.data)} bytes on conn {st.conn}{_result(st, 'written')}")
                lines += _block(st.data, pad, max_lines)
        elif st.op == "read":
            if st.result != "data":
                lines.append(f"{at}← {st.result} on conn {st.conn}" + (f": {st.detail}" if st.detail else ""))
            elif st.frames is not None:
                for op, _, payload in st.frames:
                    lines.append(f"{at}← {OPCODES.get(op, op)} {_short(as_text(payload))}")
            else:
                lines.append(f"{at}← {len(st.data)} bytes on conn {st.conn}")
                frames, rest = parse_frames(st.data) if st.conn in ws_conns and not st.data.startswith(
                    b"HTTP/") else ([], st.data)
                for op, _, payload in frames:
                    lines.append(f"{pad}{OPCODES.get(op, op)} {_short(as_text(payload))}")
                if rest:
                    lines += _block(rest, pad, max_lines)
        elif st.op == "sleep":
            lines.append(f"{at}slept until +{st.until:.3f}s (a replay does not wait)")
    for key, value in ep.outcome.items():
        lines.append(f"  {key}: {_short(str(value))}")
    return lines


def _result(st: Step, ok: str) -> str:
    if st.result == ok:
        return ""
    return f"  [{st.result}{': ' + st.detail if st.detail else ''}]"


def _short(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_WIDTH else text[:MAX_WIDTH] + "…"


def _block(data: bytes, pad: str, max_lines: int) -> list[str]:
    rows = as_text(data).replace("\r\n", "\n").split("\n")
    while rows and rows[-1] == "":
        rows.pop()
    out = [pad + (r if len(r) <= MAX_WIDTH else r[:MAX_WIDTH] + "…") for r in rows[:max_lines]]
    if len(rows) > max_lines:
        out.append(f"{pad}… {len(rows) - max_lines} more lines")
    return out
