"""A server's JSON escapes a lone surrogate and a NUL (``"x\\ud83d\\u0000y"``): every path keeps working.

Before: the quickjs extension crashed the process (SIGSEGV) when such a string
crossed into JavaScript, a result holding one failed to come back, and the CLI
and eval writers failed on it. Now the value arrives intact, the CLI prints
it as JSON escapes, and the eval writes every row.
"""

from __future__ import annotations

import asyncio
import csv
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trio
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

WEIRD = "x\ud83d\x00y"
BODY = '{"reply": "x\\ud83d\\u0000y"}'  # what the server writes: ASCII JSON with escapes


class FixedWsServer:
    """Answers every text message with ``BODY``."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._sock.getsockname()[1]}/chat"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        conn.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        conn.sendall(ws.send(TextMessage(data=BODY)))
                    elif isinstance(event, CloseConnection):
                        conn.sendall(ws.send(event.response()))
                        return

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(scope="module")
def ws_server() -> Iterator[FixedWsServer]:
    server = FixedWsServer()
    yield server
    server.close()


def http_entry(mock: MockServer, **config: Any) -> dict[str, Any]:
    return {"id": f"{mock.base_url}/text?text={quote(BODY)}", "config": {"method": "GET", **config}}


def ws_entry(server: FixedWsServer, **config: Any) -> dict[str, Any]:
    return {"id": server.url, "config": {"messageTemplate": "{{ prompt }}", "timeoutMs": 5000, **config}}


def call(binding: str, entry: dict[str, Any]) -> Any:
    if binding == "sync":
        with Target.from_config(entry) as target:
            return target.call("hi").output

    async def main() -> Any:
        target = AsyncTarget.from_config(entry)
        try:
            return (await target.call("hi")).output
        finally:
            await target.aclose()

    return trio.run(main) if binding == "trio" else asyncio.run(main())


STREAM = ("(acc, event) => { const d = JSON.parse(event.data); "
          "return [{output: (acc.output || '') + d.reply}, true]; }")


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
@pytest.mark.parametrize("case", ["http-js", "http-default", "ws-js", "ws-default", "ws-stream", "ws-python"])
def test_the_value_arrives_intact(binding: str, case: str, mock: MockServer, ws_server: FixedWsServer) -> None:
    entries = {
        "http-js": http_entry(mock, transformResponse="json.reply"),
        "http-default": http_entry(mock),
        "ws-js": ws_entry(ws_server, transformResponse="data.reply"),
        "ws-default": ws_entry(ws_server),
        "ws-stream": ws_entry(ws_server, streamResponse=STREAM),
        "ws-python": ws_entry(ws_server, transformResponse=lambda data, ctx: data["reply"]),
    }
    out = call(binding, entries[case])
    assert out == WEIRD or out == {"reply": WEIRD}, repr(out)


def test_the_cli_prints_json_escapes(tmp_path: Path, mock: MockServer) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"providers": [http_entry(mock, transformResponse="json.reply")]}))
    done = subprocess.run([sys.executable, "-m", "promptwire", "call", "--config", str(config), "--prompt", "hi",
                           "--json"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"\\ud83d" in done.stdout
    assert json.loads(done.stdout)["output"] == WEIRD
    plain = subprocess.run([sys.executable, "-m", "promptwire", "call", "--config", str(config), "--prompt", "hi"],
                           capture_output=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert b"\\ud83d" in plain.stdout  # shown as its escape, not a crash


def test_eval_writes_every_row(tmp_path: Path, mock: MockServer) -> None:
    config = tmp_path / "promptfooconfig.json"
    config.write_text(json.dumps({
        "prompts": ["{{q}}"],
        "providers": [http_entry(mock, transformResponse="json.reply")],
        "tests": [{"vars": {"q": "a"}, "assert": [{"type": "contains", "value": "x"}]},
                  {"vars": {"q": "b"}, "assert": [{"type": "contains", "value": "y"}]}],
    }))
    outs = [tmp_path / f"out.{ext}" for ext in ("jsonl", "json", "csv", "html")]
    args = [sys.executable, "-m", "promptwire", "eval", "-c", str(config)]
    for out in outs:
        args += ["-o", str(out)]
    done = subprocess.run(args, capture_output=True, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    rows = [json.loads(line) for line in outs[0].read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 and all(r["response"]["output"] == WEIRD for r in rows)
    with open(outs[2], encoding="utf-8") as f:
        assert len(list(csv.reader(f))) == 3
    assert "\\ud83d" in outs[3].read_text(encoding="utf-8")
